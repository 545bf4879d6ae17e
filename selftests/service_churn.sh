#!/usr/bin/env bash
# Thousands of services and real servers are added, edited and deleted (unmodified ipvsadm -R)
# while HTTP traffic goes through one NAT service nobody touches, and `ipvsadm -Ln` and
# /proc/net/ip_vs are read in loops: every request is answered by that service's real servers,
# every listing works and shows that service whole (never torn), and the table ends exactly as
# the commands say (same `ipvsadm -Sn`, byte for byte, as in-tree ip_vs after the same script).
# Then the module is unloaded in the middle of such churn, with traffic and readers still going:
# the unload works, the churning ipvsadm's commands fail, and a reloaded module starts empty and
# works. On the debug kernel KASAN, lockdep, PROVE_RCU and kmemleak watch all of it.
# (ip_vs refuses to unload while a service holds its scheduler module, so against ip_vs the unload
# is retried until the churn has ended; rvs unloads with services in place, at the first try.)
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

topo_nat 2
rs_http_start 80
nat_service -t "$VIP:80" rr 80
work=$TOPO_DIR

# gen MODE ROUND N: the ipvsadm -R commands of a churn round over N services of which one in five
# is a firewall-mark service, each with a NAT and a tunnelling real server (MODE add), then the
# schedulers of half of them and the weight of every NAT real server changed (edit), then half of
# the services deleted and every other tunnelling real server of the rest removed (del).
gen() {
	python3 - "$@" <<-'PY'
		import sys
		mode, rnd, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
		for i in range(n):
		    if i % 5 == 4:
		        svc = "-f %d" % (rnd * 100000 + i + 1)
		        port = ""
		    else:
		        svc = "-%s 10.%d.%d.%d:%d" % ("tu"[i % 2], 20 + rnd, i // 250, i % 250 + 1, 80 + i % 3)
		        port = ":%d" % (80 + i % 3)
		    nat = "10.0.2.%d%s" % (100 + i % 50, port)
		    tun = "10.0.2.%d%s" % (200 + i % 20, port)
		    if mode == "add":
		        print("-A %s -s rr" % svc)
		        print("-a %s -r %s -m -w 1" % (svc, nat))
		        print("-a %s -r %s -i -w 2" % (svc, tun))
		    elif mode == "edit":
		        if i % 2 == 0:
		            print("-E %s -s wrr" % svc)
		        print("-e %s -r %s -m -w 3" % (svc, nat))
		    elif mode == "del":
		        if i % 2 == 0:
		            print("-D %s" % svc)
		        elif i % 4 == 1:
		            print("-d %s -r %s" % (svc, tun))
	PY
}
# The debug kernel (KASAN, lockdep, kmemleak, one vCPU) churns 100 services a round, not 500:
# gen's services are independent of each other and the commands for 100 are exactly the first
# ones of those for 500, so the debug lane checks the same commands' code under its checkers.
# Both results are ip_vs's (the digests below; the one of 100 recorded with CHURN_SERVICES=100
# MODULE=ipvs on the release kernel, ip_vs's lane running 500).
n=${CHURN_SERVICES:-500}
[ "${KERNEL:-}" = debug ] && n=${CHURN_SERVICES:-100}
case $n in
500) digest=970fed2f93d116eb639401628862c260e2ae5ee082668cc92da057533cbe3bb7 ;;
100) digest=7138ef47120bba50faab3e5a4b647d944895d9045910f92fe9e5f42f86971148 ;;
*) fail "no ip_vs digest of a churn of $n services" ;;
esac
for r in 1 2; do
	for m in add edit del; do gen "$m" "$r" "$n" >"$work/$m.$r"; done
done

# The measured service as ipvsadm -Ln (real servers sorted) and /proc/net/ip_vs (newest first)
# show it: its header, then its two real servers. A reader counts its reads, its failed reads and
# the listings where the service is not whole. A listing may show a service twice or miss it while
# other services come and go between the batches of its dump (IPVS's dumps are not atomic
# either), but each time it is shown it is whole.
whole() { # HEADER-REGEX DESTS: the awk program that checks a listing
	printf '%s' 'function end() { if (s && d != "'"$2"'") bad++; s = 0; d = "" }
		/'"$1"'/ { end(); s = 1; next }
		s && /^  ->/ { d = d $2 " " $3 " " $4 ";"; next }
		{ end() }
		END { end(); exit bad != 0 }'
}
whole_ln=$(whole '^TCP  10\.0\.1\.100:80 rr' "10.0.2.11:80 Masq 1;10.0.2.12:80 Masq 1;")
whole_proc=$(whole '^TCP  0A010064:0050 rr' "0A02000C:0050 Masq 1;0A02000B:0050 Masq 1;")
reader() { # NAME CMD AWK: read with CMD until $work/stop-readers exists
	local name=$1 cmd=$2 check=$3 reads=0 failed=0 torn=0 out
	while [ ! -e "$work/stop-readers" ]; do
		if out=$(in_lb nice -n 5 sh -c "$cmd" 2>/dev/null); then
			reads=$((reads + 1))
			awk "$check" <<<"$out" || torn=$((torn + 1))
		else
			failed=$((failed + 1))
		fi
	done
	echo "$reads $failed $torn" >"$work/$name.count"
}
start_readers() {
	rm -f "$work/stop-readers"
	reader ln "ipvsadm -Ln" "$whole_ln" &
	reader_ln=$!
	reader proc "cat /proc/net/ip_vs" "$whole_proc" &
	reader_proc=$!
	on_exit "touch $work/stop-readers 2>/dev/null; kill $reader_ln $reader_proc 2>/dev/null"
}
stop_readers() {
	touch "$work/stop-readers"
	wait "$reader_ln" "$reader_proc"
}

