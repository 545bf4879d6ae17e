#!/usr/bin/env python3
"""Traffic for the data-plane selftests (selftests/lib/topo.sh runs it in the namespaces).

No asyncio: importing it (and ssl with it) costs seconds under TCG; selectors is enough.

  traffic.py serve NAME [--http PORT]... [--line PORT]... [--udp PORT]... [--bind ADDR]
                  [--ready FILE]
      One process per real server, listening on ADDR (default: every address). HTTP/1.0 on each --http port: GET / answers "NAME\\n",
      GET /whoami answers "NAME CLIENT_IP:PORT LOCAL_IP:PORT\\n", GET /bytes/N answers N bytes;
      the server closes after each answer. A line service on each --line port: every line L gets
      "NAME L\\n" back; the line "bye" gets "NAME bye\\n" and then the server closes first. UDP on
      each --udp port: every datagram gets "NAME\\n" back, padded with "x" to N bytes when the
      datagram is "size N". FILE is created once all listen.

  traffic.py hold HOST PORT [--timeout S]
      Held TCP connections to a line service, driven by commands on stdin, one answer line each:
        open [PORT] connect (to PORT instead of the default PORT), send "hello", print
                    "open I NAME" (or "open I ERR:...")
        ping [I]    send "ping" on connection I (default: every open one), print "ping R..." with
                    one result per connection: the answering NAME, or ERR:ECONNRESET,
                    ERR:timeout, ERR:EOF, ...
        bye I       send "bye" on connection I (the server closes first), print "bye I NAME"
        close I     close connection I, print "closed I"
        port I      print "port I LOCALPORT", connection I's source port
        quit        close everything and exit (as does EOF on stdin)

  traffic.py udp HOST PORT [--sockets K] [--count N] [--size S] [--reply-size R] [--ttl T]
                [--unconnected] [--timeout S] [--retries R]
      K UDP sockets (all kept open, so K distinct source ports), one after the other; each sends
      N datagrams of S payload bytes (with --reply-size: "size R", asking for an R-byte answer)
      and waits for each answer. One line per datagram: the answering NAME (with --unconnected:
      "NAME from IP:PORT", the answer's source), or ERR:ECONNREFUSED (ICMP port unreachable),
      ERR:timeout, ... With --ttl the datagrams leave with TTL T and ICMP errors are reported
      (IP_RECVERR): ERR:EHOSTUNREACH for "time exceeded".

  traffic.py icmp HOST --quote PROTO:SRC:SPORT:DST:DPORT [--type T] [--code C] [--mtu M]
      Sends one ICMP error (default: type 3 code 4, "fragmentation needed" with next-hop MTU M)
      to HOST from a raw socket, quoting the IPv4 header and the first 8 transport bytes of a
      PROTO (tcp|udp) packet from SRC:SPORT to DST:DPORT, as a router does.

  traffic.py synflood HOST PORT --count N --sources A.B.C.X-Y
      N TCP SYNs to HOST:PORT from a raw socket, from forged sources A.B.C.X to A.B.C.Y in turn
      and source ports from 20000 up: half-open connections that nobody completes.

  traffic.py udpflood HOST PORT --count N --sources A.B.C.X-Y
      N one-byte UDP datagrams to HOST:PORT from a raw socket, from forged sources A.B.C.X to
      A.B.C.Y in turn and source ports from 1024 up (the next source address's turn after each
      round): N distinct connections that nobody answers. Prints "sent N in Ts".

  traffic.py load HOST PORT --phase FILE --stop FILE [--workers W]
      W threads doing sequential HTTP GETs until the --stop FILE exists. One line per request:
      "PHASE NAME|ERR:...", PHASE being what the --phase FILE held when the request started
      ("-" while there is no such file).

  traffic.py many HOST PORT --conns N [--parallel P] [--timeout S]
      N concurrent TCP connections to a line service, at most P connecting at once; each sends
      "hello" and reads the answer, then all stay open. Prints "NAME COUNT" per real server,
      "errors E ..." and "held N in Ts", then waits for a line (or EOF) on stdin, closes them all
      and prints "closed".
"""
import argparse
import errno
import os
import resource
import selectors
import socket
import sys
import time


def raise_nofile():
    for n in (1 << 20, 200000, 65536):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
            return
        except (ValueError, OSError):
            pass


def err_name(exc):
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "ERR:timeout"
    if isinstance(exc, EOFError):
        return "ERR:EOF"
    if isinstance(exc, OSError) and exc.errno:
        return "ERR:" + errno.errorcode.get(exc.errno, str(exc.errno))
    return "ERR:" + type(exc).__name__


# ------------------------------------------------------------------------------------------ serve

