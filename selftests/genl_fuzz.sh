#!/usr/bin/env bash
# The IPVS generic netlink family under a fuzzer (fuzzer/, `rvs-fuzz netlink`): requests built
# from IPVS's schema over a small pool of services and real servers, half of them bent (attributes
# dropped, repeated, truncated, lengthened, retyped, lying about their length, strings without
# their NUL, nests of garbage, extreme values, bytes left over, random commands, versions and
# flags). After every block of 250 the tables listed must be what the accepted requests set (the
# fuzzer's model of IPVS) and the kernel log free of splats; every answer (errno and reply) and
# the listing are folded into a digest per block that must equal ip_vs's, recorded with the same
# seed (expected/genl_fuzz.SEED, which this test checks against ip_vs too; RVS_RECORD=1 writes
# new ones into $RVS_RUN). Then 4 senders with disjoint pools at once while a fifth lists the
# tables, and requests from user nobody and from root of a new user namespace: every one refused
# with EPERM, the tables unchanged. A failure prints the seed and the command that replays its
# block request by request. Not covered: a sync daemon on an IPv6 group, which IPVS starts and rvs
# refuses (EAFNOSUPPORT; the fuzzer sends only IPv6 groups that IPVS refuses too).
. "$(dirname "$0")/lib/lib.sh"

fuzzer="$RVS_ROOT/target/release/rvs-fuzz"
# The quick form: ip_vs's answers to seeds 1, 2 and 3 (`make soak` gives other seeds, more messages,
# and records of its own ip_vs run in FUZZ_RECORDS).
records="genl_fuzz.1 genl_fuzz.2 genl_fuzz.3"
FUZZ_SEEDS=${FUZZ_SEEDS:-1 2 3}
FUZZ_MESSAGES=${FUZZ_MESSAGES:-2000}
FUZZ_BLOCK=${FUZZ_BLOCK:-250}
FUZZ_RECORDS=${FUZZ_RECORDS:-$RVS_ROOT/selftests/expected}

# The interface the fuzzer may start sync daemons on (gen.rs DAEMON_IFN).
ip link add rvs-fz0 type dummy && ip addr add 192.168.77.1/24 dev rvs-fz0 \
	&& ip link set rvs-fz0 multicast on up || fail "dummy interface"
read -r tcp fin udp < <(ipvsadm -L --timeout | awk '{print $5, $6, $7}')
on_exit "ipvsadm -C; ipvsadm --stop-daemon master; ipvsadm --stop-daemon backup; ipvsadm --set $tcp $fin $udp; ip link del rvs-fz0"

if [ "$MODULE" = ipvs ]; then
	# ip_vs runs modprobe for every scheduler or engine name it does not know (request_module:
	# a process each time, tens of milliseconds under TCG). Its own modules are loaded first;
	# then an empty kernel.modprobe makes the kernel ask for none, and unknown names are refused
	# at once with the same ENOENT.
	for m in rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos pe_sip; do
		modprobe "ip_vs_$m" || fail "modprobe ip_vs_$m"
	done
	modprobe_path=$(cat /proc/sys/kernel/modprobe)
	on_exit "echo '$modprobe_path' >/proc/sys/kernel/modprobe"
	echo >/proc/sys/kernel/modprobe
fi

for seed in $FUZZ_SEEDS; do
	# Each seed starts from the same tables, timeouts and daemons (answers show all three).
	ipvsadm -C
	ipvsadm --set "$tcp" "$fin" "$udp"
	ipvsadm --stop-daemon master 2>/dev/null
	ipvsadm --stop-daemon backup 2>/dev/null
	args=(netlink --seed "$seed" --messages "$FUZZ_MESSAGES" --block "$FUZZ_BLOCK" --senders 4 --unprivileged 200
		--splats "$RVS_ROOT/qemu/splat-patterns")
	if [ "${RVS_RECORD:-0}" = 1 ]; then
		"$fuzzer" "${args[@]}" --record "$RVS_RUN/genl_fuzz.$seed" | sed 's/^/  /'
		[ "${PIPESTATUS[0]}" = 0 ] || fail "seed $seed (while recording)"
		log "recorded $RVS_RUN/genl_fuzz.$seed"
		continue
	fi
	record="$FUZZ_RECORDS/genl_fuzz.$seed"
	[ -f "$record" ] || fail "no record $record (of $records)"
	"$fuzzer" "${args[@]}" --expect "$record" | sed 's/^/  /'
	[ "${PIPESTATUS[0]}" = 0 ] || fail "seed $seed: see above (the record holds ip_vs's answers)"
done
log "ok: seeds $FUZZ_SEEDS, $FUZZ_MESSAGES requests each, every answer and listing as ip_vs's"
