#!/bin/sh
# SPDX-License-Identifier: MIT
# t0131-replay-llm-agent: an OpenAI-style tool-calling agent (stdlib python3)
# against a local mock API over HTTPS, with an API key: recorded live,
# replayed offline byte for byte (the answers carry server-side nonces), the
# key absent from the trace; a changed prompt stops a strict replay naming
# POST /v1/chat/completions. Also curl over HTTP/2 (ALPN h2) when nghttpd is
# installed.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
. "$SRCDIR/tests/integration/replay-lib.sh"

command -v openssl >/dev/null 2>&1 && test_set_prereq OPENSSL
command -v nghttpd >/dev/null 2>&1 && test_set_prereq NGHTTPD

test_expect_success OPENSSL 'a throwaway CA and the mock API over HTTPS' '
	make_test_ca t0131
'
if ! test_have_prereq OPENSSL || ! [ -s srv.pem ]; then
	test_done
	exit
fi
start_server PORT mock-llm.py --tls "$PWD/srv.pem" "$PWD/srv.key"
API=https://localhost:$PORT/v1/chat/completions
export OPENAI_API_KEY=sk-attrace0131livekeyABCDEFGHIJKLMN0123

cat >agent.py <<'PY'
import json
import os
import ssl
import sys
import urllib.request

API, question = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context(cafile="ca.pem")


def chat(messages):
    req = urllib.request.Request(API, data=json.dumps({
        "model": "gpt-test", "messages": messages,
        "tools": [{"type": "function", "function": {"name": "get_weather"}}]}).encode(),
        headers={"Content-Type": "application/json",
                 "Authorization": "Bearer " + os.environ["OPENAI_API_KEY"]})
    with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
        return json.load(r)


def get_weather(city):
    return "sunny in %s" % city


messages = [{"role": "user", "content": question}]
first = chat(messages)
call = first["choices"][0]["message"]["tool_calls"][0]
args = json.loads(call["function"]["arguments"])
print("tool call:", call["function"]["name"], args, "id", first["id"])
messages += [first["choices"][0]["message"],
             {"role": "tool", "tool_call_id": call["id"], "content": get_weather(args["city"])}]
final = chat(messages)
print("answer:", final["choices"][0]["message"]["content"])
PY

test_expect_success 'live: the agent calls the API twice (a tool call, then the answer), recorded' '
	record_live live $PYTHON agent.py $API "What is the weather in Paris?" &&
	test_equal 0 "$(cat live.rc)" "exit status" &&
	grep -q "^tool call: get_weather {.city.: .Paris.} id chatcmpl-[0-9a-f]*\$" live.out &&
	grep -q "^answer: Forecast: sunny in Paris (answer chatcmpl-[0-9a-f]*)\$" live.out
'

test_expect_success 'the API key is nowhere in the trace' '
	! grep -q attrace0131livekey live.trace &&
	! zstdcat live.trace | grep -q attrace0131livekey &&
	zstdcat live.trace | grep -q "Authorization: Bearer \\[redacted:"
'

stop_servers

test_expect_success 'replay --strict offline: the same bytes (nonces included), fingerprint matches' '
	replay_run strict --strict live.trace -- $PYTHON agent.py $API "What is the weather in Paris?" &&
	test_replay_same live strict &&
	test_replay_all_consumed strict
'

test_expect_success 'a changed prompt: strict stops, naming POST /v1/chat/completions' '
	replay_run changed --strict live.trace -- $PYTHON agent.py $API "What is the weather in Rome?" &&
	test_equal 86 "$(cat changed.rc)" "exit status" &&
	grep -q "^attrace: ReplayMismatchError: 0/0: POST https://localhost:$PORT/v1/chat/completions has no recorded match; closest recorded: POST https://localhost:$PORT/v1/chat/completions; the body differs at byte [0-9]*: sent \".*\", recorded \".*\"\$" changed.err &&
	! grep -q attrace0131livekey changed.err
'

test_expect_success 'a changed prompt, relaxed: a warning, and the recorded answers are served' '
	replay_run changedr live.trace -- $PYTHON agent.py $API "What is the weather in Rome?" &&
	test_equal 0 "$(cat changedr.rc)" "exit status" &&
	grep -q "^attrace: warning: ReplayMismatchError: " changedr.err &&
	test_cmp live.out changedr.out
'

test_expect_success NGHTTPD,CURL 'curl over HTTP/2 (ALPN h2) against nghttpd: recorded and replayed' '
	mkdir -p www && echo "hello over h2" >www/h.txt &&
	{ nghttpd -d www 0 srv.key srv.pem >ng.out 2>&1 & echo $! >ng.pid; } &&
	H= && i=0 &&
	while [ -z "$H" ] && [ $i -lt 100 ]; do
		H=$(ss -ltnp 2>/dev/null | sed -n "s/.*127.0.0.1:\\([0-9]*\\) .*pid=$(cat ng.pid),.*/\\1/p;s/.*0.0.0.0:\\([0-9]*\\) .*pid=$(cat ng.pid),.*/\\1/p" | head -n1)
		i=$((i + 1)); sleep 0.05
	done &&
	record_live h2 curl -s --http2 --cacert ca.pem https://localhost:$H/h.txt &&
	kill "$(cat ng.pid)" &&
	test_equal "hello over h2" "$(cat h2.out)" "output" &&
	zstdcat h2.trace | grep -q "\"alpn\":\"h2\"" &&
	replay_run h2.s --strict h2.trace -- curl -s --http2 --cacert ca.pem https://localhost:$H/h.txt &&
	test_replay_same h2 h2.s
'

test_done