class Conn:
    """One accepted TCP connection of the server: input buffer, pending output, close after."""

    def __init__(self, srv, sock, kind):
        self.srv, self.sock, self.kind = srv, sock, kind
        self.inbuf, self.out, self.closing, self.answered = b"", b"", False, False
        self.events = selectors.EVENT_READ

    def readable(self):
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            self.close()
            return
        if not data:
            if not self.out:
                self.close()
            else:
                self.closing = True
            return
        self.inbuf += data
        if self.kind == "http":
            self.http()
        else:
            self.line()

    def http(self):
        if self.answered or (b"\r\n\r\n" not in self.inbuf and b"\n\n" not in self.inbuf):
            return
        self.answered = True
        words = self.inbuf.split(b"\n", 1)[0].split()
        path = words[1].decode() if len(words) > 1 else "/"
        name = self.srv.name
        if path == "/whoami":
            peer, local = self.sock.getpeername(), self.sock.getsockname()
            body = f"{name} {peer[0]}:{peer[1]} {local[0]}:{local[1]}\n".encode()
        elif path.startswith("/bytes/"):
            body = b"x" * int(path[len("/bytes/"):])
        else:
            body = name.encode() + b"\n"
        head = (b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                b"Connection: close\r\n\r\n" % len(body))
        self.send(head + body, close=True)

    def line(self):
        while b"\n" in self.inbuf and not self.closing:
            line, self.inbuf = self.inbuf.split(b"\n", 1)
            self.send(self.srv.name.encode() + b" " + line + b"\n", close=line == b"bye")

    def send(self, data, close=False):
        self.out += data
        self.closing = self.closing or close
        self.writable()

    def writable(self):
        try:
            while self.out:
                n = self.sock.send(self.out)
                self.out = self.out[n:]
        except BlockingIOError:
            pass
        except OSError:
            self.close()
            return
        if not self.out and self.closing:
            self.close()
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.out else 0)
        if events != self.events:
            self.srv.sel.modify(self.sock, events, self)
            self.events = events

    def close(self):
        if self.sock is not None:
            self.srv.sel.unregister(self.sock)
            self.sock.close()
            self.sock = None


def serve(args):
    raise_nofile()
    sel = selectors.DefaultSelector()
    args.sel = sel
    for kind, ports in (("http", args.http), ("line", args.line)):
        for port in ports:
            ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind((args.bind, port))
            ls.listen(4096)
            ls.setblocking(False)
            sel.register(ls, selectors.EVENT_READ, ("accept", kind))
    for port in args.udp:
        us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        us.bind((args.bind, port))
        us.setblocking(False)
        sel.register(us, selectors.EVENT_READ, ("udp", None))
    if args.ready:
        open(args.ready, "w").close()
    answer = args.name.encode() + b"\n"

    def udp_answer(request):
        if request.startswith(b"size "):
            return answer.ljust(int(request[5:]), b"x")
        return answer

    while True:
        for key, events in sel.select():
            if isinstance(key.data, Conn):
                conn = key.data
                if events & selectors.EVENT_WRITE:
                    conn.writable()
                if events & selectors.EVENT_READ and conn.sock is not None:
                    conn.readable()
            elif key.data[0] == "accept":
                while True:
                    try:
                        sock, _ = key.fileobj.accept()
                    except (BlockingIOError, ConnectionAbortedError):
                        break
                    sock.setblocking(False)
                    sel.register(sock, selectors.EVENT_READ, Conn(args, sock, key.data[1]))
            else:
                while True:
                    try:
                        request, src = key.fileobj.recvfrom(65536)
                    except BlockingIOError:
                        break
                    except OSError:
                        continue
                    key.fileobj.sendto(udp_answer(request), src)


# ------------------------------------------------------------------------------------------- hold

def readline(sock):
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = sock.recv(4096)
        if not chunk:
            raise EOFError
        buf += chunk
    return buf.decode().strip()


def hold(args):
    conns = []

    def talk(sock, msg):
        try:
            sock.sendall(msg)
            return readline(sock).split()[0]
        except (EOFError, OSError) as e:
            return err_name(e)

    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "open":
            i = len(conns)
            try:
                port = int(cmd[1]) if len(cmd) > 1 else args.port
                s = socket.create_connection((args.host, port), timeout=args.timeout)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conns.append(s)
                answer = talk(s, b"hello\n")
            except OSError as e:
                conns.append(None)
                answer = err_name(e)
            out = f"open {i} {answer}"
        elif cmd[0] == "ping":
            which = [int(cmd[1])] if len(cmd) > 1 else range(len(conns))
            out = "ping " + " ".join(talk(conns[i], b"ping\n") for i in which if conns[i])
        elif cmd[0] == "bye":
            answer = talk(conns[int(cmd[1])], b"bye\n")
            out = f"bye {cmd[1]} {answer}"
        elif cmd[0] == "close":
            i = int(cmd[1])
            conns[i].close()
            conns[i] = None
            out = f"closed {i}"
        elif cmd[0] == "port":
            out = f"port {cmd[1]} {conns[int(cmd[1])].getsockname()[1]}"
        elif cmd[0] == "quit":
            break
        else:
            out = f"unknown command {line.strip()}"
        print(out, flush=True)
    for s in conns:
        if s is not None:
            s.close()


