#!/bin/sh
# SPDX-License-Identifier: MIT
# t0103: python3 with a thread pool doing concurrent requests, recorded live,
# replayed offline three times.
#
# Serves: tests/servers/replay-server.py on 127.0.0.1:$PORT, stopped before
#         any replay.
# Runs:   /usr/bin/python3 pool.py URL: concurrent.futures.ThreadPoolExecutor(8)
#         doing 40 urllib GETs of /item/0../item/39 (distinct bodies), then
#         prints "path status body" sorted by path, and a uuid4.
# Must see: each of three `attrace replay --strict` runs prints exactly what
#         the live run printed whichever worker thread a request lands on in
#         replay, exits 0, and ends stderr with "fingerprint X (matches X)";
#         a relaxed replay does the same without warnings; every recorded
#         event is consumed.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
. "$SRCDIR/tests/integration/replay-lib.sh"

start_server PORT replay-server.py
URL=http://127.0.0.1:$PORT

cat >pool.py <<'PY'
import concurrent.futures
import sys
import urllib.request
import uuid

url = sys.argv[1]


def get(path):
    with urllib.request.urlopen(url + path, timeout=10) as r:
        return path, r.status, r.read().decode()


paths = ["/item/%d" % i for i in range(40)]
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    results = list(pool.map(get, paths))
for path, status, body in sorted(results):
    print(path, status, body, end="")
print("uuid", uuid.uuid4())
PY

test_expect_success 'live run, recorded: 40 distinct answers' '
	record_live live $PYTHON pool.py $URL &&
	test_equal 0 "$(cat live.rc)" "exit status" &&
	test_equal 40 "$(grep -c "^/item/[0-9]* 200 item [0-9]*: [0-9a-f]\{16\}\$" live.out)" "answers" &&
	test_equal 40 "$(grep "^/item/" live.out | cut -d" " -f5 | sort -u | wc -l)" "distinct bodies"
'

stop_servers

for i in 1 2 3; do
	test_expect_success "replay --strict #$i: same stdout, fingerprint matches" "
		replay_run strict$i --strict live.trace -- \$PYTHON pool.py \$URL &&
		test_replay_same live strict$i
	"
done

test_expect_success 'relaxed replay: same stdout, no warning' '
	replay_run relaxed live.trace -- $PYTHON pool.py $URL &&
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
