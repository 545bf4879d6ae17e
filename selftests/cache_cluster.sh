#!/usr/bin/env bash
# A transparent cache cluster, what lblc and lblcr are for: nftables marks the client's web
# traffic to origin addresses, a policy rule delivers marked packets to the director, and a
# firewall-mark service spreads them over the caches rs1 and rs2 (NAT) by origin address.
#   lblc   keeps each origin on its cache (where wlc would alternate);
#   lblcr  replicates an origin whose cache is overloaded on a second cache, then drops the most
#          loaded replica once the set is older than lblcr_expiration;
#   bypass with no cache available, cache_bypass=1 sends the traffic on to the origin itself
#          (rs3) on a connection without real server; cache_bypass=0 refuses it.
# The exact choices were recorded against ip_vs.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

topo_nat 3
rs_serve --http 80 --line 7000
in_cl ip route add default via 10.0.1.1 || fail "client default route"
in_lb nft -f - <<EOF || fail "nft mark rules"
table ip rvs_cache {
	chain pre {
		type filter hook prerouting priority mangle;
		iifname "cl0" ip daddr 198.51.100.0/24 tcp dport { 80, 7000 } meta mark set 1
		iifname "cl0" ip daddr 198.51.101.0/24 tcp dport { 80, 7000 } meta mark set 2
		iifname "cl0" ip daddr $(rs_ip 3) tcp dport 80 meta mark set 3
	}
}
EOF
for mark in 1 2 3; do in_lb ip rule add fwmark "$mark" lookup 100 || fail "ip rule $mark"; done
in_lb ip route add local 0.0.0.0/0 dev lo table 100 || fail "local route table"

# caches MARK SCHED: a firewall-mark service over rs1 and rs2 (weight 1, NAT, no port: the
# packet's port is kept).
caches() {
	adm -A -f "$1" -s "$2" || fail "add fwmark service $1 -s $2"
	for i in 1 2; do adm -a -f "$1" -r "$(rs_ip "$i")" -m -w 1 || fail "add cache rs$i"; done
}
# get ORIGIN...: one HTTP request to each origin address; the answering servers on one line.
get() {
	local o
	for o; do in_cl curl -sS -m 10 -H 'Connection: close' "http://$o/"; done | tr '\n' ' '
}
check() {
	local what=$1 expected=$2 actual
	shift 2
	actual=$("$@")
	if [ "$expected" = record ]; then log "$what: $actual"; return; fi
	assert_eq "$expected" "$actual" "$what"
}

# lblc: round 1 is wlc's choice (ties go to rs2, the last added), round 2 in reverse order
# finds every origin on its cache (wlc would answer rs2 rs1 rs2 rs1).
caches 1 lblc
check "lblc: 4 origins are spread by load" "rs2 rs1 rs2 rs1 " get 198.51.100.{1,2,3,4}
check "lblc: each origin stays on its cache" "rs1 rs2 rs1 rs2 " get 198.51.100.{4,3,2,1}

# lblcr: 198.51.101.1 is on rs2; two held connections overload rs2 (2 active > weight 1 while rs1
# has none), so the third goes to rs1, which joins the set.
caches 2 lblcr
assert_eq "86400 86400" "$(in_lb cat /proc/sys/net/ipv4/vs/lblc_expiration /proc/sys/net/ipv4/vs/lblcr_expiration | tr '\n' ' ' | sed 's/ $//')" \
	"lblc_expiration and lblcr_expiration default to one day (in seconds)"
check "lblcr: 4 origins are spread by load" "rs2 rs1 rs2 rs1 " get 198.51.101.{1,2,3,4}
VIP=198.51.101.1 hold_start 7000
check "lblcr: 4 held connections to one origin" "open 0 rs2|open 1 rs2|open 2 rs1|open 3 rs1|" \
	eval 'for i in 1 2 3 4; do hold_cmd open; done | tr "\n" "|"'
for i in 0 1 2 3; do hold_cmd "close $i" >/dev/null; done
check "lblcr: the origin is replicated on rs1 and rs2 (least loaded first)" "rs1 rs2 rs1 rs2 " \
	get 198.51.101.1 198.51.101.1 198.51.101.1 198.51.101.1
in_lb sysctl -qw net.ipv4.vs.lblcr_expiration=1 || fail "lblcr_expiration=1"
nap 2
# The first request still goes to rs1, the least loaded, which is then dropped as the most
# loaded (a tie: the newest member wins both).
check "lblcr: after lblcr_expiration the set keeps one cache" "rs1 rs2 rs2 rs2 " \
	get 198.51.101.1 198.51.101.1 198.51.101.1 198.51.101.1

# Bypass: a quiesced cache only.
adm -A -f 3 -s lblc || fail "add fwmark service 3"
adm -a -f 3 -r "$(rs_ip 1)" -m -w 0 || fail "add a quiesced cache"
# The packet is dropped; IPVS's port unreachable does not get out: its source would be the
# origin's address, which is not the director's.
out=$(in_cl curl -sS -m 3 "http://$(rs_ip 3)/" 2>&1)
assert_match '^curl: \(28\) Connection timed out' "$out" \
	"cache_bypass=0: no cache available, the request is dropped"
in_lb sysctl -qw net.ipv4.vs.cache_bypass=1 || fail "cache_bypass=1"
assert_eq "rs3 rs3 " "$(get "$(rs_ip 3)" "$(rs_ip 3)")" \
	"cache_bypass=1: the requests go on to the origin"
assert_match '^TCP [A-Z_]+ 10\.0\.1\.2:[0-9]+ 10\.0\.2\.13:80 0\.0\.0\.0:0$' \
	"$(conn_entries | grep ' 10.0.2.13:80 ' | head -1)" "ipvsadm -Lnc: a bypass connection has no real server"
assert_eq "0 0" "$(adm -Ln --stats --exact -f 3 | awk '$1 == "FWM" { print $3, $4 }')" \
	"bypass connections and packets are not counted by the service"
