#!/usr/bin/env python3
"""IPVS connection-sync datagrams, as a master director multicasts them (ip_vs_sync.c), for
the selftests of a backup: built byte for byte from the kernel's structures, or malformed.

  sync.py send [--group G] [--port P] --ifaddr A [--syncid N] [--v0] CONN...
      one message with the entries CONN, each
      PROTO,STATE,FLAGS,CADDR:CPORT,VADDR:VPORT,DADDR:DPORT,TIMEOUT[,FWMARK[,PE:DATA]]
      PROTO tcp|udp; STATE a number or a name (ESTABLISHED, FIN_WAIT, NONE, ASSURED...);
      FLAGS a number or names joined by '+' (INACTIVE, TEMPLATE, DROUTE, TUNNEL, NOOUTPUT);
      PE:DATA a persistence engine's name and data (IPVS_OPT_PE_NAME, _PE_DATA), e.g. sip:CALLID
  sync.py raw --ifaddr A [--group G] [--port P] HEX...   each HEX as one datagram
  sync.py malformed --ifaddr A [--syncid N]   datagrams IPVS drops or whose entries it
      skips, about client 172.16.0.50: short headers, wrong sizes, entries of another version,
      type, size, protocol, state or flags, bad options
  sync.py bulk --ifaddr A --count N [--syncid N] CONN
      N entries like CONN (messages of 40, built first, then sent back to back), each with
      its own client address and port; prints the clock time of the first datagram (ns)
  sync.py fuzz --ifaddr A [--group G] [--port P] --seed S --count N --syncid N
      N datagrams: random bytes, and valid messages truncated, bit-flipped, resized, with
      wrong versions, sizes, counts, option lengths
"""

import argparse
import random
import socket
import struct
import sys
import time

TCP_STATES = ["NONE", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "TIME_WAIT", "CLOSE",
              "CLOSE_WAIT", "LAST_ACK", "LISTEN", "SYNACK"]
TEMPLATE_STATES = {"ASSURED": 1}
FLAGS = {"MASQ": 0, "LOCALNODE": 1, "TUNNEL": 2, "DROUTE": 3, "BYPASS": 4, "NOOUTPUT": 0x80,
         "INACTIVE": 0x100, "TEMPLATE": 0x1000}
PROTOS = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP}


def addr_port(text):
    host, port = text.rsplit(":", 1)
    return socket.inet_aton(host), int(port)


def parse_conn(spec):
    parts = spec.split(",")
    proto, state, flags, client, virtual, dest, timeout = parts[:7]
    fwmark = int(parts[7]) if len(parts) > 7 else 0
    pe = parts[8].split(":", 1) if len(parts) > 8 else None
    if state.isdigit():
        state = int(state)
    elif state in TEMPLATE_STATES:
        state = TEMPLATE_STATES[state]
    elif state == "NORMAL":
        state = 0
    else:
        state = TCP_STATES.index(state)
    flag_bits = 0
    for f in flags.split("+"):
        flag_bits |= int(f, 0) if f[0].isdigit() else FLAGS[f]
    caddr, cport = addr_port(client)
    vaddr, vport = addr_port(virtual)
    daddr, dport = addr_port(dest)
    return dict(proto=PROTOS[proto], state=state, flags=flag_bits, caddr=caddr, cport=cport,
                vaddr=vaddr, vport=vport, daddr=daddr, dport=dport, timeout=int(timeout),
                fwmark=fwmark, pe=pe)


def entry_v1(c):
    """struct ip_vs_sync_v4: type 0, protocol, ver_size (version 0, size), flags, state,
    cport, vport, dport, fwmark, timeout, caddr, vaddr, daddr; then the persistence engine's
    data and name options (ip_vs_sync_conn's order), padded to 4 bytes."""
    options = b""
    if c.get("pe"):
        name, data = (x.encode() for x in c["pe"])
        options = bytes([2, len(data)]) + data + bytes([3, len(name)]) + name
    size = 36 + len(options)
    entry = struct.pack("!BBHIHHHHII4s4s4s", 0, c["proto"], size, c["flags"], c["state"],
                        c["cport"], c["vport"], c["dport"], c["fwmark"], c["timeout"],
                        c["caddr"], c["vaddr"], c["daddr"]) + options
    return entry + bytes(-len(entry) % 4)


def entry_v0(c):
    """struct ip_vs_sync_conn_v0: reserved, protocol, cport, vport, dport, caddr, vaddr, daddr,
    flags (16 bits), state."""
    return struct.pack("!BBHHH4s4s4sHH", 0, c["proto"], c["cport"], c["vport"], c["dport"],
                       c["caddr"], c["vaddr"], c["daddr"], c["flags"] & 0xffff, c["state"])


def message(conns, syncid, v0=False):
    if v0:
        body = b"".join(entry_v0(c) for c in conns)
        return struct.pack("!BBH", len(conns), syncid, 4 + len(body)) + body
    body = b"".join(entry_v1(c) for c in conns)
    return struct.pack("!BBHBbH", 0, syncid, 8 + len(body), len(conns), 1, 0) + body


def sender(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(args.ifaddr))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    return s, (args.group, args.port)


