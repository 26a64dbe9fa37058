#!/bin/sh
# SPDX-License-Identifier: MIT
# t0113: HTTP/1 replayed per request (method, URL, body), whatever
# connection or thread a request goes out on.
#
# Serves: tests/servers/replay-server.py on 127.0.0.1:$PORT (POST /echo
#         answers "echo N: BODY", N counting POSTs: a per-request nonce
#         that shows which recorded answer a request got), stopped before
#         any replay.
# Runs:   /usr/bin/python3 pool.py URL [MODE]: a ThreadPoolExecutor(8) whose
#         workers each keep one http.client keep-alive connection and do 40
#         POSTs of distinct bodies between them, then print "I status
#         answer" sorted by I (MODE "mutate": request 17's body changes);
#         curl with three URLs (keep-alive on one connection).
# Must see: five `attrace replay --strict` runs in `unshare -rn` print
#         exactly the live output (every nonce with its request) with the
#         recorded fingerprint, every event consumed; curl's keep-alive
#         replay the same; the mutated body exits 86 with a
#         ReplayMismatchError naming POST, the URL, the closest recorded
#         request and the byte where the bodies part; relaxed replay of it
#         serves the closest request's answer and finishes.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
. "$SRCDIR/tests/integration/replay-lib.sh"

if ! unshare -rn true 2>/dev/null; then
	test_skip_all "unshare -rn is not available"
fi

start_server PORT replay-server.py
URL=http://127.0.0.1:$PORT

cat >pool.py <<'PY'
import concurrent.futures
import http.client
import sys
import threading
import urllib.parse

url = urllib.parse.urlsplit(sys.argv[1])
mode = sys.argv[2] if len(sys.argv) > 2 else ""
local = threading.local()


def post(i):
    if not hasattr(local, "conn"):
        local.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    body = "request %d of the pool, padded so the bodies share a prefix" % i
    if mode == "mutate" and i == 17:
        body = body.replace("padded", "PADDED")
    local.conn.request("POST", "/echo", body=body.encode(),
                       headers={"Content-Type": "text/plain"})
    r = local.conn.getresponse()
    return i, r.status, r.read().decode()


with concurrent.futures.ThreadPoolExecutor(8) as pool:
    results = list(pool.map(post, range(40)))
for i, status, answer in sorted(results):
    print(i, status, answer)
PY

# only_lookups_left NAME: every recorded event was consumed, but for host
# lookups: each connection of the pool looks its host up, and a replay whose
# pool opens fewer connections than live leaves some unused.
only_lookups_left()
{
	left_=$(grep "^attrace: replay left " "$1.err" | sed "s/^attrace: replay left [0-9]* recorded events* unused: //")
	if [ -n "$left_" ] && printf "%s\n" "$left_" | tr ";" "\n" | grep -v "^ *[0-9.]* seq [0-9]* dns 127\.0\.0\.1\$" | grep -q .; then
		echo "unused events other than lookups: $left_"
		return 1
	fi
}

# replay_offline NAME ARGS...: replay_run without a network.
replay_offline()
{
	name_=$1
	shift
	unshare -rn "$ATTRACE_BIN" replay "$@" >"$name_.out" 2>"$name_.err"
	echo $? >"$name_.rc"
}

test_expect_success 'live: 40 pooled keep-alive POSTs, recorded; each answer has its own nonce' '
	record_live live $PYTHON pool.py $URL &&
	test_equal 0 "$(cat live.rc)" "exit status" &&
	test_equal 40 "$(grep -c "^[0-9]* 200 echo [0-9]*: request [0-9]* of the pool" live.out)" "answers" &&
	test_equal 40 "$(cut -d" " -f4 live.out | sort -u | wc -l)" "distinct nonces" &&
	test_equal 0 "$(sed -n "s/^\([0-9]*\) 200 echo [0-9]*: request \([0-9]*\) .*/\1 \2/p" live.out | awk "\$1 != \$2" | wc -l)" "answers to their own requests" &&
	conns=$(zstdcat live.trace | grep -c "\"op\":\"connect\"") &&
	test "$conns" -gt 1 && test "$conns" -lt 40
'

test_expect_success CURL 'live: curl, three URLs on one keep-alive connection, recorded' '
	record_live curl curl -s $URL/item/1 $URL/count $URL/item/2 &&
	test_equal 0 "$(cat curl.rc)" "exit status" &&
	test_equal 1 "$(zstdcat curl.trace | grep -c "\"op\":\"connect\"")" "connections"
'

stop_servers

for i in 1 2 3 4 5; do
	test_expect_success "replay --strict offline #$i: the same bytes, fingerprint matches" "
		replay_offline strict$i --strict live.trace -- \$PYTHON pool.py \$URL &&
		test_replay_same live strict$i &&
		only_lookups_left strict$i
	"
done

test_expect_success CURL 'replay --strict offline of curl keep-alive: same output, every event served' '
	replay_offline curl.s --strict curl.trace -- curl -s $URL/item/1 $URL/count $URL/item/2 &&
	test_replay_same curl curl.s &&
	test_replay_all_consumed curl.s
'

test_expect_success 'a mutated body, strict: exit 86 naming method, URL, closest and byte' '
	replay_offline mut.s --strict live.trace -- $PYTHON pool.py $URL mutate
	test_equal 86 "$(cat mut.s.rc)" "exit status" &&
	grep "^attrace: ReplayMismatchError: " mut.s.err >mut.s.errors &&
	test_equal 1 "$(wc -l <mut.s.errors)" "error lines" &&
	test_match "^attrace: ReplayMismatchError: [0-9./]*: POST http://127\\.0\\.0\\.1:$PORT/echo has no recorded match; closest recorded: POST http://127\\.0\\.0\\.1:$PORT/echo; the body differs at byte 24: sent \".*PADDED so the.*\", recorded \".*padded so the.*\"\$" "$(cat mut.s.errors)" "error line"
'

test_expect_success 'a mutated body, relaxed: a warning, the closest answer served, the rest exact' '
	replay_offline mut.r live.trace -- $PYTHON pool.py $URL mutate &&
	test_equal 0 "$(cat mut.r.rc)" "exit status" &&
	grep -q "^attrace: warning: ReplayMismatchError: .*POST http://127.0.0.1:$PORT/echo has no recorded match" mut.r.err &&
	grep -v "^17 " live.out >live.16 && grep -v "^17 " mut.r.out >mut.16 &&
	test_cmp live.16 mut.16 &&
	grep -q "^17 200 echo [0-9]*: request 17 of the pool, padded" mut.r.out
'

test_done
