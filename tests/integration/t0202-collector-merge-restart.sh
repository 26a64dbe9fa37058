#!/bin/sh
# SPDX-License-Identifier: MIT
# t0202: merging uploads of one trace, restart recovery, torn and corrupt
# segments, kill -9 in the middle of uploads.
#
# Records: sh -c 'echo hi; ls / >/dev/null' under the shim (two processes).
# Sends:  the root's events alone, then the whole trace (a child that
#         outlived the root arrives later), then the child's alone; then
#         1000 copies under distinct trace ids from 8 clients, the collector
#         killed with SIGKILL right after the 500th 2xx.
# Must see: the merge has every event once and the fingerprint of the whole
#         file; after SIGTERM or SIGKILL and a restart every acknowledged
#         upload (2xx) is listed and served intact; bytes appended to a
#         segment by a torn write are cut at start-up and never served; a
#         chunk whose bytes changed answers 500, never the bad bytes; an
#         upload cut by the kill is absent or whole, and sending it again
#         completes the set (1000 traces, every event once).
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
. "$SRCDIR/tests/integration/collector-lib.sh"

test_expect_success COLLECTOR,CURL_CLIENT,SHIM 'record a two-process trace; upload the root part' '
	shim_run "$PWD/t.trace" sh -c "echo hi; ls / >/dev/null" >/dev/null &&
	test_trace_complete t.trace &&
	zstdcat t.trace >all.jsonl &&
	test_equal 2 "$(jq -r .pid all.jsonl | sort -u | wc -l)" "processes recorded" &&
	grep "\"pid\":\"0\"," all.jsonl >root.jsonl &&
	grep -v "\"pid\":\"0\"," all.jsonl >child.jsonl &&
	start_collector c &&
	test_equal 201 "$(post root.jsonl)" &&
	test_equal "$(grep -c . root.jsonl)" "$(jq .events post.json)" &&
	test_equal 1 "$(jq .processes post.json)" &&
	ID=$(jq -r .trace_id post.json)
'

test_expect_success COLLECTOR,CURL_CLIENT,SHIM 'the whole trace merges in: every event once, fingerprint of the whole' '
	test_equal 201 "$(post t.trace)" &&
	test_equal "$(grep -c . all.jsonl)" "$(jq .events post.json)" "events" &&
	test_equal "$(grep -c . child.jsonl)" "$(jq .new_events post.json)" "new events" &&
	test_equal 2 "$(jq .processes post.json)" &&
	test_equal "$(attrace fingerprint t.trace)" "$(jq -r .fingerprint post.json)" "fingerprint" &&
	test_equal 200 "$(post child.jsonl)" "the child part again" &&
	test_equal 200 "$(get /api/v1/traces/$ID/events)" &&
	sort all.jsonl >want && sort get.out >got && test_cmp want got &&
	test_equal 200 "$(get /api/v1/traces/$ID)" &&
	test_equal 2 "$(jq .uploads get.out)" &&
	test_equal "$(attrace fingerprint t.trace)" "$(jq -r .fingerprint get.out)"
'

test_expect_success COLLECTOR,CURL_CLIENT,SHIM 'one process split over two uploads merges too' '
	n=$(grep -c . root.jsonl) && half=$((n / 2)) &&
	sed "s/$ID/5f0c000000000000000000000000cafe/g" all.jsonl >s.jsonl &&
	head -n $half s.jsonl >s1.jsonl &&
	test_equal 201 "$(post s1.jsonl)" &&
	test_equal 201 "$(post s.jsonl)" &&
	test_equal "$(grep -c . s.jsonl)" "$(jq .events post.json)" &&
	test_equal "$(attrace fingerprint t.trace)" "$(jq -r .fingerprint post.json)"
'

test_expect_success COLLECTOR,CURL_CLIENT,SHIM 'after SIGTERM and a restart everything is there' '
	get /api/v1/traces >/dev/null && cp get.out before.json &&
	stop_collector TERM && test_equal 0 "$CRC" &&
	start_collector c &&
	test_equal 200 "$(get /api/v1/traces)" &&
	test_cmp before.json get.out &&
	test_equal 200 "$(get /api/v1/traces/$ID/events)" &&
	sort get.out >got && test_cmp want got
'

