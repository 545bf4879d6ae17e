#!/usr/bin/env bash
# Malformed and out-of-range netlink requests, which ipvsadm never sends, get IPVS's errnos (the
# same against rvs and ip_vs), never a crash, and change nothing.
. "$(dirname "$0")/lib/lib.sh"

ip link add rvs-d1 type dummy && ip addr add 192.168.2.1/24 dev rvs-d1 && ip link set rvs-d1 up || fail "dummy"
on_exit "ip link del rvs-d1; ipvsadm -C"

V4='0a000001000000000000000000000000'         # 10.0.0.1
RS='c0a80202000000000000000000000000'         # 192.168.2.2
FLAGS='0000000000000000'                      # flags 0, mask 0
SVC="1:u16:2;2:u16:6;3:hex:$V4;4:be16:80"      # TCP 10.0.0.1:80 identity
FULL="$SVC;6:str:rr;7:hex:$FLAGS;8:u32:0;9:u32:4294967295"
DEST="1:hex:$RS;2:be16:80;3:u32:0;4:u32:1;5:u32:0;6:u32:0"

# One genl.py answers every check in turn (a process costs seconds on the debug kernel).
coproc GENL_BATCH { python3 "$GENL" batch; }
on_exit "kill $GENL_BATCH_PID 2>/dev/null"
check() { # EXPECTED WHAT -- request args
	local expected=$1 what=$2 got
	shift 3
	printf '%q ' "$@" >&"${GENL_BATCH[1]}"
	echo >&"${GENL_BATCH[1]}"
	read -r -t 60 got <&"${GENL_BATCH[0]}" || fail "genl.py batch did not answer: $what"
	assert_eq "errno=$expected" "$got" "$what"
}

check EINVAL "NEW_SERVICE without a service nest" -- NEW_SERVICE
check EINVAL "service nest without AF" -- NEW_SERVICE --attr "1:nest:{2:u16:6;3:hex:$V4;4:be16:80}"
check EINVAL "service nest without port" -- NEW_SERVICE --attr "1:nest:{1:u16:2;2:u16:6;3:hex:$V4}"
check EAFNOSUPPORT "unknown address family 99" -- NEW_SERVICE --attr "1:nest:{1:u16:99;2:u16:6;3:hex:$V4;4:be16:80}"
check EINVAL "identity only, no scheduler/flags/timeout/netmask" -- NEW_SERVICE --attr "1:nest:{$SVC}"
check EINVAL "address longer than 16 bytes" -- NEW_SERVICE --attr "1:nest:{1:u16:2;2:u16:6;3:hex:${V4}00;4:be16:80;6:str:rr;7:hex:$FLAGS;8:u32:0;9:u32:0}"
check EINVAL "1-byte AF" -- NEW_SERVICE --attr "1:nest:{1:u8:2;2:u16:6;3:hex:$V4;4:be16:80}"
check EINVAL "scheduler name of 16 characters" -- NEW_SERVICE --attr "1:nest:{$SVC;6:str:abcdefghijklmnop;7:hex:$FLAGS;8:u32:0;9:u32:0}"
check EINVAL "scheduler name without NUL" -- NEW_SERVICE --attr "1:nest:{$SVC;6:hex:7272;7:hex:$FLAGS;8:u32:0;9:u32:0}"
check EINVAL "9-byte flags" -- NEW_SERVICE --attr "1:nest:{$SVC;6:str:rr;7:hex:${FLAGS}00;8:u32:0;9:u32:0}"
check ENOENT "unknown scheduler" -- NEW_SERVICE --attr "1:nest:{$SVC;6:str:nosuch;7:hex:$FLAGS;8:u32:0;9:u32:0}"
check EINVAL "IPv6 service with prefix length 0" -- NEW_SERVICE \
	--attr "1:nest:{1:u16:10;2:u16:6;3:hex:20010db8000000000000000000000010;4:be16:80;6:str:rr;7:hex:$FLAGS;8:u32:0;9:u32:0}"
check EINVAL "a service nest that is not a nest (truncated attribute)" -- NEW_SERVICE --attr "1:hex:0800010002"
check ESRCH "SET_SERVICE of a missing service" -- SET_SERVICE --attr "1:nest:{$FULL}"
check EINVAL "SET_SERVICE of a missing service, identity only" -- SET_SERVICE --attr "1:nest:{$SVC}"
assert_eq "" "$(ipvsadm -Sn)" "no refused request created a service"

check 0 "a valid NEW_SERVICE" -- NEW_SERVICE --attr "1:nest:{$FULL}"
check EEXIST "the same service again" -- NEW_SERVICE --attr "1:nest:{$FULL}"
check EINVAL "NEW_DEST without a dest nest" -- NEW_DEST --attr "1:nest:{$SVC}"
check EINVAL "dest nest without port" -- NEW_DEST --attr "1:nest:{$SVC}" --attr "2:nest:{1:hex:$RS}"
check EINVAL "dest nest without weight" -- NEW_DEST --attr "1:nest:{$SVC}" --attr "2:nest:{1:hex:$RS;2:be16:80;3:u32:0;5:u32:0;6:u32:0}"
check ERANGE "weight -1" -- NEW_DEST --attr "1:nest:{$SVC}" --attr "2:nest:{1:hex:$RS;2:be16:80;3:u32:0;4:u32:4294967295;5:u32:0;6:u32:0}"
check ERANGE "lower threshold above upper" -- NEW_DEST --attr "1:nest:{$SVC}" --attr "2:nest:{1:hex:$RS;2:be16:80;3:u32:0;4:u32:1;5:u32:5;6:u32:6}"
check EINVAL "upper threshold above INT_MAX" -- NEW_DEST --attr "1:nest:{$SVC}" --attr "2:nest:{1:hex:$RS;2:be16:80;3:u32:0;4:u32:1;5:u32:2147483648;6:u32:0}"
check EINVAL "GUE tunnel without port" -- NEW_DEST --attr "1:nest:{$SVC}" --attr "2:nest:{1:hex:$RS;2:be16:80;3:u32:2;4:u32:1;5:u32:0;6:u32:0;13:u8:1}"
check EINVAL "IPv6 real server behind an IPv4 service with NAT" -- NEW_DEST --attr "1:nest:{$SVC}" \
	--attr "2:nest:{11:u16:10;1:hex:20010db8000000000000000000000002;2:be16:80;3:u32:0;4:u32:1;5:u32:0;6:u32:0}"
