#!/bin/sh
# SPDX-License-Identifier: MIT
# t0121-network-call: the shim writes one network_call event per HTTP
# exchange, rebuilt from the connection's redacted bytes.
#
# Serves: tests/servers/replay-server.py on 127.0.0.1 (HTTP, and HTTPS with a
#         throwaway CA made here); nghttpd with TLS (ALPN h2) when installed.
# Runs:   curl keep-alive GETs of two URLs; python3 urllib POST of a JSON body
#         with an Authorization header; curl of a chunked and of a
#         text/event-stream response; curl https (HTTP/1.1 and --http2);
#         a step around one request; a fork; replays offline (attrace
#         replay runs CMD in a network namespace of its own, as unshare -rn
#         does, with the servers stopped); a python3 loop killed by SIGKILL.
# Must see: network_call events with the right method, url, status and
#         decoded body; no secret anywhere in the decompressed trace; the
#         replay writes the same network_call events and its fingerprint
#         matches; the killed program's trace is readable and holds the
#         exchanges it completed.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
. "$SRCDIR/tests/integration/replay-lib.sh"

command -v openssl >/dev/null 2>&1 && test_set_prereq OPENSSL

start_server PORT replay-server.py
URL=http://127.0.0.1:$PORT

# nc NAME FILTER: FILTER over the array of NAME.trace's network_call payloads.
nc()
{
	zstdcat "$1.trace" | jq -c -s "[.[] | select(.type == \"network_call\") | .payload] | $2"
}

# ncj NAME FILTER: the same, a string result written raw (jq -j).
ncj()
{
	zstdcat "$1.trace" | jq -j -s "[.[] | select(.type == \"network_call\") | .payload] | $2"
}

test_expect_success CURL,CLI 'curl, keep-alive GETs of two URLs: two network_call events on one connection' '
	record_live ka curl -s $URL/count $URL/item/3 &&
	test_equal 0 "$(cat ka.rc)" "exit status" &&
	test_equal 2 "$(nc ka length)" "network_call events" &&
	test_equal "[\"GET $URL/count 200 count 1\\n\",\"GET $URL/item/3 200 item 3: 4e07408562bedb8b\\n\"]" \
		"$(nc ka "map(\"\(.method) \(.url) \(.status) \(.response.body)\")")" "exchanges" &&
	test_equal 1 "$(nc ka "map(.conn) | unique | length")" "connections" &&
	test_equal "\"HTTP/1.1\"" "$(nc ka ".[0].version")" "version" &&
	test_equal "true" "$(nc ka "all(.ts_request <= .ts_first_byte and .ts_first_byte <= .ts_end)")" "timing" &&
	test_trace_complete ka.trace
'

SECRET=sk-attrace0121testkeyABCDEFGHIJ0123456789
cat >post.py <<'PY'
import json
import sys
import urllib.request

req = urllib.request.Request(sys.argv[1] + "/echo", method="POST",
                             data=json.dumps({"q": "weather", "n": 3}).encode(),
                             headers={"Content-Type": "application/json",
                                      "Authorization": "Bearer " + sys.argv[2]})
with urllib.request.urlopen(req, timeout=10) as r:
    print(r.status, r.read().decode())
PY

test_expect_success 'python3 urllib POST with a JSON body and an Authorization header' '
	record_live post $PYTHON post.py $URL $SECRET &&
	test_equal 0 "$(cat post.rc)" "exit status" &&
	test_equal 1 "$(nc post length)" "network_call events" &&
	test_equal "\"POST $URL/echo 200\"" "$(nc post ".[0] | \"\(.method) \(.url) \(.status)\"")" "exchange" &&
	printf "{\"q\": \"weather\", \"n\": 3}" >expect &&
	ncj post ".[0].request.body" >body &&
	test_cmp expect body &&
	test_equal 24 "$(nc post ".[0].request.body_len")" "request body length" &&
	nc post ".[0].request.headers[] | select(.[0] == \"Authorization\") | .[1]" >auth &&
	grep -q "^\"Bearer \[redacted:[0-9a-f]\{16\}\]\"\$" auth
