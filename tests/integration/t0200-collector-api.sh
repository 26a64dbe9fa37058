#!/bin/sh
# SPDX-License-Identifier: MIT
# t0200: the collector's API end to end with real traces.
#
# Serves: tests/servers/http-server.py; attrace-collector on 127.0.0.1:0.
# Runs:   python3 fetching /hello under the shim (ATTRACE_NAME=agent-a, then
#         agent-b with a correlation id in the name), uploads with curl.
# Must see: POST answers 201 {trace_id, fingerprint, events, processes} with
#         the fingerprint `attrace fingerprint` prints and the event count of
#         the file; a repeat (zstd or plain JSON Lines) answers 200 with the
#         same answer; list filters (name, status, fingerprint, since, until)
#         and paging (limit, next_cursor) return exactly the right traces;
#         /traces/ID, /traces/ID/events (JSON Lines, or zstd when accepted)
#         give back every event; stats and correlations count right; unknown
#         paths and ids are 404, bad parameters 400, wrong methods 405.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
. "$SRCDIR/tests/integration/collector-lib.sh"

start_http_server
URL=http://127.0.0.1:$PORT

test_expect_success COLLECTOR,CURL_CLIENT 'the collector starts and answers /health' '
	start_collector c &&
	test_equal 200 "$(get /api/v1/health)" "status" &&
	test_equal ok "$(jq -r .status get.out)"
'

test_expect_success COLLECTOR,CURL_CLIENT,SHIM,PYTHON 'a recorded trace uploads: 201 with the CLI fingerprint' '
	record_py agent-a a.trace &&
	test_trace_complete a.trace &&
	test_equal 201 "$(post a.trace -H "Content-Encoding: zstd")" "status" &&
	cp post.json a.answer &&
	test_equal "$(attrace fingerprint a.trace)" "$(jq -r .fingerprint a.answer)" "fingerprint" &&
	test_equal "$(zstdcat a.trace | grep -c .)" "$(jq -r .events a.answer)" "events" &&
	test_equal "$(zstdcat a.trace | jq -r .pid | sort -u | wc -l)" "$(jq -r .processes a.answer)" "processes" &&
	test_equal "$(zstdcat a.trace | jq -r "select(.type==\"agent_start\") | .payload.trace_id")" \
		"$(jq -r .trace_id a.answer)" "trace_id" &&
	A=$(jq -r .trace_id a.answer)
'

test_expect_success COLLECTOR,CURL_CLIENT,SHIM,PYTHON 'sending it again is idempotent: 200, same answer, no duplicates' '
	test_equal 200 "$(post a.trace -H "Content-Encoding: zstd")" "status" &&
	jq -c "del(.new_events)" a.answer >want && jq -c "del(.new_events)" post.json >got &&
	test_cmp want got &&
	test_equal 0 "$(jq .new_events post.json)" &&
	zstdcat a.trace >a.jsonl &&
	test_equal 200 "$(post a.jsonl)" "status of a plain JSON Lines repeat" &&
	jq -c "del(.new_events)" post.json >got && test_cmp want got &&
	test_equal 200 "$(get /api/v1/traces/$A)" &&
	test_equal 1 "$(jq .uploads get.out)" "uploads stored (repeats store nothing)" &&
	test_equal "$(jq .events a.answer)" "$(jq .events get.out)"
'

test_expect_success COLLECTOR,CURL_CLIENT,SHIM,PYTHON 'GET /traces/ID describes the trace' '
	test_equal 200 "$(get /api/v1/traces/$A)" &&
	test_equal agent-a "$(jq -r .name get.out)" "name" &&
	test_equal ok "$(jq -r .status get.out)" "status" &&
	test_equal 0 "$(jq -r .exit_status get.out)" "exit status" &&
	test_equal "$(jq -r .fingerprint a.answer)" "$(jq -r .fingerprint get.out)" &&
	test_match "^20[0-9]{2}-[0-9]{2}-[0-9]{2}T" "$(jq -r .start get.out)" "start" &&
	test "$(jq .duration_ms get.out)" -ge 0 &&
	test "$(jq .bytes get.out)" -gt 0
'

