#!/bin/sh
# SPDX-License-Identifier: MIT
# t0102: a python3 urllib agent recorded live, replayed offline.
#
# Serves: tests/servers/replay-server.py on 127.0.0.1:$PORT, stopped before
#         any replay.
# Runs:   /usr/bin/python3 agent.py URL: prints time.time(), datetime.now(),
#         uuid4(), random.random(), os.urandom(8).hex() and the iteration
#         order of a set of strings (PYTHONHASHSEED comes from getrandom);
#         then GET /hello, GET /count twice (the same request; the server's
#         counter makes the answers "count 1" then "count 2"), a POST to
#         /echo and GET /item/abc, on a new connection each (urllib).
# Must see: `attrace replay --strict` and the default relaxed replay print
#         exactly what the live run printed -- in particular "count 1" then
#         "count 2" (identical requests are served in recorded order, never
#         the first answer forever) -- exit 0 like live, and end stderr with
#         "fingerprint X (matches X)"; every recorded event is consumed.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
. "$SRCDIR/tests/integration/replay-lib.sh"

start_server PORT replay-server.py
URL=http://127.0.0.1:$PORT

cat >agent.py <<'PY'
import datetime
import os
import random
import sys
import time
import urllib.request
import uuid

url = sys.argv[1]
print("time", time.time())
print("datetime", datetime.datetime.now().isoformat())
print("uuid4", uuid.uuid4())
print("random", random.random())
print("urandom", os.urandom(8).hex())
print("set", list({"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"}))


def get(path, data=None):
    with urllib.request.urlopen(url + path, data=data, timeout=10) as r:
        return "%d %s" % (r.status, r.read().decode())


print("hello:", get("/hello"), end="")
print("count:", get("/count"), end="")
print("count:", get("/count"), end="")
print("post:", get("/echo", data=b"payload=" + uuid.uuid4().hex.encode()))
print("item:", get("/item/abc"), end="")
print("done at", time.time())
PY

test_expect_success 'live run, recorded: the two /count answers differ' '
	record_live live $PYTHON agent.py $URL &&
	test_equal 0 "$(cat live.rc)" "exit status" &&
	grep "^count: " live.out >counts &&
	printf "count: 200 count 1\ncount: 200 count 2\n" >expect &&
	test_cmp expect counts &&
	grep -q "^post: 200 echo 1: payload=[0-9a-f]\{32\}\$" live.out &&
	grep -q "^item: 200 item abc: " live.out
'

stop_servers

test_expect_success 'a second live run without the server fails (so replay cannot cheat)' '
	run_bare nosrv $PYTHON agent.py $URL &&
	test_equal 1 "$(cat nosrv.rc)" "exit status without a server"
'

test_expect_success 'replay --strict: same stdout byte for byte, fingerprint matches' '
	replay_run strict --strict live.trace -- $PYTHON agent.py $URL &&
	test_replay_same live strict
'

test_expect_success 'replay gives "count 1" then "count 2" (FIFO for identical requests)' '
	grep "^count: " strict.out >counts.r &&
	test_cmp expect counts.r
'

test_expect_success 'relaxed replay (the default): same stdout, no warning' '
	replay_run relaxed live.trace -- $PYTHON agent.py $URL &&
	test_replay_same live relaxed &&
	if grep "^attrace: warning: " relaxed.err; then
		echo "unexpected warnings"
		return 1
	fi
'

test_expect_success 'a second replay of the same trace prints the same again' '
	replay_run strict2 --strict live.trace -- $PYTHON agent.py $URL &&
	test_replay_same live strict2
'

test_expect_success 'replay leaves no recorded event unused' '
	test_replay_all_consumed strict
'

test_done
