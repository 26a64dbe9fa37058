#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# udp-echo.py -- UDP server for integration tests: answers each datagram D
# with b"pong " + D. Listens on 127.0.0.1, port 0 by default, and prints
# "PORT <n>" as the first line of stdout once bound.
import argparse
import socket
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.host, a.port))
    sys.stdout.write("PORT %d\n" % s.getsockname()[1])
    sys.stdout.flush()
    while True:
        data, peer = s.recvfrom(65536)
        s.sendto(b"pong " + data, peer)


if __name__ == "__main__":
    main()
