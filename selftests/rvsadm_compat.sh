#!/usr/bin/env bash
# rvsadm is a drop-in ipvsadm: for the same table both print the same text in every listing
# format; rules saved with -S restore with -R to the same table; the same command lines build the
# same table; --json is valid JSON with the same content; bad input gets ipvsadm's messages.
. "$(dirname "$0")/lib/lib.sh"

ip link add rvs-d2 type dummy && ip addr add 192.168.3.1/24 dev rvs-d2 && ip link set rvs-d2 up || fail "dummy"
on_exit "ip link del rvs-d2; ipvsadm -C"

rules='-A -t 10.0.0.1:80 -s rr
-a -t 10.0.0.1:80 -r 192.168.3.2:8080 -m -w 3
-a -t 10.0.0.1:80 -r 192.168.3.3:80 -g -w 0
-a -t 10.0.0.1:80 -r 192.168.3.4:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum
-a -t 10.0.0.1:80 -r 192.168.3.6:81 -m -w 1
-A -t 10.0.0.1:443 -s wrr -p 300 -M 255.255.255.0
-a -t 10.0.0.1:443 -r 192.168.3.2:443 -g -w 65535
-A -t 10.0.0.3:0 -s lc -p 60
-A -u 10.0.0.1:53 -s wlc -o
-A --sctp-service 10.0.0.4:3868 -s rr
-A -t [2001:db8::10]:80 -s wlc
-A -f 5 -s rr -b flag-1,flag-2
-a -f 5 -r 192.168.3.8:8000 -m -w 2
-A -f 6 -6 -s rr -p 30 -M 64'

# The same command lines through each tool build the same table.
while read -r line; do
	# shellcheck disable=SC2086
	ipvsadm $line || fail "ipvsadm $line"
done <<<"$rules"
assert_eq "$rules" "$(ipvsadm -S -n)" "ipvsadm -S -n prints back the rules ipvsadm was given"
by_ipvsadm=$(ipvsadm -S -n)
"$RVSADM" -C || fail "rvsadm -C"
assert_eq "" "$("$RVSADM" -S -n)" "rvsadm -C empties the table"
while read -r line; do
	# shellcheck disable=SC2086
	"$RVSADM" $line || fail "rvsadm $line"
done <<<"$rules"
assert_eq "$by_ipvsadm" "$(ipvsadm -S -n)" "rvsadm, given the same command lines, builds the same table"

for format in "-Ln" "-L" "-Ln --stats" "-Ln --rate" "-Ln --thresholds" "-Ln --persistent-conn" \
	"-Ln --exact --stats" "-Ln --tun-info" "-S -n" "-S" "-Ln -t 10.0.0.1:80" "-Ln -f 5" "-L --timeout" \
	"-L --daemon" "-Lnc"; do
	# shellcheck disable=SC2086
	assert_eq "$(ipvsadm $format 2>&1)" "$("$RVSADM" $format 2>&1)" "rvsadm $format prints what ipvsadm prints"
done

saved=$("$RVSADM" -S -n)
"$RVSADM" -C
printf '%s\n' "$saved" | "$RVSADM" -R || fail "rvsadm -R"
assert_eq "$saved" "$("$RVSADM" -S -n)" "rvsadm -S | rvsadm -R round-trips"
ipvsadm -C
printf '%s\n' "$saved" | ipvsadm -R || fail "ipvsadm -R of rvsadm -S"
assert_eq "$saved" "$(ipvsadm -S -n)" "ipvsadm -R reads rvsadm -S"

json=$("$RVSADM" -L --json) || fail "rvsadm -L --json"
summary=$(python3 -c '
import json, sys
t = json.load(sys.stdin)
print(t["version"], t["conn_tab_size"], len(t["services"]), sum(len(s["dests"]) for s in t["services"]))
s = [x for x in t["services"] if x.get("port") == 80 and x.get("protocol") == "tcp" and x["address"] == "10.0.0.1"][0]
print(s["scheduler"], [(d["address"], d["port"], d["forward"], d["weight"]) for d in s["dests"]])
' <<<"$json") || fail "rvsadm --json is not valid JSON: $json"
assert_eq $'1.2.1 4096 8 6\nrr [(\'192.168.3.2\', 8080, \'masq\', 3), (\'192.168.3.3\', 80, \'route\', 0), (\'192.168.3.4\', 80, \'tunnel\', 1), (\'192.168.3.6\', 81, \'masq\', 1)]' \
	"$summary" "rvsadm --json has every service and dest"

# Kernel refusals: same errno as ipvsadm's, with ipvsadm's words, and exit code 1.
expect_exit 1 'Service already exists \(EEXIST\)' "add an existing service" -- "$RVSADM" -A -t 10.0.0.1:80 -s rr
expect_exit 1 'Scheduler or persistence engine not found \(ENOENT\)' "unknown scheduler" -- "$RVSADM" -A -t 10.0.0.9:80 -s nosuch
expect_exit 1 'No such service \(ESRCH\)' "delete a missing service" -- "$RVSADM" -D -t 10.0.0.9:80
expect_exit 1 'Service not defined \(ESRCH\)' "add a dest to a missing service" -- "$RVSADM" -a -t 10.0.0.9:80 -r 192.168.3.2
expect_exit 1 'Destination already exists \(EEXIST\)' "add an existing dest" -- "$RVSADM" -a -t 10.0.0.1:80 -r 192.168.3.2:8080 -m
expect_exit 1 'No such destination \(ENOENT\)' "edit a missing dest" -- "$RVSADM" -e -t 10.0.0.1:80 -r 192.168.3.99
expect_exit 1 'address not unicast.*\(EINVAL\)' "multicast real server" -- "$RVSADM" -a -t 10.0.0.1:80 -r 224.0.0.1 -m
# Input errors, found before any kernel call: exit code 2, ipvsadm's words.
expect_exit 2 'Zero port specified for non-persistent service' "port 0 without -p" -- "$RVSADM" -A -t 10.0.0.9:0 -s rr
expect_exit 2 'illegal virtual server address\[:port\] specified' "bad address" -- "$RVSADM" -A -t 10.0.0.300:80
expect_exit 2 "You need to supply the 'real-server' option for the 'add-server' command" "missing -r" -- "$RVSADM" -a -t 10.0.0.1:80
expect_exit 2 "Illegal 'weight' option with the 'add-service' command" "option of another command" -- "$RVSADM" -A -t 10.0.0.9:80 -w 3
expect_exit 2 'illegal weight specified' "weight out of range" -- "$RVSADM" -a -t 10.0.0.1:80 -r 192.168.3.2 -w 2147483648
expect_exit 2 'One-Packet Scheduling is only for UDP virtual services' "-o on TCP" -- "$RVSADM" -A -t 10.0.0.9:80 -o
expect_exit 2 "line 2: -a -t 10.2.0.1:80 -r 999.1.1.1: illegal real server" "-R names the bad line" -- \
	bash -c "printf -- '-A -t 10.2.0.1:80 -s rr\n-a -t 10.2.0.1:80 -r 999.1.1.1\n' | $RVSADM -R"
