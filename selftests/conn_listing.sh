#!/usr/bin/env bash
# /proc/net/ip_vs_conn, which ipvsadm -Lnc reads, with RVS_CONNS UDP connections made by forged
# datagrams (default 200 000; 20 000 against ip_vs, whose listing time grows with the square of
# the table: 229 s per read at 200 000; 10 000 on the debug kernel, whose checkers watch the same
# walk): every connection is listed once, and a reader that has read one page holds little
# kernel memory, as IPVS's (which walks its table bucket by bucket; rvs shows one hash bucket per
# seq_file record), rather than a buffer for the whole table; that is asserted where the table
# is large enough to tell (20 000 entries and more: 1.5 MB of lines). The time ipvsadm -Lnc takes
# is reported, not asserted (make bench compares speed).
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

if [ "${KERNEL:-}" = debug ]; then
	conns=${RVS_CONNS:-10000}
elif [ "$MODULE" = ipvs ]; then
	conns=${RVS_CONNS:-20000}
else
	conns=${RVS_CONNS:-200000}
fi
topo_nat 3
# Nothing listens on the real servers' port 53: their (rate-limited) port unreachables are all
# that comes back. The entries live an hour.
nat_service -u "$VIP:53" rr 53
adm --set 0 0 3600 || fail "ipvsadm --set 0 0 3600"
in_cl python3 "$TRAFFIC" udpflood "$VIP" 53 --count "$conns" --sources 10.0.1.150-249 ||
	fail "UDP flood"
listed() { in_lb awk 'NR > 1' /proc/net/ip_vs_conn | wc -l; }
poll_eq "$conns" "$conns datagrams from distinct sources make $conns entries" 60 listed

# One reader opens the file and reads a page, the kernel's memory is measured, then it reads on.
read -r held lines < <(in_lb python3 -c '
def available():
    with open("/proc/meminfo") as m:
        return next(int(l.split()[1]) for l in m if l.startswith("MemAvailable:"))
with open("/proc/net/ip_vs_conn", "rb", buffering=0) as f:
    before = available()
    data = f.read(4096)
    held = before - available()
    while True:
        chunk = f.read(65536)
        if not chunk:
            break
        data += chunk
print(held, data.count(b"\n"))
')
assert_eq "$((conns + 1))" "$lines" "/proc/net/ip_vs_conn: a header and $conns entries"
if [ "$conns" -ge 20000 ]; then
	[ "$held" -lt 1024 ] || fail "a reader that read one page holds ${held} kB of kernel memory"
	log "ok: a reader that read one page holds less than 1 MB (${held} kB by MemAvailable)"
else
	log "a reader that read one page holds ${held} kB by MemAvailable (not asserted at $conns entries)"
fi

start=$(date +%s%N)
n=$(adm -Lnc | awk 'NR > 2' | grep -c '^UDP ')
took=$((($(date +%s%N) - start) / 1000000))
assert_eq "$conns" "$n" "ipvsadm -Lnc lists the $conns UDP entries"
log "ipvsadm -Lnc of $conns entries took ${took} ms ($(module_name), ${KERNEL:-release} kernel)"