# The traffic and the readers run niced: on the debug kernel's single vCPU they would otherwise
# take most of it from the churn they are there to overlap.
phase() { echo "$1" >"$work/phase.tmp" && mv "$work/phase.tmp" "$work/phase"; }
phase churn
bg load "$TOPO_CL" nice -n 5 python3 "$TRAFFIC" load "$VIP" 80 --phase "$work/phase" --stop "$work/stop" \
	--workers 2 --timeout "$((5 * TOPO_SLOW))"
load_pid=$BG_PID
start_readers

# Two rounds of churn, each with its own addresses and marks.
start=$SECONDS
for r in 1 2; do
	for m in add edit del; do
		adm -R <"$work/$m.$r" || fail "ipvsadm -R of the $m commands of round $r"
	done
done
log "churn: $(cat "$work"/{add,edit,del}.{1,2} | wc -l) commands in $((SECONDS - start)) s"

phase after
answers() { grep -c "^$1 " "$work/load.log"; }
answered_after() { [ "$(answers after)" -ge 4 ]; }
poll_until 30 answered_after || fail "no answers after the churn: $(tail -5 "$work/load.log")"
touch "$work/stop"
wait "$load_pid"
stop_readers
total=$(grep -c . "$work/load.log")
assert_eq "" "$(grep -v -E '^(churn|after) rs[12]$' "$work/load.log" | sort | uniq -c)" \
	"every request during and after the churn was answered by rs1 or rs2 ($total requests)"
[ "$(answers churn)" -ge 10 ] || fail "only $(answers churn) requests during the churn"
for r in ln proc; do
	read -r reads failed torn <"$work/$r.count"
	log "$r reader: $reads reads, $failed failed, $torn torn"
	[ "$reads" -ge 2 ] || fail "the $r reader read only $reads times"
	assert_eq "0 0" "$failed $torn" "the $r reader: no failed read, no torn service"
done

# The final table: the measured service goes (its connection counters depend on the traffic),
# then what is left is compared with what the commands say, and with ip_vs's (the digest of the
# same script's result there).
adm -D -t "$VIP:80" || fail "delete the measured service"
adm -Sn | sort >"$work/final"
adm -C || fail "ipvsadm -C"
ipvs_empty_listing 4096 >"$work/empty"
assert_eq "$(cat "$work/empty")" "$(adm -Ln)" "ipvsadm -C empties the table"
assert_eq "$n $n $((n / 2))" \
	"$(awk '/^-A/ { s++ } /^-a/ && / -m / { m++ } /^-a/ && / -i / { t++ } END { print s, m, t }' "$work/final")" \
	"$n services left, with $n NAT and $((n / 2)) tunnelling real servers"
assert_eq "$digest" \
	"$(sha256sum <"$work/final" | cut -d' ' -f1)" "ipvsadm -Sn (sorted) is the same as ip_vs's"

# An unload in the middle of churn, with traffic and both readers going.
# Longer than the time it takes to get to the unload, whatever the machine.
gen add 3 2000 >"$work/add.3"
phase unload
rm -f "$work/stop"
bg load2 "$TOPO_CL" nice -n 5 python3 "$TRAFFIC" load "$VIP" 80 --phase "$work/phase" --stop "$work/stop" \
	--workers 2 --timeout 2
load_pid=$BG_PID
start_readers
# Not through in_lb, a function: $! must be ipvsadm itself.
ip netns exec "$TOPO_LB" ipvsadm -R <"$work/add.3" >"$work/churn.log" 2>&1 &
churn=$!
on_exit "kill $churn 2>/dev/null"
some_services() { [ "$(in_lb ipvsadm -Sn 2>/dev/null | grep -c '^-A')" -ge 100 ]; }
start=$SECONDS
poll_until 60 some_services || fail "the third round did not start"
# A dump in progress (a reader's ipvsadm -Ln) holds the module: rmmod says EBUSY until it ends.
tries=1
until module_unload 2>/dev/null; do
	tries=$((tries + 1))
	[ "$MODULE" = ipvs ] || [ "$tries" -le 50 ] || fail "rvs did not unload in 50 tries during the churn"
	[ "$tries" -le 600 ] || fail "ip_vs did not unload once the churn ended"
	nap 0.2
done
log "unloaded $(module_name) at try $tries ($((SECONDS - start)) s into the third round)"
# The commands that come after the unload fail (each one slowly here if ipvsadm goes on: it asks
# the kernel for the family again, which runs modprobe, which the test VM refuses): once one has
# failed, the churn is stopped.
poll_until 60 eval 'grep -q . "$work/churn.log" || ! kill -0 $churn 2>/dev/null' ||
	fail "ipvsadm -R neither fails nor ends after the unload"
kill "$churn" 2>/dev/null
wait "$churn"
if [ "$MODULE" != ipvs ]; then
	first=$(head -1 "$work/churn.log")
	[ -n "$first" ] || fail "the unload came after the churn: no command of ipvsadm -R failed"
	log "ipvsadm -R after the unload: $first"
fi
touch "$work/stop"
wait "$load_pid"
stop_readers
module_load || fail "reload $(module_name)"
assert_eq "$(cat "$work/empty")" "$(adm -Ln)" "the reloaded module starts with an empty table"
nat_service -t "$VIP:80" rr 80
assert_eq "rs2 rs1" "$(client_http 2 | tr '\n' ' ' | sed 's/ $//')" "a new service works after the reload"

if [ -w /sys/kernel/debug/kmemleak ]; then
	adm -C
	echo scan >/sys/kernel/debug/kmemleak
	sleep 6
	echo scan >/sys/kernel/debug/kmemleak
	assert_eq "" "$(cat /sys/kernel/debug/kmemleak)" "kmemleak reports no leak"
fi
