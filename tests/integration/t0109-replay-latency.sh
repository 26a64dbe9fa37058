#!/bin/sh
# SPDX-License-Identifier: MIT
# t0109: replay does not wait for the network. A functional check, not a
# benchmark: the server delays each answer on purpose, and a replay that
# waited for the recorded latency would take at least the sum of the delays;
# the check allows half of it, so a loaded machine does not make it fail.
#
# Serves: tests/servers/replay-server.py on 127.0.0.1:$PORT, stopped before
#         any replay.
# Runs:   /usr/bin/python3 slow.py URL: 10 sequential urllib GETs of
#         /slow?ms=300 (the server answers each after 300 ms: live takes
#         more than 3 s), printing each body.
# Must see: live takes at least 3 s; `attrace replay --strict` prints the same
#         bytes, exits 0, ends stderr with "fingerprint X (matches X)" and
#         the best of three replays takes under 1.5 s, half the delays
#         (measured around the attrace command with date +%s%N).
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
. "$SRCDIR/tests/integration/replay-lib.sh"

start_server PORT replay-server.py
URL=http://127.0.0.1:$PORT

cat >slow.py <<'PY'
import sys
import urllib.request

for i in range(10):
    with urllib.request.urlopen(sys.argv[1] + "/slow?ms=300", timeout=10) as r:
        print(i, r.read().decode(), end="")
PY

test_expect_success 'live run, recorded: 10 answers after 300 ms each' '
	t0=$(date +%s%N) &&
	record_live live $PYTHON slow.py $URL &&
	t1=$(date +%s%N) &&
	live_ms=$(((t1 - t0) / 1000000)) &&
	echo "live: $live_ms ms" &&
	test_equal 0 "$(cat live.rc)" "exit status" &&
	test_equal 10 "$(grep -c "^[0-9] slept 300 #[0-9]*\$" live.out)" "answers" &&
	test "$live_ms" -ge 3000
'

stop_servers

test_expect_success 'replay --strict: same stdout, fingerprint matches' '
	t0=$(date +%s%N) &&
	replay_run strict --strict live.trace -- $PYTHON slow.py $URL &&
	t1=$(date +%s%N) &&
	replay_ms=$(((t1 - t0) / 1000000)) &&
	test_replay_same live strict
'

# Under the sanitizers python's own start-up alone takes most of the
# budget: the ratio is judged in the normal build only.
[ -n "${ATTRACE_ASAN_PRELOAD:-}" ] || test_set_prereq NOT_SANITIZED
# The best of three replays: the machine is shared, and one slow start of
# python is not what this checks.
test_expect_success NOT_SANITIZED 'replay does not wait: under half the server delays' '
	for k in 1 2; do
		t0=$(date +%s%N) &&
		replay_run again$k --strict live.trace -- $PYTHON slow.py $URL &&
		t1=$(date +%s%N) &&
		ms=$(((t1 - t0) / 1000000)) &&
		if [ "$ms" -lt "$replay_ms" ]; then replay_ms=$ms; fi || return 1
	done &&
	echo "live: $live_ms ms, replay: $replay_ms ms" &&
	if [ "$replay_ms" -ge 1500 ]; then
		echo "replay took $replay_ms ms: it waited for (some of) the 3000 ms of server delays"
		return 1
	fi
'

test_done