'

test_expect_success 'the secret is in no network_call, nor anywhere in the decompressed trace' '
	! nc post . | grep -q attrace0121testkey &&
	zstdcat post.trace >post.jsonl &&
	! grep -q attrace0121testkey post.jsonl &&
	! grep -q attrace0121testkey post.trace
'

test_expect_success CURL 'a chunked response: the body de-chunked' '
	record_live chunked curl -s $URL/chunked &&
	printf "part 1\npart 2\npart 3\n" >expect &&
	test_cmp expect chunked.out &&
	ncj chunked ".[0].response.body" >body &&
	test_cmp expect body &&
	test_equal 21 "$(nc chunked ".[0].response.body_len")" "body length" &&
	test_equal "[\"Transfer-Encoding\",\"chunked\"]" \
		"$(nc chunked ".[0].response.headers[] | select(.[0] == \"Transfer-Encoding\")")" "header"
'

test_expect_success CURL 'a text/event-stream response: its events counted, its body whole' '
	record_live sse curl -s -N $URL/sse &&
	test_equal 0 "$(cat sse.rc)" "exit status" &&
	test_equal 1 "$(nc sse length)" "network_call events" &&
	test_equal 3 "$(nc sse ".[0].sse_events")" "events" &&
	printf "data: tick 1\n\ndata: tick 2\n\ndata: tick 3\n\n" >expect &&
	ncj sse ".[0].response.body" >body &&
	test_cmp expect body &&
	test_equal null "$(nc sse ".[0].incomplete")" "complete"
'

test_expect_success CURL,CLI 'attrace show lists the network_call exchanges' '
	attrace show --http ka.trace >ka.http &&
	grep -q "^2 HTTP exchanges\$" ka.http &&
	grep -q "GET $URL/item/3 -> 200 OK (25 B)" ka.http
'

test_expect_success OPENSSL 'a throwaway CA' '
	make_test_ca t0121
'
if test_have_prereq OPENSSL && [ -s srv.pem ]; then
	start_server TPORT replay-server.py --tls "$PWD/srv.pem" "$PWD/srv.key"
	test_set_prereq TLS
fi
TURL=https://localhost:$TPORT

test_expect_success CURL,TLS 'curl https (HTTP/1.1): the plaintext exchange, scheme https' '
	record_live tls curl -s --http1.1 --cacert ca.pem $TURL/count &&
	test_equal "count 1" "$(cat tls.out)" "output" &&
	test_equal "[\"GET $TURL/count 200 HTTP/1.1 count 1\\n\"]" \
		"$(nc tls "map(\"\(.method) \(.url) \(.status) \(.version) \(.response.body)\")")" "exchange"
'

NGHTTPD=$(command -v nghttpd || echo /usr/sbin/nghttpd)
if test_have_prereq CURL,TLS && [ -x "$NGHTTPD" ] && curl -V 2>/dev/null | grep -q HTTP2; then
	mkdir docs
	printf "h2 hello\n" >docs/hello.txt
	H2PORT=$("$PYTHON" -c "import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])")
	"$NGHTTPD" -d docs "$H2PORT" srv.key srv.pem >nghttpd.out 2>&1 &
	test_pids_="$test_pids_ $!"
	i=0
	while [ $i -lt 100 ]; do
		curl -s --http2 --cacert ca.pem "https://localhost:$H2PORT/hello.txt" >/dev/null 2>&1 && {
			test_set_prereq NGHTTPD
			break
		}
		i=$((i + 1))
		sleep 0.05
	done
fi

