#!/bin/sh
# SPDX-License-Identifier: MIT
# t0006: a C program with pthreads, non-blocking connect + poll, and fork.
#
# Serves: tests/servers/http-server.py on 127.0.0.1:$PORT.
# Runs:   prog-threads-fork PORT (tests/integration/prog-threads-fork.c): two
#         threads each do a non-blocking connect (EINPROGRESS, poll, SO_ERROR)
#         and GET /echo?t=N with Connection: close; then fork; the child GETs
#         /echo?child=1 and exits 0; the parent waits.
# Must see: same output as bare; threads 1 and 2 started by tid 0, each with
#         its own connection "T.1" showing connect (EINPROGRESS), connect_result
#         (0), the request and the response; a process_spawn fork of "0.1";
#         the child's agent_start (parent "0", via "fork") and its exchange
#         under pid "0.1"; both processes end with status 0.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"

start_http_server
PROG=$BUILDDIR/tests/integration/prog-threads-fork

test_expect_success 'bare run' '
	run_bare bare $PROG $PORT &&
	printf "thread 1: echo:t=1\nthread 2: echo:t=2\nchild: echo:child=1\nchild exited 0\n" >expect &&
	test_cmp expect bare.out &&
	test_equal 0 "$(cat bare.rc)"
'

test_expect_success SHIM 'under the shim: same stdout and exit status' '
	run_shim t $PROG $PORT &&
	test_same_run bare t &&
	test_cmp bare.err t.err
'

test_expect_success SHIM 'the trace is valid and complete for "0" and "0.1"' '
	test_trace_complete t.trace &&
	test_jq t.trace "[.[].pid] | unique == [\"0\", \"0.1\"]"
'

test_expect_success SHIM 'tid 0 starts threads 1 and 2' '
	test_jq t.trace "$JQ_DEFS [of_type(\"thread_start\") | select(.pid == \"0\")]
		| all(.tid == 0) and (map(.payload.child_tid) | sort == [1,2])"
'

test_expect_success SHIM 'each thread: non-blocking connect, connect_result, request, response' '
	for n in 1 2; do
		test_jq t.trace "$JQ_DEFS [conns[] | select(.pid == \"0\" and (.sent | contains(\"/echo?t=$n \")))]
			| length == 1 and .[0].tids == [$n] and .[0].proto == \"tcp\"
			and (.[0].conn | startswith(\"$n.\"))
			and .[0].peer == \"127.0.0.1:$PORT\"
			and (.[0].sent | startswith(\"GET /echo?t=$n HTTP/1.1\r\n\"))
			and (.[0].received | endswith(\"\r\n\r\necho:t=$n\n\"))
			and .[0].ops[0] == \"connect\" and (.[0].ops | index(\"connect_result\") != null)
			and (.[0].errnos | index(\"EINPROGRESS\") != null)" "thread $n" || return 1
	done &&
	test_jq t.trace "[.[] | select(.type == \"socket_call\" and .payload.op == \"connect_result\"
		and .pid == \"0\")] | length == 2 and all(.payload.n == 0 and .payload.errno == null)"
'

test_expect_success SHIM 'the parent records the fork of "0.1"' '
	test_jq t.trace "[.[] | select(.type == \"process_spawn\")] | length == 1
		and .[0].pid == \"0\" and .[0].tid == 0 and .[0].payload.op == \"fork\"
		and .[0].payload.child == \"0.1\" and (.[0].payload.real_pid | type) == \"number\""
'

test_expect_success SHIM 'the child names its parent and does its own exchange' '
	test_jq t.trace "[.[] | select(.pid == \"0.1\")] | sort_by(.seq) | .[0].type == \"agent_start\"
		and .[0].payload.parent == \"0\" and .[0].payload.via == \"fork\"" &&
	test_jq t.trace "$JQ_DEFS [conns[] | select(.sent | contains(\"child=1\"))]
		| length == 1 and .[0].pid == \"0.1\" and .[0].peer == \"127.0.0.1:$PORT\"
		and (.[0].sent | startswith(\"GET /echo?child=1 HTTP/1.1\r\n\"))
		and (.[0].received | endswith(\"\r\n\r\necho:child=1\n\"))"
'

test_expect_success SHIM 'the threads'\'' exchanges are not repeated in the child' '
	test_jq t.trace "[.[] | select(.pid == \"0.1\" and .type == \"socket_call\"
		and ((.payload.data // \"\") | contains(\"/echo?t=\")))] | length == 0"
'

test_expect_success SHIM 'child exits 0 through exit(), parent 0' '
	test_jq t.trace "[.[] | select(.type == \"agent_complete\")] | sort_by(.pid)
		| map([.pid, .payload.status]) == [[\"0\", 0], [\"0.1\", 0]]" &&
	test_jq t.trace "[.[] | select(.type == \"agent_complete\" and .pid == \"0.1\")]
		| .[0].payload.how == \"exit\""
'

test_done
