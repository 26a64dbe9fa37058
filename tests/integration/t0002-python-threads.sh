#!/bin/sh
# SPDX-License-Identifier: MIT
# t0002: /usr/bin/python3 urllib + http.client from a thread pool.
#
# Serves: tests/servers/http-server.py on 127.0.0.1:$PORT.
# Runs:   threads.py PORT: a ThreadPoolExecutor(4) maps fetch over i = 0..7;
#         the first four tasks meet at a barrier, so exactly 4 worker threads
#         exist. Even i use urllib on http://localhost:PORT/echo?i=I, odd i
#         http.client on 127.0.0.1. Prints the 8 bodies in order.
# Must see: same output as bare; thread_start events for tids 1..4 emitted by
#         tid 0; every request's bytes (GET /echo?i=I out, echo:i=I back) on a
#         connection used by a worker thread; getaddrinfo("localhost") answered
#         with 127.0.0.1; five recordings, whose tasks land on different
#         worker threads, have one fingerprint.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"

start_http_server

cat >threads.py <<'PY'
import http.client
import sys
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor

port = int(sys.argv[1])
barrier = threading.Barrier(4)


def fetch(i):
    if i < 4:
        barrier.wait(timeout=30)
    if i % 2 == 0:
        with urllib.request.urlopen("http://localhost:%d/echo?i=%d" % (port, i)) as r:
            return r.read().decode()
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.request("GET", "/echo?i=%d" % i)
    body = c.getresponse().read().decode()
    c.close()
    return body


with ThreadPoolExecutor(max_workers=4) as ex:
    for body in ex.map(fetch, range(8)):
        sys.stdout.write(body)
print("threads:", threading.active_count())
PY

test_expect_success 'bare run prints the 8 bodies' '
	run_bare bare $PYTHON threads.py $PORT &&
	test_equal 0 "$(cat bare.rc)" &&
	for i in 0 1 2 3 4 5 6 7; do echo "echo:i=$i"; done >expect &&
	echo "threads: 1" >>expect &&
	test_cmp expect bare.out
'

test_expect_success SHIM 'under the shim: same stdout and exit status' '
	run_shim t $PYTHON threads.py $PORT &&
	test_same_run bare t
'

test_expect_success SHIM 'the trace is valid and complete, one process' '
	test_trace_complete t.trace &&
	test_jq t.trace "[.[].pid] | unique == [\"0\"]" &&
	test_jq t.trace "$JQ_DEFS [of_type(\"agent_complete\")] | length == 1 and .[0].payload.status == 0"
'

test_expect_success SHIM 'tid 0 starts threads 1..4, and only those' '
	test_jq t.trace "$JQ_DEFS [of_type(\"thread_start\")] | all(.tid == 0)" &&
	test_jq t.trace "$JQ_DEFS [of_type(\"thread_start\") | .payload.child_tid] | sort == [1,2,3,4]" &&
	test_jq t.trace "[.[].tid] | unique == [0,1,2,3,4]"
'

test_expect_success SHIM 'each worker thread records its own socket calls' '
	test_jq t.trace "[.[] | select(.type == \"socket_call\") | .tid] | unique == [1,2,3,4]"
'

test_expect_success SHIM 'every request and its answer are in the trace, on a worker thread' '
	for i in 0 1 2 3 4 5 6 7; do
		test_jq t.trace "$JQ_DEFS [conns[]
			| select(.sent | startswith(\"GET /echo?i=$i HTTP/1.1\r\n\"))]
			| length == 1 and .[0].peer == \"127.0.0.1:$PORT\"
			and (.[0].tids - [1,2,3,4] == [])
			and (.[0].received | startswith(\"HTTP/1.0 200 OK\r\n\") or startswith(\"HTTP/1.1 200 OK\r\n\"))
			and (.[0].received | endswith(\"\r\n\r\necho:i=$i\n\"))" "request $i" || return 1
	done
'

test_expect_success SHIM 'getaddrinfo("localhost") is recorded with its answer, per urllib request' '
	test_jq t.trace "$JQ_DEFS [of_type(\"dns\") | select(.payload.fn == \"getaddrinfo\"
		and .payload.name == \"localhost\")]
		| length == 4 and all(.tid >= 1 and .tid <= 4)
		and all(.payload.service == \"$PORT\")
		and all(.payload.answers | any(.addr == \"127.0.0.1\" and .port == $PORT
			and .family == \"inet\" and .socktype == \"stream\"))"
'

test_expect_success SHIM,CLI 'five recordings have one fingerprint, whatever the schedule' '
	"$ATTRACE_BIN" fingerprint t.trace >fp.expect &&
	test_equal 64 "$(tr -d "\n" <fp.expect | wc -c)" &&
	for n in 1 2 3 4; do
		run_shim again$n $PYTHON threads.py $PORT &&
		"$ATTRACE_BIN" fingerprint again$n.trace >fp.$n &&
		test_cmp fp.expect fp.$n || return 1
	done
'

test_done
