#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# demo-server.py -- a tiny "LLM-like" HTTP API for scripts/demo (stdlib only).
#
# Usage: demo-server.py PORTFILE
# Listens on 127.0.0.1 on a free port, writes the port number to PORTFILE, and
# serves until killed:
#   GET  /v1/tools  -> a JSON list of tools
#   POST /v1/chat   -> a JSON chat completion that answers the last message
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOOLS = {"tools": [
    {"name": "get_weather", "description": "Current weather for a city",
     "parameters": {"city": "string"}},
    {"name": "write_note", "description": "Save a short note to a file",
     "parameters": {"text": "string"}},
]}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "demo-llm/1.0"

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/v1/tools":
            self.reply(200, TOOLS)
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/v1/chat":
            self.reply(404, {"error": "not found"})
            return
        n = int(self.headers.get("Content-Length") or 0)
        try:
            req = json.loads(self.rfile.read(n) or b"{}")
            question = req["messages"][-1]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            self.reply(400, {"error": "expected {\"messages\": [{\"role\", \"content\"}]}"})
            return
        self.reply(200, {
            "id": "chatcmpl-demo-1",
            "object": "chat.completion",
            "model": "demo-llm",
            "choices": [{
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": f"To answer {question!r} I will check the weather, then write a note.",
                    "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
                },
            }],
            "usage": {"prompt_tokens": 12, "completion_tokens": 17},
        })

    def log_message(self, fmt, *args):
        pass


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    # rename: the demo never reads a half-written port number
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