check EAFNOSUPPORT "dest address family 99" -- NEW_DEST --attr "1:nest:{$SVC}" --attr "2:nest:{11:u16:99;$DEST}"
check EINVAL "multicast real server" -- NEW_DEST --attr "1:nest:{$SVC}" --attr "2:nest:{1:hex:e0000001000000000000000000000000;2:be16:80;3:u32:0;4:u32:1;5:u32:0;6:u32:0}"
check ESRCH "NEW_DEST to a missing service" -- NEW_DEST --attr "1:nest:{1:u16:2;2:u16:6;3:hex:$V4;4:be16:81}" --attr "2:nest:{$DEST}"
check 0 "a valid NEW_DEST" -- NEW_DEST --attr "1:nest:{$SVC}" --attr "2:nest:{$DEST}"
check EEXIST "the same dest again" -- NEW_DEST --attr "1:nest:{$SVC}" --attr "2:nest:{$DEST}"
check 0 "an IPv6 real server behind an IPv4 service through a tunnel" -- NEW_DEST --attr "1:nest:{$SVC}" \
	--attr "2:nest:{11:u16:10;1:hex:20010db8000000000000000000000002;2:be16:80;3:u32:2;4:u32:1;5:u32:0;6:u32:0}"
check ENOENT "SET_DEST of a missing dest" -- SET_DEST --attr "1:nest:{$SVC}" --attr "2:nest:{1:hex:c0a80203000000000000000000000000;2:be16:80;3:u32:0;4:u32:1;5:u32:0;6:u32:0}"
check ENOENT "DEL_DEST of a missing dest" -- DEL_DEST --attr "1:nest:{$SVC}" --attr "2:nest:{1:hex:c0a80203000000000000000000000000;2:be16:80}"
check EINVAL "NEW_DAEMON without a daemon nest" -- NEW_DAEMON
check EINVAL "NEW_DAEMON without a sync id" -- NEW_DAEMON --attr "3:nest:{1:u32:1;2:str:lo}"
check ESRCH "DEL_DAEMON with no daemon running" -- DEL_DAEMON --attr "3:nest:{1:u32:1}"
check 0 "GET_DAEMON dump, empty" -- GET_DAEMON --dump

# The sync protocol cannot carry connections to a real server of another address family: no
# daemon starts while one exists, none is added or changed while a daemon runs (EINVAL before
# the missing dest's ENOENT).
V6RS="11:u16:10;1:hex:20010db8000000000000000000000002;2:be16:80"
MASTER="1:u32:1;2:str:rvs-d1;3:u32:1"
check EINVAL "NEW_DAEMON with an IPv6 real server behind an IPv4 service" -- NEW_DAEMON --attr "3:nest:{$MASTER}"
check 0 "DEL_DEST of that real server" -- DEL_DEST --attr "1:nest:{$SVC}" --attr "2:nest:{$V6RS}"
check 0 "NEW_DAEMON without it" -- NEW_DAEMON --attr "3:nest:{$MASTER}"
check EINVAL "an IPv6 real server behind an IPv4 service while a daemon runs" -- NEW_DEST \
	--attr "1:nest:{$SVC}" --attr "2:nest:{$V6RS;3:u32:2;4:u32:1;5:u32:0;6:u32:0}"
check EINVAL "SET_DEST of a missing IPv6 real server while a daemon runs" -- SET_DEST \
	--attr "1:nest:{$SVC}" --attr "2:nest:{$V6RS;3:u32:2;4:u32:1;5:u32:0;6:u32:0}"
check 0 "DEL_DAEMON" -- DEL_DAEMON --attr "3:nest:{1:u32:1}"
check 0 "the IPv6 real server again, no daemon running" -- NEW_DEST \
	--attr "1:nest:{$SVC}" --attr "2:nest:{$V6RS;3:u32:2;4:u32:1;5:u32:0;6:u32:0}"

# The IPv4 address is the first 4 bytes of the 16: trailing garbage names the same dest.
check EEXIST "dest address with garbage after the IPv4 bytes" -- NEW_DEST --attr "1:nest:{$SVC}" \
	--attr "2:nest:{1:hex:c0a80202ffffffffffffffffffffffff;2:be16:80;3:u32:0;4:u32:1;5:u32:0;6:u32:0}"

listing=$(ipvsadm -Sn)
assert_eq $'-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 192.168.2.2:80 -m -w 1\n-a -t 10.0.0.1:80 -r [2001:db8::2]:80 -i -w 1 --tun-type ipip' \
	"$listing" "only the valid requests changed the table"

nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
assert_eq "errno=EPERM" "$(nobody python3 "$GENL" request DEL_SERVICE --attr "1:nest:{$SVC}" | head -n 1)" "DEL_SERVICE as nobody: EPERM"
assert_eq "errno=EPERM" "$(nobody python3 "$GENL" request FLUSH | head -n 1)" "FLUSH as nobody: EPERM"
assert_eq "$listing" "$(ipvsadm -Sn)" "refused mutations changed nothing"
