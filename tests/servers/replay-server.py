#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# replay-server.py -- the HTTP/1.1 server of the replay tests (t0101-t0109):
# responses that change from one request to the next, so that a replay served
# from the wrong recorded exchange shows.
#
# Standard library only, threaded, keep-alive. Listens on 127.0.0.1 (port 0:
# the kernel picks one) and prints "PORT <n>" once it accepts connections.
#
# Endpoints (every response has Content-Length, but /chunked and /sse):
#   GET  /count           "count N\n", N = 1, 2, 3... (one counter per server)
#   GET  /item/K          "item K: <sha256(K) hex, 16 digits>\n" (distinct per K)
#   GET  /hello           "hello from attrace\n"
#   GET  /slow?ms=N       sleeps N ms, then "slept N #C\n", C counting /slow calls
#   GET  /chunked         Transfer-Encoding: chunked, "part 1\n" .. "part 3\n" as
#                         three chunks
#   GET  /sse             text/event-stream, three events "data: tick K", then
#                         the server closes the connection (no length)
#   POST /echo            "echo N: " + the request body, N counting POSTs
#   anything else         404 "not found\n"
import hashlib
import http.server
import socketserver
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()
COUNTERS = {}


def bump(name):
    with LOCK:
        COUNTERS[name] = COUNTERS.get(name, 0) + 1
        return COUNTERS[name]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "attrace-replay-test/1"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def reply(self, body, status=200):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path == "/count":
            self.reply(b"count %d\n" % bump("count"))
        elif u.path.startswith("/item/"):
            k = u.path[len("/item/"):]
            h = hashlib.sha256(k.encode()).hexdigest()[:16]
            self.reply(("item %s: %s\n" % (k, h)).encode())
        elif u.path == "/chunked":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for k in range(1, 4):
                part = b"part %d\n" % k
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        elif u.path == "/sse":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            for k in range(1, 4):
                self.wfile.write(b"data: tick %d\n\n" % k)
                self.wfile.flush()
            self.close_connection = True
        elif u.path == "/hello":
            self.reply(b"hello from attrace\n")
        elif u.path == "/slow":
            ms = int(q.get("ms", ["100"])[0])
            time.sleep(ms / 1000.0)
            self.reply(b"slept %d #%d\n" % (ms, bump("slow")))
        else:
            self.reply(b"not found\n", status=404)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n) if n else b""
        if urllib.parse.urlsplit(self.path).path == "/echo":
            self.reply(b"echo %d: " % bump("post") + body)
        else:
            self.reply(b"not found\n", status=404)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    # --tls CERT KEY: HTTPS (t0130), with the test's throwaway CA
    if len(sys.argv) == 4 and sys.argv[1] == "--tls":
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    sys.stdout.write("PORT %d\n" % srv.server_address[1])
    sys.stdout.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
