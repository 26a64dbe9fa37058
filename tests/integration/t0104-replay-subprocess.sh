#!/bin/sh
# SPDX-License-Identifier: MIT
# t0104: python3 spawning curl through subprocess.run, recorded live,
# replayed offline.
#
# Serves: tests/servers/replay-server.py on 127.0.0.1:$PORT, stopped before
#         any replay.
# Runs:   /usr/bin/python3 spawn.py URL: GET /count itself (urllib), then
#         subprocess.run(["curl", "-s", URL/count]) twice with stdout
#         captured, printing what curl printed and its status, then a uuid4.
#         timeout 20 /usr/bin/python3 child.py URL: timeout(1) forks, the
#         child execs python3, which prints os.urandom(4) and GETs /count.
# Must see: the live run prints "count 1", "count 2", "count 3" (python,
#         curl, curl); `attrace replay --strict` and a relaxed replay print
#         the same bytes (each curl child consumes its own recorded stream),
#         exit 0 and end stderr with "fingerprint X (matches X)"; every
#         recorded event is consumed. The same for the child of timeout(1).
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
. "$SRCDIR/tests/integration/replay-lib.sh"

start_server PORT replay-server.py
URL=http://127.0.0.1:$PORT

cat >spawn.py <<'PY'
import subprocess
import sys
import urllib.request
import uuid

url = sys.argv[1]
with urllib.request.urlopen(url + "/count", timeout=10) as r:
    print("python:", r.read().decode(), end="")
for i in range(2):
    r = subprocess.run(["curl", "-s", url + "/count"], capture_output=True)
    print("curl said:", r.stdout.decode(), end="")
    print("curl exited", r.returncode)
print("uuid", uuid.uuid4())
PY

cat >child.py <<'PY'
import os
import sys
import urllib.request

print("urandom", os.urandom(4).hex())
with urllib.request.urlopen(sys.argv[1] + "/count", timeout=10) as r:
    print("child:", r.read().decode(), end="")
PY

test_expect_success CURL 'live run, recorded' '
	record_live live $PYTHON spawn.py $URL &&
	test_equal 0 "$(cat live.rc)" "exit status" &&
	printf "python: count 1\ncurl said: count 2\ncurl exited 0\ncurl said: count 3\ncurl exited 0\n" >expect &&
	head -n5 live.out >live.5 &&
	test_cmp expect live.5
'

test_expect_success 'timeout(1) forking python3: live run, recorded' '
	record_live fe timeout 20 $PYTHON child.py $URL &&
	test_equal 0 "$(cat fe.rc)" "exit status" &&
	# count 4 after the curl case, count 1 when that one was skipped
	grep -Eq "^child: count [14]\$" fe.out
'

stop_servers

test_expect_success CURL 'replay --strict: same stdout, fingerprint matches' '
	replay_run strict --strict live.trace -- $PYTHON spawn.py $URL &&
	test_replay_same live strict
'

test_expect_success CURL 'relaxed replay: same stdout, no warning' '
	replay_run relaxed live.trace -- $PYTHON spawn.py $URL &&
	test_replay_same live relaxed &&
	if grep "^attrace: warning: " relaxed.err; then
		echo "unexpected warnings"
		return 1
	fi
'

test_expect_success CURL 'replay leaves no recorded event unused' '
	test_replay_all_consumed strict
'

test_expect_success 'timeout(1) forking python3: replay --strict, same stdout' '
	replay_run fe.s --strict fe.trace -- timeout 20 $PYTHON child.py $URL &&
	test_replay_same fe fe.s
'

test_expect_success 'timeout(1) forking python3: relaxed replay, same stdout' '
	replay_run fe.r fe.trace -- timeout 20 $PYTHON child.py $URL &&
	test_replay_same fe fe.r
'

test_done
