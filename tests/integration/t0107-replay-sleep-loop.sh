#!/bin/sh
# SPDX-License-Identifier: MIT
# t0107: a program that sleeps in a loop until wall-clock time has passed,
# recorded live and replayed: the replayed clock must still move.
#
# Serves: tests/servers/replay-server.py on 127.0.0.1:$PORT, stopped before
#         any replay.
# Runs:   /usr/bin/python3 loop.py URL: GET /hello, then
#         `while time.time() < start + 1.0: time.sleep(0.05); n += 1`, then
#         prints the elapsed time rounded to 0.1 s and the number of rounds
#         (the replayed clock gives the recorded readings, so the same
#         number), then GET /count.
# Must see: the replays (strict and relaxed) finish within `timeout 20`
#         around `attrace replay` (a frozen clock would loop forever), print what the live run printed,
#         exit 0 and end stderr with "fingerprint X (matches X)".
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
. "$SRCDIR/tests/integration/replay-lib.sh"

# attrace record and attrace replay run under `timeout 20` (replay-lib.sh).
ATTRACE_RUN_TIMEOUT=20

start_server PORT replay-server.py
URL=http://127.0.0.1:$PORT

cat >loop.py <<'PY'
import sys
import time
import urllib.request

url = sys.argv[1]
with urllib.request.urlopen(url + "/hello", timeout=10) as r:
    print(r.read().decode(), end="")
start = time.time()
n = 0
while time.time() < start + 1.0:
    time.sleep(0.05)
    n += 1
print("elapsed %.1f" % round(time.time() - start, 1))
print("rounds", n)
with urllib.request.urlopen(url + "/count", timeout=10) as r:
    print(r.read().decode(), end="")
PY

test_expect_success 'live run, recorded: about one second' '
	record_live live $PYTHON loop.py $URL &&
	test_equal 0 "$(cat live.rc)" "exit status" &&
	printf "hello from attrace\nelapsed 1.0\n" >expect &&
	head -n2 live.out >live.2 &&
	test_cmp expect live.2 &&
	test_equal "count 1" "$(tail -n1 live.out)" "last line"
'

stop_servers

test_expect_success 'replay --strict finishes (within 20 s) and prints the same' '
	replay_run strict --strict live.trace -- $PYTHON loop.py $URL &&
	test_replay_same live strict
'

test_expect_success 'relaxed replay finishes (within 20 s) and prints the same' '
	replay_run relaxed live.trace -- $PYTHON loop.py $URL &&
	test_replay_same live relaxed
'

test_done