test_expect_success CURL,NGHTTPD 'curl --http2 over TLS: an HTTP/2 network_call' '
	record_live h2 curl -s --http2 --cacert ca.pem https://localhost:$H2PORT/hello.txt &&
	test_equal "h2 hello" "$(cat h2.out)" "output" &&
	test_equal "[\"GET https://localhost:$H2PORT/hello.txt 200 HTTP/2 h2 hello\\n\"]" \
		"$(nc h2 "map(\"\(.method) \(.url) \(.status) \(.version) \(.response.body)\")")" "exchange" &&
	nc h2 ".[0].response.headers[] | select(.[0] == \"server\") | .[1]" | grep -q nghttpd
'

test_expect_success CURL,NGHTTPD 'HTTP/2 with an Authorization header: HPACK-decoded, then redacted' '
	record_live h2key curl -s --http2 --cacert ca.pem -H "Authorization: Bearer $SECRET" \
		-H "X-Api-Key: $SECRET" https://localhost:$H2PORT/hello.txt &&
	test_equal "h2 hello" "$(cat h2key.out)" "output" &&
	test_equal "\"HTTP/2\"" "$(nc h2key ".[0].version")" "version" &&
	nc h2key ".[0].request.headers[] | select(.[0] == \"authorization\") | .[1]" >auth &&
	grep -q "^\"Bearer \[redacted:[0-9a-f]\{16\}\]\"\$" auth &&
	nc h2key ".[0].request.headers[] | select(.[0] == \"x-api-key\") | .[1]" >key &&
	grep -q "^\"\[redacted:[0-9a-f]\{16\}\]\"\$" key &&
	! nc h2key . | grep -q attrace0121testkey
'

cat >step.py <<'PY'
import ctypes
import http.client
import sys

lib = ctypes.CDLL(None)  # attrace_step_* from the preloaded libattrace.so
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
for k in range(1, 4):
    if k == 2:
        lib.attrace_step_begin(b"fetch", None)
    c.request("GET", "/item/%d" % k)
    c.getresponse().read()
    if k == 2:
        lib.attrace_step_end(None)
print("ok")
PY

test_expect_success 'each network_call carries the step active when its request started' '
	record_live step $PYTHON step.py $PORT &&
	test_equal ok "$(cat step.out)" "output" &&
	zstdcat step.trace | jq -c -s "[.[] | select(.type == \"network_call\") | \"\(.step) \(.payload.url)\"]" >step.nc &&
	test_equal "[\"root $URL/item/1\",\"fetch $URL/item/2\",\"root $URL/item/3\"]" "$(cat step.nc)" "steps"
'

cat >fork.py <<'PY'
import http.client
import os
import sys

port = int(sys.argv[1])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
c.request("GET", "/item/1")
c.getresponse().read()
pid = os.fork()
if pid == 0:
    d = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    d.request("GET", "/item/2")
    d.getresponse().read()
    os._exit(0)
os.waitpid(pid, 0)
c.request("GET", "/item/3")
c.getresponse().read()
print("ok")
PY

test_expect_success 'fork: the child writes its own exchanges only, the parent keeps its connection' '
	record_live fork $PYTHON fork.py $PORT &&
	test_equal ok "$(cat fork.out)" "output" &&
	zstdcat fork.trace | jq -c -s "[.[] | select(.type == \"network_call\") | \"\(.pid) \(.payload.url)\"] | sort" >fork.nc &&
	test_equal "[\"0 $URL/item/1\",\"0 $URL/item/3\",\"0.1 $URL/item/2\"]" "$(cat fork.nc)" "exchanges per process" &&
	test_trace_complete fork.trace
'

cat >loop.py <<'PY'
import os
import sys
import time
import urllib.request

for k in range(3):
    urllib.request.urlopen(sys.argv[1] + "/item/%d" % k, timeout=10).read()
print("done", os.getpid(), flush=True)
time.sleep(60)
PY

