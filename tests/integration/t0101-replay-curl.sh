#!/bin/sh
# SPDX-License-Identifier: MIT
# t0101: curl recorded live, replayed offline by `attrace replay`.
#
# Serves: tests/servers/replay-server.py on 127.0.0.1:$PORT, stopped before
#         any replay (the replay also runs in a fresh network namespace).
# Runs:   curl -s URL/count (a response that differs on every request),
#         curl -s -d 'a=1&b=two' URL/echo, and curl -sS to a closed port
#         (connection refused: exit 7 and "curl: (7) Failed to connect...").
# Must see: each replayed with `attrace replay --strict`: stdout byte for byte
#         as live (the recorded "count 1", not a fresh answer), the same exit
#         status and curl's own stderr, and a last stderr line
#         "attrace: replay consumed N of M events; fingerprint X (matches X)"
#         with X the fingerprint `attrace record` printed. A missing, a
#         truncated and a corrupt trace are refused before the command runs:
#         exit 1, one "attrace: cannot read '...'" line, no marker file.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
. "$SRCDIR/tests/integration/replay-lib.sh"

start_server PORT replay-server.py
URL=http://127.0.0.1:$PORT
# A port nothing listens on: bound by the kernel, then closed.
CLOSED=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

test_expect_success CURL 'live: GET, POST and a refused connection, recorded' '
	record_live get curl -s $URL/count &&
	printf "count 1\n" >expect &&
	test_cmp expect get.out &&
	test_equal 0 "$(cat get.rc)" "curl GET status" &&
	record_live post curl -s -d "a=1&b=two" $URL/echo &&
	printf "echo 1: a=1&b=two" >expect &&
	test_cmp expect post.out &&
	test_equal 0 "$(cat post.rc)" "curl POST status" &&
	record_live refused curl -sS http://127.0.0.1:$CLOSED/hello &&
	test_equal 7 "$(cat refused.rc)" "curl status on a closed port" &&
	grep -q "^curl: (7) " refused.err &&
	# the server counts: a second live GET would not print "count 1"
	curl -s $URL/count >again.out &&
	printf "count 2\n" >expect &&
	test_cmp expect again.out
'

stop_servers

test_expect_success CURL 'the server is gone' '
	! curl -s $URL/count >gone.out 2>&1
'

test_expect_success CURL 'replay --strict of the GET: same output, fingerprint matches' '
	replay_run get.r --strict get.trace -- curl -s $URL/count &&
	test_replay_same get get.r
'

test_expect_success CURL 'replay --strict of the POST with its body: same output' '
	replay_run post.r --strict post.trace -- curl -s -d "a=1&b=two" $URL/echo &&
	test_replay_same post post.r
'

test_expect_success CURL 'replay of the refused connection: curl exits 7 with the same message' '
	replay_run refused.r --strict refused.trace -- curl -sS http://127.0.0.1:$CLOSED/hello &&
	test_equal 7 "$(cat refused.r.rc)" "exit status" &&
	test_replay_same refused refused.r
'

test_expect_success CURL 'relaxed replay (the default) of the GET: same output' '
	replay_run get.rr get.trace -- curl -s $URL/count &&
	test_replay_same get get.rr
'

test_expect_success CURL 'replays leave no recorded event unused' '
	test_replay_all_consumed get.r &&
	test_replay_all_consumed post.r &&
	test_replay_all_consumed refused.r
'

# test_refused NAME TRACE: `attrace replay TRACE -- touch marker` refuses to
# start: exit 1, one line "attrace: cannot read 'TRACE'...", no marker.
test_refused()
{
	rm -f marker &&
	replay_run "$1" "$2" -- touch marker &&
	test_equal 1 "$(cat "$1.rc")" "exit status" &&
	test_equal 1 "$(wc -l <"$1.err")" "lines on stderr" &&
	test_match "^attrace: cannot read '$2'" "$(cat "$1.err")" "stderr" &&
	if test -e marker; then
		echo "the command ran (marker exists)"
		return 1
	fi
}

test_expect_success CLI 'a missing trace is refused before the command runs' '
	test_refused missing missing.jsonl.zst
'

test_expect_success CURL 'a truncated trace is refused before the command runs' '
	size=$(wc -c <get.trace) &&
	head -c $((size / 2)) get.trace >truncated.jsonl.zst &&
	test_refused truncated truncated.jsonl.zst
'

test_expect_success CLI 'a file that is not a trace is refused before the command runs' '
	printf "this is not zstd\n" >corrupt.jsonl.zst &&
	test_refused corrupt corrupt.jsonl.zst
'

test_done
