#!/usr/bin/env python3
"""SIP-like UDP datagrams for the `--pe sip` selftest: to IPVS only the Call-ID header counts.

  sip.py call HOST PORT CALLID [--header NAME] [--count N] [--timeout S]
      from a new socket, sends an INVITE with header "NAME: CALLID" (default Call-ID; "i" is the
      compact form; --header "" sends none) and prints the answer's first line, or TIMEOUT;
      N times (default 1) from the same socket
  sip.py request HOST PORT --sport P CALLID [--header NAME] [--timeout S]
      from port P, sends a BYE (with the header as for call) to HOST:PORT, then prints the
      answer's first line and its sender, "ANSWER FROM ADDR:PORT", or TIMEOUT (a real server
      calling a client)
  sip.py answer PORT [--timeout S] --ready FILE
      on PORT, waits for one datagram, prints "SENDER CALLID" (- for none) and answers "OK" to
      its sender
"""
import argparse
import re
import socket
import sys


def message(method, header, callid):
    lines = [f"{method} sip:user@example.com SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.1:5060",
             "CSeq: 1 " + method]
    if header:
        lines.insert(2, f"{header}: {callid}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def first_line(data):
    return data.decode(errors="replace").splitlines()[0] if data else ""


def call(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(args.timeout)
    for _ in range(args.count):
        s.sendto(message("INVITE", args.header, args.callid), (args.host, args.port))
        try:
            print(first_line(s.recv(65536)), flush=True)
        except socket.timeout:
            print("TIMEOUT", flush=True)


def request(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", args.sport))
    s.settimeout(args.timeout)
    s.sendto(message("BYE", args.header, args.callid), (args.host, args.port))
    try:
        data, src = s.recvfrom(65536)
        print(f"{first_line(data)} FROM {src[0]}:{src[1]}")
    except socket.timeout:
        print("TIMEOUT")


def answer(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", args.port))
    s.settimeout(args.timeout)
    open(args.ready, "w").close()
    try:
        data, src = s.recvfrom(65536)
    except socket.timeout:
        print("TIMEOUT", flush=True)
        return
    m = re.search(rb"^Call-ID: *(\S+)\r$", data, re.M | re.I)
    print(f"{src[0]}:{src[1]} {m.group(1).decode() if m else '-'}", flush=True)
    try:
        s.sendto(b"OK\n", src)
    except OSError:
        pass  # a sender the client has no route to


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("call")
    c.add_argument("host")
    c.add_argument("port", type=int)
    c.add_argument("callid")
    c.add_argument("--header", default="Call-ID")
    c.add_argument("--count", type=int, default=1)
    r = sub.add_parser("request")
    r.add_argument("host")
    r.add_argument("port", type=int)
    r.add_argument("callid")
    r.add_argument("--sport", type=int, required=True)
    r.add_argument("--header", default="Call-ID")
    a = sub.add_parser("answer")
    a.add_argument("port", type=int)
    a.add_argument("--ready", required=True)
    for q in (c, r, a):
        q.add_argument("--timeout", type=float, default=3)
    args = p.parse_args()
    {"call": call, "request": request, "answer": answer}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
