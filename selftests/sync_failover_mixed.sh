#!/usr/bin/env bash
# The failover of sync_failover.sh between two machines, one of them running in-tree ip_vs: the
# first director runs the module under test in this VM, the second in-tree ip_vs in a peer VM
# (the release kernel) on a link to this one, whose VLANs carry the client segment, the real
# servers' segment and the sync link. The first director's sync master feeds ip_vs's backup,
# the connections survive the failover to ip_vs; then ip_vs's master feeds the restarted first
# director's backup, and they survive the failback: IPVS's sync protocol (version 1) in both
# directions, through unmodified keepalived. With MODULE=ipvs both directors run ip_vs, the
# expectations proven on two machines.
# peer: ipvs
#
# The peer VM does not re-announce (ip_vs cannot): the connection that stays idle while the first
# director is a backup is closed before the failback, as with ip_vs in sync_failover.sh.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"
. "$(dirname "$0")/lib/peer.sh"

FAILOVER_PEER=1
. "$(dirname "$0")/lib/failover.sh"