# -------------------------------------------------------------------------------------------- udp

def udp(args):
    socks = []
    payload = f"size {args.reply_size}".encode() if args.reply_size else b"x" * args.size
    for _ in range(args.sockets):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(args.timeout)
        if args.ttl:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, args.ttl)
            s.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
        if args.unconnected:
            s.bind(("0.0.0.0", 0))
        else:
            s.connect((args.host, args.port))
        socks.append(s)
        for _ in range(args.count):
            # Like a DNS client, resend a datagram whose answer did not come (--retries).
            for _ in range(args.retries + 1):
                try:
                    if args.unconnected:
                        s.sendto(payload, (args.host, args.port))
                        data, src = s.recvfrom(65535)
                        out = f"{data.decode().splitlines()[0]} from {src[0]}:{src[1]}"
                    else:
                        s.send(payload)
                        out = s.recv(65535).decode().splitlines()[0]
                except OSError as e:
                    out = err_name(e)
                if out != "ERR:timeout":
                    break
            print(out, flush=True)


IP_RECVERR = 11  # linux/in.h; the socket module does not name it


# ------------------------------------------------------------------------------------------ icmp

def inet_sum(data):
    """The Internet checksum (RFC 1071) of data."""
    if len(data) % 2:
        data += b"\0"
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def icmp(args):
    import struct

    proto, src, sport, dst, dport = args.quote.split(":")
    number = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP}[proto]
    # The first 8 bytes of the quoted transport header: the ports, then a UDP length and an
    # empty checksum, or a TCP sequence number.
    l4 = struct.pack("!HHHH", int(sport), int(dport), 108, 0) if proto == "udp" else \
        struct.pack("!HHI", int(sport), int(dport), 1)
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 128, 1, 0x4000, 64, number, 0,
                               socket.inet_aton(src), socket.inet_aton(dst)))
    ip[10:12] = inet_sum(bytes(ip)).to_bytes(2, "big")
    message = bytearray(struct.pack("!BBHHH", args.type, args.code, 0, 0, args.mtu)) + ip + l4
    message[2:4] = inet_sum(bytes(message)).to_bytes(2, "big")
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.sendto(bytes(message), (args.host, 0))


def synflood(args):
    import struct

    prefix, span = args.sources.rsplit(".", 1)
    first, last = (int(x) for x in span.split("-"))
    dst = socket.inet_aton(args.host)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    for i in range(args.count):
        src = socket.inet_aton(f"{prefix}.{first + i % (last - first + 1)}")
        tcp = bytearray(struct.pack("!HHIIBBHHH", 20000 + i, args.port, i, 0, 5 << 4, 0x02,
                                    65535, 0, 0))
        pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
        tcp[16:18] = inet_sum(pseudo + bytes(tcp)).to_bytes(2, "big")
        # Length, identification and checksum are filled in by the kernel (raw(7)).
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, 0, 0x4000, 64, socket.IPPROTO_TCP, 0,
                         src, dst)
        s.sendto(ip + bytes(tcp), (args.host, 0))