# The pid is python's own (printed by it): $! of a backgrounded shell
# function is the subshell's, and killing that left python running.
test_expect_success 'a program killed by SIGKILL leaves a readable trace with its exchanges' '
	rm -f kill.trace &&
	shim_run "$PWD/kill.trace" "$PYTHON" loop.py $URL >kill.out 2>kill.err &
	bg=$! && test_pids_="$test_pids_ $bg" &&
	i=0 &&
	while ! grep -q "^done " kill.out 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done &&
	pid=$(sed -n "s/^done //p" kill.out) &&
	test -n "$pid" &&
	sleep 0.3 &&
	kill -9 "$pid" &&
	{ wait $bg; true; } &&
	! kill -0 "$pid" 2>/dev/null &&
	test_trace_valid kill.trace &&
	test_equal "[\"$URL/item/0\",\"$URL/item/1\",\"$URL/item/2\"]" "$(nc kill "map(.url) | sort")" "urls" &&
	test_jq kill.trace "[.[] | select(.type == \"agent_complete\")] | length == 0"
'

cat >abort.py <<'PY'
import json
import os
import sys
import urllib.request

req = urllib.request.Request(sys.argv[1] + "/echo", method="POST",
                             data=json.dumps({"q": "abort"}).encode(),
                             headers={"Authorization": "Bearer " + sys.argv[2]})
with urllib.request.urlopen(req, timeout=10) as r:
    print(r.status, flush=True)
os.abort()
PY

# The socket bytes are redacted when the writer gathers them (late records,
# libattrace(7)); a fatal signal before that flushes from its handler, which
# must not redact: those bytes are dropped, never written raw.
test_expect_success 'SIGABRT right after a POST: the trace ends with the signal, the key is nowhere' '
	rm -f abort.trace &&
	shim_run "$PWD/abort.trace" "$PYTHON" abort.py $URL $SECRET >abort.out 2>abort.err
	test_equal 134 $? "exit status" &&
	test_equal 200 "$(cat abort.out)" "output" &&
	test_trace_valid abort.trace &&
	zstdcat abort.trace >abort.jsonl &&
	! grep -q attrace0121testkey abort.jsonl &&
	test_equal "\"SIGABRT\"" "$(jq -s -c "map(select(.type == \"agent_complete\"))[0].payload.signame" abort.jsonl)" "signal" &&
	jq -s -c "[.[] | select(.type == \"socket_call\" and (.payload.op == \"send\" or .payload.op == \"recv\"))
		| (.payload.data != null or .payload.data_dropped == true)] | (length > 1 and all)" abort.jsonl >abort.ok &&
	test_equal true "$(cat abort.ok)" "every transfer has its data or data_dropped"
'

stop_servers

# nc_same LIVE REPLAY: the same network_call events, timing and conn ids aside.
nc_same()
{
	f_="map(del(.ts_request, .ts_first_byte, .ts_end, .conn) | del(.response.headers[] | select(.[0] == \"Date\" or .[0] == \"date\")))"
	nc "$1" "$f_" >"$1.nc" &&
	nc "$2" "$f_" >"$2.nc" &&
	test "$(cat "$1.nc")" != "[]" &&
	test_cmp "$1.nc" "$2.nc"
}

test_expect_success CURL 'replay (offline: a fresh network namespace) of the keep-alive curl: same network_call events, fingerprint matches' '
	replay_run ka.r --strict -o "$PWD/ka.r.trace" ka.trace -- curl -s $URL/count $URL/item/3 &&
	test_replay_same ka ka.r &&
	nc_same ka ka.r
'

test_expect_success 'replay (offline: a fresh network namespace) of the python3 POST: same network_call events, fingerprint matches' '
	replay_run post.r --strict -o "$PWD/post.r.trace" post.trace -- $PYTHON post.py $URL $SECRET &&
	test_replay_same post post.r &&
	nc_same post post.r &&
	! zstdcat post.r.trace | grep -q attrace0121testkey
'

test_expect_success CURL,TLS 'replay (offline: a fresh network namespace) of curl https: same network_call events' '
	replay_run tls.r --strict -o "$PWD/tls.r.trace" tls.trace -- curl -s --http1.1 --cacert ca.pem $TURL/count &&
	test_replay_same tls tls.r &&
	nc_same tls tls.r
'

test_done
