#!/bin/sh
# SPDX-License-Identifier: MIT
# t0204: 50 concurrent uploaders, none lost; a trace sent by several
# clients at once is stored once.
#
# Sends:  50 copies of a recorded trace under distinct trace ids, 4 uploads
#         each (200 requests, zstd), all clients started at once; then 20
#         clients sending the same new trace at the same moment.
# Must see: every upload answered 201 (first) or 200 (repeats); the list
#         holds 50 + 1 traces, each with exactly the events of its file;
#         the shared trace was stored by exactly one upload.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
. "$SRCDIR/tests/integration/collector-lib.sh"

test_expect_success COLLECTOR,CURL_CLIENT,SHIM 'record a trace and make 50 copies with their own ids' '
	shim_run "$PWD/t.trace" sh -c "echo hi; ls / >/dev/null" >/dev/null &&
	ID=$(zstdcat t.trace | jq -r "select(.type == \"agent_start\") | .payload.trace_id" | head -1) &&
	N=$(zstdcat t.trace | grep -c .) &&
	i=0 &&
	while [ $i -lt 50 ]; do
		zstdcat t.trace | sed "s/$ID/$(printf "%032x" $((i + 1)))/g" | zstd -q -c >c$i.zst || exit 1
		i=$((i + 1))
	done
'

test_expect_success COLLECTOR,CURL_CLIENT,SHIM '50 uploaders at once (4 uploads each): none lost' '
	start_collector c &&
	pids= && i=0 &&
	while [ $i -lt 50 ]; do
		(for k in 1 2 3 4; do
			curl -s -o /dev/null -w "%{http_code}\n" -H "Content-Encoding: zstd" \
				--data-binary @c$i.zst $CURL_BASE/api/v1/traces
		done >codes.$i) &
		pids="$pids $!"
		i=$((i + 1))
	done &&
	wait $pids &&
	cat codes.* | sort | uniq -c | sed "s/^ *//" >codes &&
	printf "150 200\n50 201\n" >want && test_cmp want codes &&
	test_equal 200 "$(get "/api/v1/traces?limit=1000")" &&
	test_equal 50 "$(jq ".traces | length" get.out)" &&
	test_equal "[$N]" "$(jq -c "[.traces[].events] | unique" get.out)" "events per trace" &&
	test_equal "[1]" "$(jq -c "[.traces[].uploads] | unique" get.out)" "uploads stored per trace" &&
	test_equal 200 "$(get /api/v1/traces/$(printf "%032x" 17)/events)" &&
	zstdcat c16.zst | sort >want && sort get.out >got && test_cmp want got
'

test_expect_success COLLECTOR,CURL_CLIENT,SHIM '20 clients sending one new trace at once: stored once' '
	zstdcat t.trace | sed "s/$ID/$(printf "%032x" 999)/g" >same.jsonl &&
	pids= && i=0 &&
	while [ $i -lt 20 ]; do
		curl -s -o same.$i.json -w "%{http_code}\n" --data-binary @same.jsonl \
			$CURL_BASE/api/v1/traces >same.$i.code &
		pids="$pids $!"
		i=$((i + 1))
	done &&
	wait $pids &&
	test_equal 1 "$(cat same.*.code | grep -c 201)" "uploads answered 201" &&
	test_equal 19 "$(cat same.*.code | grep -c 200)" "uploads answered 200" &&
	test_equal 1 "$(jq -c "del(.new_events)" same.*.json | sort -u | wc -l)" "distinct answers" &&
	test_equal 200 "$(get /api/v1/traces/$(printf "%032x" 999))" &&
	test_equal "$N" "$(jq .events get.out)" &&
	test_equal 1 "$(jq .uploads get.out)"
'

test_done
