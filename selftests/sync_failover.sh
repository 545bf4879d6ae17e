#!/usr/bin/env bash
# Director failover without losing a connection: the classic pair of directors run by unmodified
# keepalived, VRRP (the VIP on the client side, the real servers' default gateway on theirs) with
# lvs_sync_daemon on a sync link, a NAT service (persistent) and a direct-routing one. Long-lived
# connections through the first director, one per service, and the persistent client's template
# are synced to the second; when the first's keepalived stops, the second takes both addresses
# over, its sync daemon turns master, and the held connections go on with the same real servers,
# their byte streams intact (no RST, no error), as does a new connection of the persistent
# client. Then failback: the first director's keepalived starts again, a VRRP backup for
# preempt_delay, its sync daemon a backup that learns a connection opened through the second
# meanwhile; it takes the addresses back, gets its real servers back with their connections (the
# dest trash), and every held connection goes on. Prints the time from the stop to the first
# answer through the new master, and from the failback to the first answer. With MODULE=ipvs
# both directors run ip_vs.
#
# What IPVS cannot do: a connection that passes no packet while the restarted director is a
# backup is not synced to it (IPVS syncs as packets pass); with ip_vs the test closes the one it
# has before the failback. rvs only: the masters re-announce their tables every 2 s
# (sync_reannounce_period), the idle connection reaches the restarted director and survives the
# failback too.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"
. "$(dirname "$0")/lib/peer.sh"

FAILOVER_PEER=
. "$(dirname "$0")/lib/failover.sh"
