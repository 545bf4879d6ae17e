#!/usr/bin/env bash
# IPVS_CMD_GET_INFO: unmodified ipvsadm and rvsadm print the IPVS header; the raw reply carries
# version 1.2.1 and the connection table size, which follows the conn_tab_bits parameter.
. "$(dirname "$0")/lib/lib.sh"

expected=$(ipvs_empty_listing 4096)
assert_eq "$expected" "$(ipvsadm -Ln)" "ipvsadm -Ln prints the IPVS header and an empty table"
assert_eq "$expected" "$("$RVSADM" -Ln)" "rvsadm -Ln prints the same text"
assert_eq "$(ipvsadm -L)" "$("$RVSADM" -L)" "rvsadm -L (names) prints what ipvsadm -L prints"
assert_match '^ipvsadm v1\.31 .*IPVS v1\.2\.1' "$(ipvsadm -v)" "ipvsadm -v completes its GET_INFO round trip"

# Raw reply: cmd SET_INFO (14), VERSION=0x010201 and CONN_TAB_SIZE=4096, host byte order.
raw=$(python3 "$GENL" request GET_INFO)
assert_eq $'errno=0\nmsg cmd=14 1=01020100 2=00100000' "$raw" "GET_INFO reply attributes"

# A dump that ipvsadm -Ln sends next, and the dests dump of a service that does not exist: both
# empty, no error (IPVS answers an unknown service's dest dump with an empty dump too).
assert_eq "errno=0" "$(python3 "$GENL" request GET_SERVICE --dump)" "empty service dump"
assert_eq "errno=0" "$(python3 "$GENL" request GET_DEST --dump \
	--attr '1:nest:{1:u16:2;2:u16:6;3:hex:0a000001000000000000000000000000;4:be16:80}')" \
	"dest dump of a missing service is empty"

# Namespaces: the family is netnsok.
netns_new rvs-info
assert_eq "$expected" "$(ip netns exec rvs-info ipvsadm -Ln)" "ipvsadm -Ln inside a namespace"

# conn_tab_bits: the table size is 2^bits, clamped to 8 bits from below and from above to what
# the memory allows (ip_vs_conn_init: order_base_2(pages) + PAGE_SHIFT - 3 -
# order_base_2(sizeof(struct ip_vs_conn)) = the pages' order), as ip_vs does; 2^20 buckets (8 MiB,
# more than one kmalloc gives) where the VM has the memory for it.
pages=$(awk '/^MemTotal:/ { print int($2 / 4) }' /proc/meminfo)
order=$(python3 -c 'import sys; print((int(sys.argv[1]) - 1).bit_length())' "$pages")
bits20=$((order < 20 ? order : 20))
for bits_size in 10:1024 4:256 "20:$((1 << bits20))" 12:4096; do
	bits=${bits_size%%:*} size=${bits_size##*:}
	module_unload || fail "unload"
	module_load conn_tab_bits="$bits" || fail "load with conn_tab_bits=$bits"
	assert_eq "$(ipvs_empty_listing "$size")" "$("$RVSADM" -Ln)" "conn_tab_bits=$bits gives size=$size"
done
