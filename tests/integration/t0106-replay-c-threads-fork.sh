#!/bin/sh
# SPDX-License-Identifier: MIT
# t0106: the C program of t0006 (pthreads, non-blocking connect + poll, fork)
# recorded live and replayed offline.
#
# Serves: tests/servers/http-server.py on 127.0.0.1:$PORT, stopped before any
#         replay.
# Runs:   prog-threads-fork PORT (tests/integration/prog-threads-fork.c): two
#         threads each do a non-blocking connect (EINPROGRESS, poll, SO_ERROR)
#         and GET /echo?t=N; then fork; the child GETs /echo?child=1 and exits
#         0; the parent waits and prints "child exited 0".
# Must see: three `attrace replay --strict` runs and a relaxed one print the
#         four lines of the live run, exit 0, and end stderr with
#         "fingerprint X (matches X)" (each thread and the forked child are
#         served their own recorded exchange).
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
. "$SRCDIR/tests/integration/replay-lib.sh"

start_http_server
PROG=$BUILDDIR/tests/integration/prog-threads-fork

test_expect_success 'live run, recorded' '
	record_live live $PROG $PORT &&
	printf "thread 1: echo:t=1\nthread 2: echo:t=2\nchild: echo:child=1\nchild exited 0\n" >expect &&
	test_cmp expect live.out &&
	test_equal 0 "$(cat live.rc)" "exit status"
'

stop_servers

test_expect_success 'without the server the program fails (so replay cannot cheat)' '
	run_bare nosrv $PROG $PORT &&
	! cmp -s expect nosrv.out
'

for i in 1 2 3; do
	test_expect_success "replay --strict #$i: same stdout, fingerprint matches" "
		replay_run strict$i --strict live.trace -- \$PROG \$PORT &&
		test_replay_same live strict$i
	"
done

test_expect_success 'relaxed replay: same stdout, no warning' '
	replay_run relaxed live.trace -- $PROG $PORT &&
	test_replay_same live relaxed &&
	if grep "^attrace: warning: " relaxed.err; then
		echo "unexpected warnings"
		return 1
	fi
'

test_expect_success 'replay leaves no recorded event unused' '
	test_replay_all_consumed strict1
'

test_done
