#!/bin/sh
# SPDX-License-Identifier: MIT
# t0206: forwarding to a real ClickHouse (Debian 12's clickhouse-server 18.16).
#
# Serves: clickhouse-server on 127.0.0.1 (scripts/clickhouse-test-server);
#         attrace-collector --clickhouse http://127.0.0.1:$CH/?database=attrace.
# Sends:  20 copies of a recorded trace (distinct ids); then, with ClickHouse
#         stopped, 20 more; then the collector is restarted with the outbox
#         still full, and ClickHouse comes back on the same data.
# Must see: tables created; every event and trace row in ClickHouse, each
#         exactly once after FINAL; with ClickHouse down, ingest still
#         answers 201, /stats shows the outbox depth, lag and the error; the
#         outbox survives the collector's restart and drains when ClickHouse
#         returns; nothing is lost or doubled.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
. "$SRCDIR/tests/integration/collector-lib.sh"

command -v clickhouse-server >/dev/null 2>&1 && test_set_prereq CLICKHOUSE

start_ch()
{
	"$SRCDIR/scripts/clickhouse-test-server" "$TRASH/ch" ${CH:-} >ch.start 2>ch.err || {
		cat ch.err
		return 1
	}
	CH=$(sed -n "s/^PORT //p" ch.start)
	CHPID=$(sed -n "s/^PID //p" ch.start)
	test_pids_="$test_pids_ $CHPID"
}
chq()
{
	curl -s --data-binary "$1" "http://127.0.0.1:$CH/"
}
# wait_drained: until /stats shows an empty outbox (up to 60 s).
wait_drained()
{
	i=0
	while :; do
		get /api/v1/stats >/dev/null
		[ "$(jq .forward.clickhouse.outbox_depth get.out)" = 0 ] && return 0
		[ $i -ge 600 ] && { echo "outbox never drained:"; cat get.out; return 1; }
		i=$((i + 1))
		sleep 0.1
	done
}
upload_copies() # FROM TO
{
	i=$1
	while [ $i -lt $2 ]; do
		sed "s/$ID/$(printf "%032x" $i)/g" all.jsonl >up.jsonl
		test_equal 201 "$(post up.jsonl)" "upload $i" || return 1
		i=$((i + 1))
	done
}

test_expect_success CLICKHOUSE,COLLECTOR,CURL_CLIENT,SHIM 'ClickHouse and the collector start; 20 traces are forwarded' '
	start_ch &&
	test_equal "Ok." "$(curl -s http://127.0.0.1:$CH/ping)" &&
	shim_run "$PWD/t.trace" sh -c "echo hi; ls / >/dev/null" >/dev/null &&
	zstdcat t.trace >all.jsonl && N=$(grep -c . all.jsonl) &&
	ID=$(jq -r "select(.type == \"agent_start\") | .payload.trace_id" all.jsonl | head -1) &&
	start_collector c --clickhouse "http://127.0.0.1:$CH/?database=attrace" &&
	upload_copies 0 20 &&
	wait_drained &&
	test_equal $((20 * N)) "$(chq "SELECT count() FROM attrace.events FINAL")" "events in ClickHouse" &&
	test_equal 20 "$(chq "SELECT count() FROM attrace.traces FINAL")" "traces in ClickHouse"
'

test_expect_success CLICKHOUSE,COLLECTOR,CURL_CLIENT 'rows are what was uploaded' '
	t=$(printf "%032x" 7) &&
	chq "SELECT pid, seq, type FROM attrace.events FINAL WHERE trace_id = '"'"'$t'"'"' ORDER BY pid, seq FORMAT TSV" >ch.rows &&
	jq -r "[.pid, .seq, .type] | @tsv" all.jsonl | sort -t "	" -k1,1 -k2,2n >want.rows &&
	test_cmp want.rows ch.rows &&
	chq "SELECT fingerprint, status, processes, events FROM attrace.traces FINAL WHERE trace_id = '"'"'$t'"'"' FORMAT TSV" >ch.trace &&
	printf "%s\tok\t2\t%s\n" "$(attrace fingerprint t.trace)" "$N" >want.trace &&
	test_cmp want.trace ch.trace
'

test_expect_success CLICKHOUSE,COLLECTOR,CURL_CLIENT 'ClickHouse down: ingest goes on, the outbox and its lag show in /stats' '
	kill $CHPID && while kill -0 $CHPID 2>/dev/null; do sleep 0.1; done &&
	upload_copies 20 40 &&
	sleep 2 &&
	test_equal 200 "$(get /api/v1/stats)" &&
	test "$(jq .forward.clickhouse.outbox_depth get.out)" -ge 20 &&
	jq -e ".forward.clickhouse.lag_seconds > 0" get.out &&
	{ jq -e ".forward.clickhouse.failures > 0" get.out || { cat get.out c.log; false; }; } &&
	jq -e ".forward.clickhouse.last_error | length > 0" get.out
'

test_expect_success CLICKHOUSE,COLLECTOR,CURL_CLIENT 'the outbox survives a collector restart and drains when ClickHouse returns' '
	stop_collector && test_equal 0 "$CRC" &&
	start_ch &&
	start_collector c --clickhouse "http://127.0.0.1:$CH/?database=attrace" &&
	wait_drained &&
	test_equal $((40 * N)) "$(chq "SELECT count() FROM attrace.events FINAL")" "events after FINAL" &&
	test_equal $((40 * N)) "$(chq "SELECT count() FROM (SELECT DISTINCT trace_id, pid, seq FROM attrace.events)")" "distinct events" &&
	test_equal 40 "$(chq "SELECT count() FROM attrace.traces FINAL")" "traces after FINAL" &&
	test_equal 0 "$(chq "SELECT count() FROM (SELECT trace_id, pid, seq, count() AS n FROM attrace.events FINAL GROUP BY trace_id, pid, seq HAVING n > 1)")" "doubled events"
'

test_expect_success CLICKHOUSE,COLLECTOR 'stop' '
	stop_collector && test_equal 0 "$CRC" &&
	kill $CHPID
'

test_done