def fuzz_datagrams(rng, count, syncid):
    sample = dict(proto=6, state=1, flags=0, caddr=bytes([172, 16, 9, 1]), cport=1000,
                  vaddr=bytes([10, 0, 1, 100]), vport=80, daddr=bytes([10, 0, 2, 11]),
                  dport=80, timeout=900, fwmark=0)
    for _ in range(count):
        kind = rng.randrange(7)
        n = rng.randrange(1, 6)
        conns = []
        for _ in range(n):
            c = dict(sample)
            c["cport"] = rng.randrange(1, 65536)
            c["state"] = rng.randrange(0, 14)
            c["flags"] = rng.choice([0, 0x100, 0x1000, 0x2000, 0x800, 0x1800, rng.getrandbits(32)])
            c["proto"] = rng.choice([6, 17, 132, 50, 0, 255])
            conns.append(c)
        good = bytearray(message(conns, syncid, v0=rng.random() < 0.2))
        if kind == 0:
            yield bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 200)))
        elif kind == 1:
            yield bytes(good[:rng.randrange(0, len(good))])
        elif kind == 2:
            for _ in range(rng.randrange(1, 8)):
                i = rng.randrange(len(good))
                good[i] ^= 1 << rng.randrange(8)
            yield bytes(good)
        elif kind == 3:
            struct.pack_into("!H", good, 2, rng.randrange(65536))
            yield bytes(good)
        elif kind == 4:
            good[4] = rng.randrange(256)
            struct.pack_into("!H", good, 2, len(good))
            yield bytes(good)
        elif kind == 5:
            # An entry's ver_size: another version, a size too small or past the end.
            if len(good) >= 12:
                struct.pack_into("!H", good, 10, rng.randrange(65536))
            yield bytes(good)
        else:
            # Options after an entry: random type and length bytes.
            extra = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 12)))
            body = bytearray(good[8:]) + extra
            if len(body) >= 4:
                struct.pack_into("!H", body, 2, 36 + len(extra))
            yield bytes(struct.pack("!BBHBbH", 0, syncid, 8 + len(body), 1, 1, 0) + body)


def malformed(syncid):
    c = dict(proto=6, state=1, flags=0, caddr=bytes([172, 16, 0, 50]), cport=1000,
             vaddr=bytes([10, 0, 1, 100]), vport=80, daddr=bytes([10, 0, 2, 12]), dport=80,
             timeout=900, fwmark=0)

    def with_entry(entry, nr=1):
        return struct.pack("!BBHBbH", 0, syncid, 8 + len(entry), nr, 1, 0) + entry

    good = entry_v1(c)
    out = [b"", b"\x00", b"\x00\x05", b"\x00\x05\x00"]
    msg = bytearray(with_entry(good))
    struct.pack_into("!H", msg, 2, len(msg) + 1)
    out.append(bytes(msg))                                        # size not the length
    out.append(with_entry(b"", nr=1))                             # no room for the entry
    out.append(with_entry(good[:30]))                             # truncated entry
    for ver_size in (0x1000 | 36, 20, 40):                        # version 1, too small, past end
        e = bytearray(good)
        struct.pack_into("!H", e, 2, ver_size)
        out.append(with_entry(bytes(e)))
    e = bytearray(good)
    e[0] = 2                                                      # unknown entry type
    out.append(with_entry(bytes(e)))
    for flags, state, proto in ((0x2000, 1, 6), (0x1800, 0, 6), (0, 11, 6), (0x1000, 2, 6),
                                (0, 0, 47)):                      # one-packet, template with
        e = dict(c, flags=flags, state=state, proto=proto)        # no cport, bad states,
        out.append(with_entry(entry_v1(e)))                       # unknown protocol
    for opt in (b"\x07\x01\x00", b"\x02\x00", b"\x01\x04abcd", b"\x02\x01x", b"\x03"):
        e = bytearray(good + opt)                                 # unknown mandatory option,
        struct.pack_into("!H", e, 2, len(e))                      # length 0, short seq option,
        out.append(with_entry(bytes(e)))                          # data without name, 1 byte
    v0 = bytearray(message([c], syncid, v0=True)[:20])
    struct.pack_into("!H", v0, 2, 20)
    out.append(bytes(v0))                                         # v0 entry truncated
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["send", "raw", "malformed", "bulk", "fuzz"])
    p.add_argument("items", nargs="*")
    p.add_argument("--group", default="224.0.0.81")
    p.add_argument("--port", type=int, default=8848)
    p.add_argument("--ifaddr", required=True)
    p.add_argument("--syncid", type=int, default=0)
    p.add_argument("--v0", action="store_true")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--count", type=int, default=100)
    args = p.parse_intermixed_args()
    s, to = sender(args)
    if args.mode == "send":
        s.sendto(message([parse_conn(c) for c in args.items], args.syncid, args.v0), to)
    elif args.mode == "raw":
        for h in args.items:
            s.sendto(bytes.fromhex(h), to)
    elif args.mode == "bulk":
        base = parse_conn(args.items[0])
        messages, conns = [], []
        for i in range(args.count):
            c = dict(base)
            c["caddr"] = bytes([172, 16 + (i >> 24 & 15), i >> 16 & 255, i >> 8 & 255])
            c["cport"] = 1024 + (i & 255)
            conns.append(c)
            if len(conns) == 40 or i == args.count - 1:
                messages.append(message(conns, args.syncid))
                conns = []
        # Built first, then sent back to back; the clock time of the first datagram is printed.
        print(time.time_ns(), flush=True)
        for m in messages:
            s.sendto(m, to)
    elif args.mode == "malformed":
        for d in malformed(args.syncid):
            s.sendto(d, to)
    else:
        sent = 0
        for d in fuzz_datagrams(random.Random(args.seed), args.count, args.syncid):
            s.sendto(d, to)
            sent += 1
        print(f"sent {sent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