test_expect_success COLLECTOR,CURL_CLIENT,SHIM,PYTHON 'GET /traces/ID/events gives back every event, byte for byte' '
	test_equal 200 "$(get /api/v1/traces/$A/events)" &&
	sort a.jsonl >want && sort get.out >got && test_cmp want got &&
	curl -s -D hdr -o ev.zst -H "Accept-Encoding: gzip, zstd" $CURL_BASE/api/v1/traces/$A/events &&
	grep -qi "^content-encoding: zstd" hdr &&
	zstdcat ev.zst | sort >got2 && test_cmp want got2 &&
	test_equal "$(attrace fingerprint a.trace)" "$(attrace fingerprint ev.zst)" "fingerprint of the served trace"
'

test_expect_success COLLECTOR,CURL_CLIENT,SHIM,PYTHON 'more traces: a failing one and a correlated one' '
	LD_PRELOAD=$SHIM_PRELOAD ATTRACE_TRACE=$PWD/b.trace ATTRACE_NAME=agent-b \
		"$PYTHON" -c "import sys; sys.exit(3)"
	test_equal 201 "$(post b.trace)" && B=$(jq -r .trace_id post.json) &&
	test_equal 200 "$(get /api/v1/correlations/corr-42)" &&
	test_equal awaiting "$(jq -r .status get.out)" &&
	test_equal "[]" "$(jq -c .trace_ids get.out)" &&
	record_py "agent-c/corr-42" c.trace &&
	test_equal 201 "$(post c.trace)" && C=$(jq -r .trace_id post.json) &&
	test_equal 200 "$(get /api/v1/correlations/corr-42)" &&
	test_equal observed "$(jq -r .status get.out)" &&
	test_equal "[\"$C\"]" "$(jq -c .trace_ids get.out)"
'

test_expect_success COLLECTOR,CURL_CLIENT,SHIM,PYTHON 'the list filters by name, status, fingerprint, since and until' '
	test_equal 200 "$(get /api/v1/traces)" &&
	test_equal "[\"$C\",\"$B\",\"$A\"]" "$(jq -c "[.traces[].trace_id]" get.out)" "newest first" &&
	test_equal 200 "$(get "/api/v1/traces?name=agent-b")" &&
	test_equal "[\"$B\"]" "$(jq -c "[.traces[].trace_id]" get.out)" "name=agent-b" &&
	test_equal failed "$(jq -r ".traces[0].status" get.out)" &&
	test_equal 3 "$(jq -r ".traces[0].exit_status" get.out)" &&
	test_equal 200 "$(get "/api/v1/traces?status=failed")" &&
	test_equal "[\"$B\"]" "$(jq -c "[.traces[].trace_id]" get.out)" "status=failed" &&
	test_equal 200 "$(get "/api/v1/traces?status=ok")" &&
	test_equal "[\"$C\",\"$A\"]" "$(jq -c "[.traces[].trace_id]" get.out)" "status=ok" &&
	fp=$(jq -r .fingerprint a.answer | cut -c1-16) &&
	test_equal 200 "$(get "/api/v1/traces?fingerprint=$fp")" &&
	jq -e --arg a "$A" "[.traces[].trace_id] | index(\$a) != null" get.out &&
	jq -e --arg b "$B" "[.traces[].trace_id] | index(\$b) == null" get.out &&
	test_equal 200 "$(get "/api/v1/traces?since=4102444800")" &&
	test_equal 0 "$(jq ".traces | length" get.out)" "since the year 2100" &&
	test_equal 200 "$(get "/api/v1/traces?until=2000-01-01T00:00:00Z")" &&
	test_equal 0 "$(jq ".traces | length" get.out)" "until 2000" &&
	test_equal 200 "$(get "/api/v1/traces?since=2000-01-01T00:00:00Z&until=4102444800")" &&
	test_equal 3 "$(jq ".traces | length" get.out)" "between 2000 and 2100"
'

test_expect_success COLLECTOR,CURL_CLIENT,SHIM,PYTHON 'paging with limit and next_cursor visits every trace once' '
	test_equal 200 "$(get "/api/v1/traces?limit=2")" &&
	test_equal 2 "$(jq ".traces | length" get.out)" &&
	cur=$(jq -r .next_cursor get.out) && test "$cur" != null &&
	jq -r ".traces[].trace_id" get.out >pages &&
	test_equal 200 "$(get "/api/v1/traces?limit=2&cursor=$cur")" &&
	test_equal null "$(jq -r .next_cursor get.out)" "last page" &&
	jq -r ".traces[].trace_id" get.out >>pages &&
	printf "%s\n" "$C" "$B" "$A" >want && test_cmp want pages
