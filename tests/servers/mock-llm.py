#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# mock-llm.py -- an OpenAI-style chat completions API for the tests (t0131).
#
# Usage: mock-llm.py [--tls CERT KEY]. Listens on 127.0.0.1 (port 0) and
# prints "PORT <n>". POST /v1/chat/completions needs "Authorization: Bearer
# sk-..." (401 otherwise). The first turn (no "tool" message yet) answers
# with a tool call get_weather(city); a turn that carries the tool's result
# answers with a final message quoting it. Every answer carries a fresh
# server-side nonce (id "chatcmpl-<random>"), so a replay that printed a
# live answer from anywhere but the trace would show.
import http.server
import json
import os
import socketserver
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-llm/1"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        req = json.loads(self.rfile.read(n) or b"{}")
        if not self.headers.get("Authorization", "").startswith("Bearer sk-"):
            self.send_json(401, {"error": {"message": "missing API key"}})
            return
        if self.path != "/v1/chat/completions":
            self.send_json(404, {"error": {"message": "no such endpoint"}})
            return
        nonce = "chatcmpl-" + os.urandom(8).hex()
        msgs = req.get("messages", [])
        tool = [m for m in msgs if m.get("role") == "tool"]
        if not tool:
            city = msgs[-1]["content"].split()[-1].strip("?")
            msg = {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call_" + os.urandom(4).hex(), "type": "function",
                "function": {"name": "get_weather",
                             "arguments": json.dumps({"city": city})}}]}
        else:
            msg = {"role": "assistant",
                   "content": "Forecast: %s (answer %s)" % (tool[-1]["content"], nonce)}
        self.send_json(200, {"id": nonce, "object": "chat.completion", "model": req.get("model"),
                             "choices": [{"index": 0, "message": msg,
                                          "finish_reason": "tool_calls" if not tool else "stop"}]})


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    srv = Server(("127.0.0.1", 0), Handler)
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
