#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# halves-server.py -- a line server whose answers take their time (t0009).
#
# Listens on 127.0.0.1 (a port the kernel picks) and prints "PORT <n>" once
# it accepts connections. Per connection, answers each line it reads:
#   ok        "ok\n" at once
#   half N    N bytes in two halves, the first after 100 ms, the second 150 ms
#             later ("x" * (N // 2), then "y"s): the client's receive has
#             started before any of it comes (Linux, 6.18 here, never wakes a
#             receive with SO_RCVLOWAT that started with fewer bytes queued)
#   mute      nothing, ever
# Standard library only, a thread per connection.
import socket
import sys
import threading
import time


def serve(c):
    f = c.makefile("rb")
    for line in f:
        w = line.split()
        if not w:
            continue
        if w[0] == b"half":
            n = int(w[1])
            time.sleep(0.1)
            c.sendall(b"x" * (n // 2))
            time.sleep(0.15)
            c.sendall(b"y" * (n - n // 2))
        elif w[0] == b"ok":
            c.sendall(b"ok\n")


def main():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    print("PORT %d" % s.getsockname()[1], flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
