#!/bin/sh
# SPDX-License-Identifier: MIT
# t0013: a process killed with SIGKILL loses at most the last 100 ms, even
# when it never returns to the shim after recording.
#
# Serves: tests/servers/http-server.py on 127.0.0.1:$PORT (the python client).
# Runs:   prog-flush N spin|pause READY (tests/integration/prog-flush.c) under
#         the shim: N wall-clock reads, a recorded open of READY.tmp, then a
#         busy loop without calls (spin) or pause(2). The test waits for READY,
#         waits 500 ms more (five flush periods), and kills it with SIGKILL
#         (READY holds its pid).
#         N = 3 stays below the rate at which the shim starts its writer
#         thread (each event is written through); N = 200000 starts it.
#         With IDLE_MS = 300 the program sleeps between the reads and the
#         open: the writer, with nothing left to flush, waits without a
#         timer, and the open must wake it.
#         With PIN set, the program and a shell busy loop are pinned to one
#         CPU (taskset): the writer gets no CPU of its own and must take its
#         share of that one from two busy loops, in time.
#         python3 (blocking sockets, keep-alive): 400 GETs of /hello (the
#         writer starts, and the program's thread gathers its lines while it
#         waits for each answer, libattrace(7) HOW IT RECORDS), then
#         /slow?ms=60000, whose answer never comes in time; killed 500 ms
#         after it printed that it sent it.
# Must see: a trace that zstdcat reads completely, with agent_start, the
#         open of READY.tmp, exactly N reads of the realtime clock, and no
#         agent_complete; for python3, 400 network_call events for /hello,
#         each answer's bytes, and the send of the last request.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"

PROG=$BUILDDIR/tests/integration/prog-flush
start_http_server

# kill_after_ready N HOW [IDLE_MS]: run, kill -9 500 ms after READY, check the trace.
kill_after_ready()
{
	n=$1 how=$2 t=$PWD/flush-$1-$2${3:+-idle}.trace
	rm -f ready ready.tmp "$t"
	pin= hog=
	if [ -n "${PIN:-}" ]; then
		pin="taskset -c $PIN"
		$pin sh -c 'while :; do :; done' &
		hog=$!
		test_pids_="$test_pids_ $hog"
	fi
	# taskset itself is not traced: env sets the shim up for the program only
	$pin env LD_PRELOAD="$SHIM_PRELOAD" ATTRACE_TRACE="$t" $PROG "$n" "$how" "$PWD/ready" $3 &
	bg=$!
	test_pids_="$test_pids_ $bg"
	i=0
	while ! [ -f ready ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	test -f ready || return 1
	sleep 0.5
	kill -9 "$(cat ready)"
	wait $bg
	[ -z "$hog" ] || kill $hog
	test_trace_valid "$t" &&
		test_jq "$t" "[.[] | select(.type == \"agent_start\")] | length == 1" &&
		test_jq "$t" "[.[] | select(.type == \"file_open\"
			and (.payload.path | endswith(\"ready.tmp\")))] | length == 1" &&
		test_jq "$t" "[.[] | select(.type == \"time\" and .payload.clock == \"realtime\")
			| .payload.count] | add == $n" &&
		test_jq "$t" "[.[] | select(.type == \"agent_complete\")] | length == 0"
}

test_expect_success SHIM 'a few events, then a busy loop: all on disk before kill -9' '
	kill_after_ready 3 spin
'

test_expect_success SHIM 'a few events, then pause(): all on disk before kill -9' '
	kill_after_ready 3 pause
'

test_expect_success SHIM 'many events (writer thread), then a busy loop: all on disk' '
	kill_after_ready 200000 spin
'

test_expect_success SHIM 'many events (writer thread), then pause(): all on disk' '
	kill_after_ready 200000 pause
'

test_expect_success SHIM 'writer idle for 300 ms, then one event and a busy loop: on disk' '
	kill_after_ready 200000 spin 300
'

test_expect_success SHIM 'writer and program on one CPU next to a busy loop: all on disk' '
	PIN=$(awk "/^Cpus_allowed_list/ { split(\$2, c, \"[-,]\"); print c[1] }" /proc/self/status) &&
	kill_after_ready 2000000 spin; r=$?; PIN=; return $r
'

test_expect_success SHIM 'python3 waits on a socket with lines gathered: all on disk' '
	cat >waiter.py <<-EOF &&
	import http.client, sys
	c = http.client.HTTPConnection("127.0.0.1", $PORT)
	for i in range(400):
	    c.request("GET", "/hello")
	    assert c.getresponse().read() == b"hello from attrace\\n"
	c.request("GET", "/slow?ms=60000")
	print("sent", flush=True)
	c.getresponse().read()
	EOF
	rm -f waiter.trace waiter.out &&
	shim_run "$PWD/waiter.trace" /usr/bin/python3 waiter.py >waiter.out &
	bg=$! &&
	test_pids_="$test_pids_ $bg" &&
	i=0 &&
	while ! grep -q sent waiter.out 2>/dev/null && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done &&
	sleep 0.5 &&
	kill -9 $bg &&
	{ wait $bg; true; } &&
	test_trace_valid waiter.trace &&
	test_jq waiter.trace "[.[] | select(.type == \"network_call\" and .payload.status == 200
		and (.payload.url | endswith(\"/hello\"))
		and .payload.response.body == \"hello from attrace\\n\")] | length == 400" &&
	test_jq waiter.trace "[.[] | select(.type == \"socket_call\" and .payload.op == \"send\"
		and (.payload.data // \"\" | startswith(\"GET /slow?ms=60000 \")))] | length == 1" &&
	test_jq waiter.trace "[.[] | select(.type == \"agent_complete\")] | length == 0"
'

test_done