def udpflood(args):
    import struct

    prefix, span = args.sources.rsplit(".", 1)
    first, last = (int(x) for x in span.split("-"))
    sources = [socket.inet_aton(f"{prefix}.{a}") for a in range(first, last + 1)]
    dst = socket.inet_aton(args.host)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    # Length, identification and checksum are filled in by the kernel (raw(7)); a zero UDP
    # checksum means none.
    packet = bytearray(struct.pack("!BBHHHBBH4s4sHHHHB", 0x45, 0, 0, 0, 0x4000, 64,
                                   socket.IPPROTO_UDP, 0, sources[0], dst, 0, args.port, 9, 0,
                                   0x2a))
    where = (args.host, 0)
    start = time.monotonic()
    for i in range(args.count):
        packet[12:16] = sources[i % len(sources)]
        struct.pack_into("!H", packet, 20, 1024 + (i // len(sources)) % 64512)
        s.sendto(packet, where)
    print(f"sent {args.count} in {time.monotonic() - start:.1f}s")


# ------------------------------------------------------------------------------------------- load

def load(args):
    import threading

    lock = threading.Lock()

    def one():
        s = socket.create_connection((args.host, args.port), timeout=args.timeout)
        try:
            s.sendall(b"GET / HTTP/1.0\r\nHost: vip\r\n\r\n")
            buf = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
        finally:
            s.close()
        head, _, body = buf.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.0 200") or not body.endswith(b"\n"):
            return "ERR:bad-answer"
        return body.decode().strip()

    def phase():
        try:
            with open(args.phase) as f:
                return f.read().strip() or "-"
        except OSError:
            return "-"

    def worker():
        while not os.path.exists(args.stop):
            now = phase()
            try:
                out = one()
            except OSError as e:
                out = err_name(e)
            with lock:
                print(now, out, flush=True)

    threads = [threading.Thread(target=worker) for _ in range(args.workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# ------------------------------------------------------------------------------------------- many

def many(args):
    raise_nofile()
    sel = selectors.DefaultSelector()
    counts, errors, held = {}, {}, []
    started = done = 0
    connecting = 0
    start = time.monotonic()

    def failed(sock, exc):
        nonlocal done, connecting
        sel.unregister(sock)
        sock.close()
        errors[err_name(exc)] = errors.get(err_name(exc), 0) + 1
        done += 1
        connecting -= 1

    while done < args.conns:
        while started < args.conns and connecting < args.parallel:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            rc = s.connect_ex((args.host, args.port))
            if rc not in (0, errno.EINPROGRESS):
                e = err_name(OSError(rc, os.strerror(rc)))
                errors[e] = errors.get(e, 0) + 1
                s.close()
                done += 1
                started += 1
                continue
            sel.register(s, selectors.EVENT_WRITE, [b"", time.monotonic()])
            started += 1
            connecting += 1
        events = sel.select(timeout=1.0)
        now = time.monotonic()
        for key, ev in events:
            s, state = key.fileobj, key.data
            if ev & selectors.EVENT_WRITE:
                rc = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if rc:
                    failed(s, OSError(rc, os.strerror(rc)))
                    continue
                try:
                    s.send(b"hello\n")
                except OSError as e:
                    failed(s, e)
                    continue
                sel.modify(s, selectors.EVENT_READ, state)
                continue
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError as e:
                failed(s, e)
                continue
            if not data:
                failed(s, EOFError())
                continue
            state[0] += data
            if b"\n" in state[0]:
                who = state[0].split()[0].decode()
                counts[who] = counts.get(who, 0) + 1
                sel.unregister(s)
                held.append(s)
                done += 1
                connecting -= 1
        if not events:
            for key in list(sel.get_map().values()):
                if now - key.data[1] > args.timeout:
                    failed(key.fileobj, TimeoutError())
    for who in sorted(counts):
        print(who, counts[who])
    print("errors", sum(errors.values()), " ".join(f"{k}={v}" for k, v in errors.items()))
    print("held", len(held), f"in {time.monotonic() - start:.1f}s", flush=True)
    sys.stdin.readline()
    for s in held:
        s.close()
    print("closed", flush=True)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("serve")
    s.add_argument("name")
    s.add_argument("--http", type=int, action="append", default=[])
    s.add_argument("--line", type=int, action="append", default=[])
    s.add_argument("--udp", type=int, action="append", default=[])
    s.add_argument("--bind", default="0.0.0.0")
    s.add_argument("--ready")
    for mode in ("hold", "udp", "load", "many"):
        c = sub.add_parser(mode)
        c.add_argument("host")
        c.add_argument("port", type=int)
        c.add_argument("--timeout", type=float, default=5.0)
        if mode == "udp":
            c.add_argument("--sockets", type=int, default=1)
            c.add_argument("--count", type=int, default=1)
            c.add_argument("--size", type=int, default=4)
            c.add_argument("--unconnected", action="store_true")
            c.add_argument("--retries", type=int, default=0)
            c.add_argument("--reply-size", type=int, default=0)
            c.add_argument("--ttl", type=int, default=0)
        if mode == "load":
            c.add_argument("--phase", required=True)
            c.add_argument("--stop", required=True)
            c.add_argument("--workers", type=int, default=3)
        if mode == "many":
            c.add_argument("--conns", type=int, required=True)
            c.add_argument("--parallel", type=int, default=200)
    c = sub.add_parser("icmp")
    c.add_argument("host")
    c.add_argument("--quote", required=True)
    c.add_argument("--type", type=int, default=3)
    c.add_argument("--code", type=int, default=4)
    c.add_argument("--mtu", type=int, default=0)
    for mode in ("synflood", "udpflood"):
        c = sub.add_parser(mode)
        c.add_argument("host")
        c.add_argument("port", type=int)
        c.add_argument("--count", type=int, required=True)
        c.add_argument("--sources", required=True)
    args = p.parse_args()
    modes = {"serve": serve, "hold": hold, "udp": udp, "load": load, "many": many, "icmp": icmp,
             "synflood": synflood, "udpflood": udpflood}
    modes[args.mode](args)


if __name__ == "__main__":
    main()