'

test_expect_success COLLECTOR,CURL_CLIENT,SHIM,PYTHON '/stats counts traces, events, statuses and names' '
	test_equal 200 "$(get /api/v1/stats)" &&
	test_equal 3 "$(jq .traces get.out)" &&
	want=$( (zstdcat a.trace; zstdcat b.trace; zstdcat c.trace) | grep -c .) &&
	test_equal "$want" "$(jq .events get.out)" "events" &&
	test_equal "{\"failed\":1,\"ok\":2}" "$(jq -c .by_status get.out)" &&
	test_equal 1 "$(jq ".by_name[\"agent-a\"]" get.out)" &&
	test "$(jq .ingest.uploads get.out)" -ge 3 &&
	test "$(jq .bytes get.out)" -gt 0
'

test_expect_success COLLECTOR,CURL_CLIENT 'unknown paths and ids, bad parameters, wrong methods' '
	test_equal 404 "$(get /api/v1/traces/0123456789abcdef0123456789abcdef)" &&
	test_equal not_found "$(jq -r .code get.out)" &&
	test_equal 404 "$(get /api/v1/traces/0123456789abcdef0123456789abcdef/events)" &&
	test_equal 404 "$(get /api/v1/nothing)" &&
	test_equal 404 "$(get /)" &&
	test_equal 400 "$(get /api/v1/traces/not-hex-zz)" &&
	test_equal 400 "$(get "/api/v1/traces?limit=0")" &&
	test_equal 400 "$(get "/api/v1/traces?limit=abc")" &&
	test_equal 400 "$(get "/api/v1/traces?status=weird")" &&
	test_equal 400 "$(get "/api/v1/traces?since=yesterday")" &&
	test_equal 400 "$(get "/api/v1/traces?fingerprint=XYZ")" &&
	test_equal 405 "$(get /api/v1/health -X POST)" &&
	test_equal 405 "$(get /api/v1/traces/$A -X DELETE)"
'

test_expect_success COLLECTOR,CURL_CLIENT,SHIM,PYTHON 'SIGTERM during a slow upload: the upload finishes (201), then the collector exits 0' '
	zstdcat a.trace | sed "s/$A/5f0c0000000000000000000000000d0d/g" >slow.jsonl &&
	i=0 && while [ $i -lt 200 ]; do
		printf "{\"seq\":%d,\"pid\":\"0.9\",\"tid\":0,\"type\":\"observation\",\"ts\":\"2026-11-22T04:17:00.000000Z\",\"ts_epoch\":1795321020.0,\"step\":\"root\",\"payload\":{\"pad\":\"%01000d\"}}\n" $i 0
		i=$((i + 1))
	done >>slow.jsonl &&
	test "$(wc -c <slow.jsonl)" -gt 200000 &&
	curl -s -o slow.json -w "%{http_code}" --limit-rate 100K --data-binary @slow.jsonl \
		$CURL_BASE/api/v1/traces >slow.code &
	slow=$! &&
	sleep 0.7 &&
	kill -TERM $CPID &&
	sleep 0.2 &&
	{ curl -s -m 2 $CURL_BASE/api/v1/health >/dev/null; test $? != 0; } &&
	wait $slow &&
	test_equal 201 "$(cat slow.code)" "status of the upload in flight" &&
	test_equal "$(grep -c . slow.jsonl)" "$(jq .events slow.json)" &&
	wait $CPID; CRC=$? &&
	test_equal 0 "$CRC" "exit status" &&
	grep -q "draining" c.log &&
	grep -q "stopped cleanly" c.log &&
	start_collector c &&
	test_equal 200 "$(get /api/v1/traces/5f0c0000000000000000000000000d0d)" &&
	test_equal "$(grep -c . slow.jsonl)" "$(jq .events get.out)" "events after the restart"
'

test_expect_success COLLECTOR 'SIGTERM stops it cleanly (exit 0)' '
	stop_collector TERM &&
	test_equal 0 "$CRC" "exit status" &&
	grep -q "stopped cleanly" c.log &&
	grep -q "POST /api/v1/traces 201" c.log
'

test_done
