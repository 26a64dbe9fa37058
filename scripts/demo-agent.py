#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# demo-agent.py -- a small "agent" for scripts/demo (stdlib only).
#
# Usage: demo-agent.py BASE_URL
# Does what agents do: reads the clock, makes a uuid, asks an LLM-like API
# for its tools and for an answer (urllib), runs a tool as a subprocess
# (curl -s), writes a note to a file, and prints a summary.
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid


def main():
    base = sys.argv[1]
    # Talk to the demo server directly, whatever http_proxy says.
    http = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    started = time.time()
    run_id = str(uuid.uuid4())

    with http.open(base + "/v1/tools", timeout=10) as r:
        tools = json.load(r)["tools"]

    req = urllib.request.Request(
        base + "/v1/chat",
        data=json.dumps({"run_id": run_id, "messages": [
            {"role": "user", "content": "What should I wear in Paris today?"}]}).encode(),
        headers={"Content-Type": "application/json",
                 # a made-up key: the trace stores a marker in its place
                 "Authorization": "Bearer " + os.environ.get(
                     "OPENAI_API_KEY", "sk-demo-4f1c9a7e2b8d4e6fa0c3")})
    with http.open(req, timeout=10) as r:
        answer = json.load(r)["choices"][0]["message"]

    # The "tool": another process, recorded into the same trace.
    tool_out = subprocess.run(["curl", "-s", "--noproxy", "*", base + "/v1/tools"],
                              capture_output=True, text=True, check=True).stdout

    with open("demo-note.txt", "w") as f:
        f.write(f"run {run_id}\n{answer['content']}\n")

    print(f"agent: run {run_id}")
    print(f"agent: {len(tools)} tools offered: {', '.join(t['name'] for t in tools)}")
    print(f"agent: the model said: {answer['content']}")
    print(f"agent: tool call via curl returned {len(tool_out)} bytes")
    print(f"agent: wrote demo-note.txt; done in {time.time() - started:.3f} s")


if __name__ == "__main__":
    main()
