"""traffic.py over IPv6, for the IPv6 selftests (selftests/lib/topo6.sh): the same commands and
options, with IPv6 sockets where traffic.py makes IPv4 ones (`serve` needs `--bind ::`).

traffic.py itself stays IPv4-only: every IPv4 test's proof against ip_vs depends on its text.
"""
import os
import socket
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import traffic  # noqa: E402


class Socket6(socket.socket):
    """socket.socket, IPv6 where IPv4 is asked for."""

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        if family == socket.AF_INET:
            family = socket.AF_INET6
        super().__init__(family, type, proto, fileno)


traffic.socket = types.SimpleNamespace(**{**vars(socket), "socket": Socket6})

if __name__ == "__main__":
    traffic.main()
