#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# http-server.py -- the HTTP/1.1 server integration tests talk to.
#
# Standard library only, threaded, keep-alive. Listens on 127.0.0.1 (port 0 by
# default: the kernel picks one) and prints "PORT <n>" as the first line of
# stdout once it accepts connections (and writes <n> to --port-file if given).
#
# Endpoints (every response has Content-Length, so connections stay open):
#   GET  /hello           "hello from attrace\n"
#   GET  /echo?QUERY      "echo:QUERY\n"
#   POST /echo            the request body, unchanged
#   GET  /slow?ms=N       sleeps N ms, then "slept N\n"
#   GET  /bytes?n=N       N deterministic bytes: byte i is (i * 7 + i // 256) % 256
#   anything else         404 "not found\n"
import argparse
import http.server
import os
import socketserver
import sys
import time
import urllib.parse

HELLO = b"hello from attrace\n"


def det_bytes(n):
    return bytes((i * 7 + i // 256) % 256 for i in range(n))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "attrace-test/1"
    sys_version = ""

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def reply(self, body, status=200, ctype="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path == "/hello":
            self.reply(HELLO)
        elif u.path == "/echo":
            self.reply(b"echo:" + u.query.encode() + b"\n")
        elif u.path == "/slow":
            ms = int(q.get("ms", ["100"])[0])
            time.sleep(ms / 1000.0)
            self.reply(b"slept %d\n" % ms)
        elif u.path == "/bytes":
            n = int(q.get("n", ["0"])[0])
            self.reply(det_bytes(n), ctype="application/octet-stream")
        else:
            self.reply(b"not found\n", status=404)

    do_HEAD = do_GET

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n) if n else b""
        if urllib.parse.urlsplit(self.path).path == "/echo":
            self.reply(body, ctype=self.headers.get("Content-Type", "application/octet-stream"))
        else:
            self.reply(b"not found\n", status=404)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    srv = Server((a.host, a.port), Handler)
    srv.verbose = a.verbose
    port = srv.server_address[1]
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, a.port_file)
    sys.stdout.write("PORT %d\n" % port)
    sys.stdout.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
