#!/usr/bin/env python3
"""The peer VM's command server and its client (selftests with a `# peer: ipvs` header).

A selftest that needs a second machine (a director running in-tree ip_vs beside one running the
module under test) gets a peer VM on its VM's only NIC, peer0 (xtask/src/vm.rs: a point-to-point
Ethernet link). VLAN 99 of that link is the management segment: 10.99.0.1 in the test's VM,
10.99.0.2 in the peer, where this server runs shell command lines for the test. The other VLANs
are the test's own segments.

  peer.py serve                 in the peer VM (its whole job; it ends with the VM)
  peer.py wait SECS             until the server answers (the peer boots beside the test)
  peer.py call [--stdin] SH     run the shell command line SH in the peer's initial namespace:
                                its output and exit status become ours (--stdin: ours is its
                                input). A command that leaves a process running must send that
                                process's output elsewhere, or the call waits for it.

One request per TCP connection: a JSON line {"sh", "stdin", "timeout"} answered by a JSON line
{"rc", "out", "err"}.
"""
import json
import socket
import socketserver
import subprocess
import sys
import time

ADDR = ("10.99.0.2", 7999)
MGMT_VLAN = 99


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        try:
            req = json.loads(self.rfile.readline())
            r = subprocess.run(
                ["bash", "-c", req["sh"]],
                input=req.get("stdin", "").encode(),
                capture_output=True,
                timeout=req.get("timeout", 120),
            )
            ans = {"rc": r.returncode, "out": r.stdout.decode(errors="replace"),
                   "err": r.stderr.decode(errors="replace")}
        except subprocess.TimeoutExpired as e:
            ans = {"rc": 124, "out": "", "err": "peer: timed out: %s\n" % e}
        except (ValueError, KeyError) as e:
            ans = {"rc": 2, "out": "", "err": "peer: bad request: %s\n" % e}
        self.wfile.write((json.dumps(ans) + "\n").encode())


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def serve():
    setup = [
        "ip link set peer0 up",
        "ip link add link peer0 name peer0.%d type vlan id %d" % (MGMT_VLAN, MGMT_VLAN),
        "ip addr add %s/24 dev peer0.%d" % (ADDR[0], MGMT_VLAN),
        "ip link set peer0.%d up" % MGMT_VLAN,
    ]
    for cmd in setup:
        if subprocess.run(cmd.split()).returncode != 0:
            sys.exit("peer: %s failed" % cmd)
    print("peer: serving on %s:%d" % ADDR, flush=True)
    Server(ADDR, Handler).serve_forever()


def request(sh, stdin="", timeout=120):
    with socket.create_connection(ADDR, timeout=timeout + 10) as s:
        s.sendall((json.dumps({"sh": sh, "stdin": stdin, "timeout": timeout}) + "\n").encode())
        return json.loads(s.makefile().readline())


def main(argv):
    if argv[:1] == ["serve"]:
        serve()
    elif len(argv) == 2 and argv[0] == "wait":
        deadline = time.monotonic() + float(argv[1])
        while True:
            try:
                if request("true", timeout=10)["rc"] == 0:
                    return 0
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit("peer: no answer from %s:%d" % ADDR)
            time.sleep(1)
    elif argv[:1] == ["call"] and len(argv) in (2, 3):
        stdin = sys.stdin.read() if argv[1] == "--stdin" else ""
        ans = request(argv[-1], stdin)
        sys.stdout.write(ans["out"])
        sys.stderr.write(ans["err"])
        return ans["rc"]
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