test_expect_success COLLECTOR,CURL_CLIENT,SHIM 'a torn write (garbage after the last chunk) is cut at start-up' '
	stop_collector TERM &&
	seg=$(ls c.data/segments/*.seg | tail -1) &&
	size=$(wc -c <"$seg") &&
	head -c 777 /dev/urandom >>"$seg" &&
	start_collector c &&
	test_equal "$size" "$(wc -c <"$seg")" "segment size after restart" &&
	grep -q "discarding 777 bytes" c.log &&
	test_equal 200 "$(get /api/v1/traces/$ID/events)" &&
	sort get.out >got && test_cmp want got &&
	sed "s/$ID/5f0c00000000000000000000000beef1/g" all.jsonl >n.jsonl &&
	test_equal 201 "$(post n.jsonl)" &&
	test_equal 200 "$(get /api/v1/traces/5f0c00000000000000000000000beef1/events)" &&
	sort n.jsonl >n.sorted && sort get.out >got.sorted && test_cmp n.sorted got.sorted
'

test_expect_success COLLECTOR,CURL_CLIENT,SHIM 'a chunk whose bytes changed is refused (500), never served' '
	stop_collector TERM &&
	cp -r c.data bad.data &&
	seg=$(ls bad.data/segments/*.seg | tail -1) &&
	"$PYTHON" -c "import sys; p=sys.argv[1]; d=bytearray(open(p,\"rb\").read()); d[-10]^=0x55; open(p,\"wb\").write(d)" "$seg" &&
	start_collector bad --data bad.data &&
	test_equal 500 "$(get /api/v1/traces/5f0c00000000000000000000000beef1/events)" &&
	test_equal store_failed "$(jq -r .code get.out)" &&
	jq -r .error get.out | grep -q SHA-256 &&
	test_equal 200 "$(get /api/v1/traces/$ID/events)" "other traces are still served" &&
	stop_collector TERM
'

# The uploader: 1000 uploads of all.jsonl under distinct trace ids from 8
# threads, one connection each (as curl does); right after the 500th 2xx it
# sends SIGKILL to the collector, while the other threads' uploads are in
# flight and 490-odd are still to come. Writes "ID STATUS" lines (0: no
# answer) to results. The kill point is fixed: the outcome checked below
# holds whatever the timing.
cat >upload-kill.py <<'PY'
import http.client, os, signal, sys, threading
port, pid, base_id, kill_at = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], 500
text = open("all.jsonl", "rb").read()
ids = ["%08x%024x" % (0x5f0c, i) for i in range(1000)]
lock, acked, out, nxt = threading.Lock(), [0], [], [0]
def worker():
    while True:
        with lock:
            if nxt[0] >= len(ids):
                return
            tid = ids[nxt[0]]
            nxt[0] += 1
        code = 0
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            c.request("POST", "/api/v1/traces", body=text.replace(base_id.encode(), tid.encode()))
            r = c.getresponse()
            r.read()
            code = r.status
            c.close()
        except OSError:
            pass
        with lock:
            out.append("%s %d" % (tid, code))
            if 200 <= code < 300:
                acked[0] += 1
                if acked[0] == kill_at:
                    os.kill(pid, signal.SIGKILL)
ts = [threading.Thread(target=worker) for _ in range(8)]
for t in ts:
    t.start()
for t in ts:
    t.join()
open("results", "w").write("\n".join(out) + "\n")
PY

# The check after the restart: every acknowledged upload is there with every
# event, byte for byte; every other one is either absent or whole (never a
# part); sending those again completes the set.
cat >check-kill.py <<'PY'
import http.client, json, sys
port, base_id = int(sys.argv[1]), sys.argv[2]
text = open("all.jsonl", "rb").read()
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
def req(method, path, body=None):
    c.request(method, path, body=body)
    r = c.getresponse()
    return r.status, r.read()
bad, resent = 0, 0
for line in open("results"):
    tid, code = line.split()
    want = sorted(text.replace(base_id.encode(), tid.encode()).splitlines())
    st, body = req("GET", "/api/v1/traces/%s/events" % tid)
    got = sorted(body.splitlines()) if st == 200 else None
    if code.startswith("20") and got != want:
        print("acknowledged %s: %d, %s events" % (tid, st, len(got) if got else 0)); bad += 1
    elif not code.startswith("20") and st != 404 and got != want:
        print("unacknowledged %s: partly there (%d)" % (tid, st)); bad += 1
    if not code.startswith("20"):
        st, body = req("POST", "/api/v1/traces", text.replace(base_id.encode(), tid.encode()))
        if st not in (200, 201):
            print("resend %s: %d %s" % (tid, st, body)); bad += 1
        resent += 1
st, body = req("GET", "/api/v1/stats")
stats = json.loads(body)
n = len(text.splitlines())
print("resent %d; stored %d traces, %d events" % (resent, stats["traces"], stats["events"]))
if stats["traces"] != 1000 or stats["events"] != 1000 * n:
    bad += 1
sys.exit(1 if bad else 0)
PY

test_expect_success COLLECTOR,CURL_CLIENT,SHIM,PYTHON 'kill -9 in the middle of 1000 uploads from 8 clients: every 2xx is there, intact' '
	start_collector k &&
	"$PYTHON" upload-kill.py "$CPORT" "$CPID" "$ID" &&
	wait "$CPID"; test_equal 137 "$?" "killed by SIGKILL" &&
	test_equal 1000 "$(wc -l <results)" &&
	acked=$(grep -c " 20[01]$" results) &&
	echo "acknowledged before the kill: $acked of 1000" &&
	test "$acked" -ge 500 && test "$acked" -lt 1000 &&
	start_collector k &&
	"$PYTHON" check-kill.py "$CPORT" "$ID"
'

test_done
