#!/usr/bin/env python3
"""Raw generic netlink requests to the IPVS family, for tests that need exact errnos or
malformed messages that ipvsadm and rvsadm never send.

  genl.py request CMD [--dump] [--attr SPEC]...   send one request; print the outcome
  genl.py batch    one request a line on stdin (its arguments as the shell quotes them, as
                   `printf '%q '` writes them); prints each outcome's first line at once
  genl.py socket-survives-reload --unload SH --load SH

SPEC is TYPE:KIND:VALUE with KIND u8|u16|be16|u32|str|hex, or TYPE:nest:{SPEC;SPEC...}.
The outcome is printed as `errno=NAME` (errno=0 for success) followed by one line per reply
message: `msg cmd=N ATTR=HEX ...`.
"""
import errno
import os
import shlex
import socket
import struct
import subprocess
import sys

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3

IPVS_CMDS = {
    "NEW_SERVICE": 1, "SET_SERVICE": 2, "DEL_SERVICE": 3, "GET_SERVICE": 4, "NEW_DEST": 5,
    "SET_DEST": 6, "DEL_DEST": 7, "GET_DEST": 8, "NEW_DAEMON": 9, "DEL_DAEMON": 10,
    "GET_DAEMON": 11, "SET_CONFIG": 12, "GET_CONFIG": 13, "SET_INFO": 14, "GET_INFO": 15,
    "ZERO": 16, "FLUSH": 17,
}


def attr(kind, payload):
    hdr = struct.pack("=HH", 4 + len(payload), kind)
    pad = b"\0" * ((4 - len(payload) % 4) % 4)
    return hdr + payload + pad


def encode_spec(spec):
    kind, form, value = spec.split(":", 2)
    kind = int(kind)
    if form == "nest":
        inner = value.strip("{}")
        parts = [p for p in split_top(inner) if p]
        return attr(kind | 0x8000, b"".join(encode_spec(p) for p in parts))
    payload = {
        "u8": lambda v: struct.pack("=B", int(v, 0)),
        "u16": lambda v: struct.pack("=H", int(v, 0)),
        "be16": lambda v: struct.pack(">H", int(v, 0)),
        "u32": lambda v: struct.pack("=I", int(v, 0)),
        "str": lambda v: v.encode() + b"\0",
        "hex": lambda v: bytes.fromhex(v),
    }[form](value)
    return attr(kind, payload)


def split_top(text):
    """Splits on ';' outside braces."""
    depth, cur, out = 0, "", []
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == ";" and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


class Genl:
    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        self.sock.bind((0, 0))
        self.seq = 100

    def request(self, family, cmd, attrs=b"", flags=0, version=1):
        self.seq += 1
        body = struct.pack("=BBH", cmd, version, 0) + attrs
        msg = struct.pack("=IHHII", 16 + len(body), family, flags | NLM_F_REQUEST | NLM_F_ACK, self.seq, 0) + body
        self.sock.send(msg)
        replies = []
        while True:
            data = self.sock.recv(65536)
            off = 0
            while off + 16 <= len(data):
                length, mtype, _, seq, _ = struct.unpack_from("=IHHII", data, off)
                payload = data[off + 16:off + length]
                off += (length + 3) & ~3
                if seq != self.seq:
                    continue
                if mtype == NLMSG_ERROR:
                    (err,) = struct.unpack_from("=i", payload)
                    return -err, replies
                if mtype == NLMSG_DONE:
                    return 0, replies
                replies.append((payload[0], payload[4:]))

    def family(self, name="IPVS"):
        err, replies = self.request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, attr(CTRL_ATTR_FAMILY_NAME, name.encode() + b"\0"))
        if err:
            return None
        for kind, value in parse_attrs(replies[0][1]):
            if kind == CTRL_ATTR_FAMILY_ID:
                return struct.unpack("=H", value[:2])[0]
        return None


def parse_attrs(data):
    off, out = 0, []
    while off + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, off)
        if length < 4:
            break
        out.append((kind & 0x3FFF, data[off + 4:off + length]))
        off += (length + 3) & ~3
    return out


def errname(err):
    return "0" if err == 0 else errno.errorcode.get(err, str(err))


def parse_request(args):
    """CMD [--dump] [--attr SPEC]... as (command, attributes, flags)."""
    cmd = IPVS_CMDS[args[0]]
    flags, attrs, i = 0, b"", 1
    while i < len(args):
        if args[i] == "--dump":
            flags |= NLM_F_DUMP
        elif args[i] == "--attr":
            i += 1
            attrs += encode_spec(args[i])
        else:
            sys.exit(f"genl.py: unknown argument {args[i]}")
        i += 1
    return cmd, attrs, flags


def cmd_request(args):
    cmd, attrs, flags = parse_request(args)
    g = Genl()
    fam = g.family()
    if fam is None:
        print("errno=NOFAMILY")
        return 1
    err, replies = g.request(fam, cmd, attrs, flags)
    print(f"errno={errname(err)}")
    for rcmd, rattrs in replies:
        fields = " ".join(f"{k}={v.hex()}" for k, v in parse_attrs(rattrs))
        print(f"msg cmd={rcmd} {fields}".rstrip())
    return 0


def cmd_batch():
    """Many requests from one process (a process costs seconds on the debug kernel): each line
    of stdin is one, answered by its `errno=` line as soon as it is done."""
    g = Genl()
    for line in sys.stdin:
        args = shlex.split(line)
        if not args:
            continue
        fam = g.family()
        if fam is None:
            print("errno=NOFAMILY", flush=True)
            continue
        err, _ = g.request(fam, *parse_request(args))
        print(f"errno={errname(err)}", flush=True)
    return 0


def cmd_socket_survives_reload(args):
    """A socket that talked to the family outlives an unload and talks to the reloaded one."""
    unload = args[args.index("--unload") + 1]
    load = args[args.index("--load") + 1]
    g = Genl()
    fam = g.family()
    assert fam is not None, "family not registered at start"
    err, _ = g.request(fam, IPVS_CMDS["GET_INFO"])
    assert err == 0, f"GET_INFO before unload: {errname(err)}"
    # A request whose reply is still queued on the socket when the module goes away.
    g.sock.send(struct.pack("=IHHII", 20, fam, NLM_F_REQUEST, 999, 0) + struct.pack("=BBH", IPVS_CMDS["GET_INFO"], 1, 0))
    subprocess.run(unload, shell=True, check=True)
    queued = g.sock.recv(65536)
    assert len(queued) >= 20, "queued reply lost"
    err, _ = g.request(fam, IPVS_CMDS["GET_INFO"])
    print(f"after unload: errno={errname(err)}")
    assert err != 0, "the family answered after unload"
    if os.environ.get("MODULE") == "rvs":
        # (With ip_vs the lookup itself autoloads the module: MODULE_ALIAS_GENL_FAMILY.)
        assert g.family() is None, "family still resolvable after unload"
    subprocess.run(load, shell=True, check=True)
    fam = g.family()
    assert fam is not None, "family not registered after reload"
    err, _ = g.request(fam, IPVS_CMDS["GET_INFO"])
    assert err == 0, f"GET_INFO after reload: {errname(err)}"
    print("socket survived the reload")
    return 0


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    if sys.argv[1] == "request":
        return cmd_request(sys.argv[2:])
    if sys.argv[1] == "batch":
        return cmd_batch()
    if sys.argv[1] == "socket-survives-reload":
        return cmd_socket_survives_reload(sys.argv[2:])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
