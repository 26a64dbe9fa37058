#!/bin/sh
# SPDX-License-Identifier: MIT
# t0203: API keys: scopes, hashing, refusals, and the loopback rule.
#
# Runs:   attrace-collector keys add --scope ingest / --scope read; the
#         collector with that keys file; uploads and reads with curl.
# Must see: each key printed once (atk_ + 64 hex), never stored in clear;
#         no key or an unknown key: 401 (an upload is refused before its
#         body is read); a read key cannot upload and an ingest key cannot
#         read: 403; the right key works; /health needs none; a non-loopback
#         --listen without keys is refused at start-up, with keys it starts;
#         a --keys file that does not exist is an error; a running
#         collector picks up added and removed keys without a restart
#         (within a second, or at once on SIGHUP), keeps its keys when the
#         file goes bad, and a non-loopback one never opens up when the
#         file is emptied.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
. "$SRCDIR/tests/integration/collector-lib.sh"

ev()
{
	printf '{"seq":%d,"pid":"0","tid":0,"type":"%s","ts":"2026-11-22T04:17:00.%06dZ","ts_epoch":1795321020.%06d,"step":"root","payload":%s}\n' \
		"$1" "$2" "$1" "$1" "$3"
}
{
	ev 0 agent_start '{"format":"attrace/1","trace_id":"5f0c00000000000000000000000000aa","name":"auth"}'
	ev 1 agent_complete '{"how":"main","status":0}'
} >t.jsonl

test_expect_success COLLECTOR 'keys add prints a key once and stores only its hash' '
	"$ATTRACE_COLLECTOR_BIN" keys add --scope ingest --name ci --keys keys >ingest.key 2>add.err &&
	"$ATTRACE_COLLECTOR_BIN" keys add --scope read --name dash --keys keys >read.key 2>>add.err &&
	test_match "^atk_[0-9a-f]{64}\$" "$(cat ingest.key)" "ingest key" &&
	test_match "^atk_[0-9a-f]{64}\$" "$(cat read.key)" "read key" &&
	! grep -q "$(cat ingest.key | cut -c5-)" keys &&
	! grep -q "$(cat read.key | cut -c5-)" keys &&
	test_equal 2 "$(grep -c "^\(ingest ci\|read dash\) [0-9a-f]\{64\}\$" keys)" "lines in the keys file" &&
	test_equal "-rw-------" "$(ls -l keys | cut -c1-10)" "mode of the keys file" &&
	grep -q "shown only this once" add.err
'

test_expect_success COLLECTOR 'keys add needs a scope' '
	{ "$ATTRACE_COLLECTOR_BIN" keys add --keys keys >out 2>err; test $? = 2; } &&
	grep -q "scope" err && test_equal "" "$(cat out)" &&
	{ "$ATTRACE_COLLECTOR_BIN" keys add --scope admin --keys keys >out 2>err; test $? = 2; } &&
	test_equal 2 "$(grep -c . keys)" "no key added"
'

test_expect_success COLLECTOR,CURL_CLIENT 'without a key, or with an unknown one: 401' '
	start_collector c --keys keys &&
	test_equal 200 "$(get /api/v1/health)" "health needs no key" &&
	test_equal 401 "$(post t.jsonl)" && test_equal unauthorized "$(jq -r .code post.json)" &&
	test_equal 401 "$(post t.jsonl -H "Authorization: Bearer atk_0000")" &&
	test_equal 401 "$(post t.jsonl -H "Authorization: Basic $(cat ingest.key)")" &&
	test_equal 401 "$(get /api/v1/traces)" &&
	test_equal 401 "$(get /api/v1/stats -H "Authorization: Bearer nope")" &&
	grep -q "POST /api/v1/traces 401" c.log
'

test_expect_success COLLECTOR,CURL_CLIENT 'a read key cannot upload, an ingest key cannot read: 403' '
	test_equal 403 "$(post t.jsonl -H "Authorization: Bearer $(cat read.key)")" &&
	test_equal forbidden "$(jq -r .code post.json)" &&
	test_equal 403 "$(get /api/v1/traces -H "Authorization: Bearer $(cat ingest.key)")" &&
	test_equal 403 "$(get /api/v1/traces/5f0c00000000000000000000000000aa/events -H "Authorization: Bearer $(cat ingest.key)")"
'

test_expect_success COLLECTOR,CURL_CLIENT 'the right keys upload and read' '
	test_equal 201 "$(post t.jsonl -H "Authorization: Bearer $(cat ingest.key)")" &&
	test_equal 200 "$(get /api/v1/traces -H "Authorization: Bearer $(cat read.key)")" &&
	test_equal 1 "$(jq ".traces | length" get.out)" &&
	test_equal 200 "$(get /api/v1/traces/5f0c00000000000000000000000000aa/events -H "Authorization: Bearer $(cat read.key)")" &&
	test_cmp t.jsonl get.out &&
	grep -q "key=ci" c.log &&
	! grep -q "$(cat ingest.key)" c.log &&
	stop_collector
'

test_expect_success COLLECTOR 'a non-loopback address without keys is refused at start-up' '
	"$ATTRACE_COLLECTOR_BIN" --listen 0.0.0.0:0 --data d2 >out 2>err; rc=$? &&
	test_equal 1 $rc "exit status" &&
	grep -q "refusing to listen" err
'

test_expect_success COLLECTOR 'a non-loopback address with keys starts' '
	start_collector n --keys keys --listen 0.0.0.0:0 &&
	test_equal 401 "$(get /api/v1/traces)" &&
	stop_collector
'

test_expect_success COLLECTOR 'a --keys file that does not exist is an error' '
	"$ATTRACE_COLLECTOR_BIN" --listen 127.0.0.1:0 --data d3 --keys nonexistent >out 2>err; rc=$? &&
	test_equal 1 $rc "exit status" &&
	grep -q "does not exist" err
'

# Polls until GET PATH answers STATUS (the keys file is looked at once a second).
get_until()
{
	want_=$1
	shift
	i_=0
	while [ "$(get "$@")" != "$want_" ]; do
		i_=$((i_ + 1))
		[ $i_ -lt 40 ] || return 1
		sleep 0.1
	done
}

test_expect_success COLLECTOR,CURL_CLIENT 'a key added while running works without a restart' '
	cp keys live.keys &&
	start_collector r --keys live.keys &&
	"$ATTRACE_COLLECTOR_BIN" keys add --scope read --name late --keys live.keys >late.key 2>late.err &&
	grep -q "within a second" late.err &&
	get_until 200 /api/v1/traces -H "Authorization: Bearer $(cat late.key)" &&
	grep -q "reloaded: 3 keys (were 2)" r.log
'

test_expect_success COLLECTOR,CURL_CLIENT 'a removed key stops working; SIGHUP reloads at once' '
	grep -v " late " live.keys >tmp.keys && cat tmp.keys >live.keys &&
	kill -HUP $CPID &&
	get_until 401 /api/v1/traces -H "Authorization: Bearer $(cat late.key)" &&
	test_equal 200 "$(get /api/v1/traces -H "Authorization: Bearer $(cat read.key)")"
'

test_expect_success COLLECTOR,CURL_CLIENT 'a keys file gone bad keeps the keys loaded before' '
	echo "admin root 1234" >>live.keys &&
	kill -HUP $CPID &&
	i=0; while ! grep -q "keeping the 2 keys" r.log && [ $i -lt 40 ]; do sleep 0.1; i=$((i + 1)); done &&
	grep -q "live.keys.*line 3: expected" r.log &&
	test_equal 200 "$(get /api/v1/traces -H "Authorization: Bearer $(cat read.key)")" &&
	test_equal 401 "$(get /api/v1/traces)" &&
	stop_collector
'

test_expect_success COLLECTOR,CURL_CLIENT 'loopback without keys is open until a key is added' '
	start_collector o --data od &&
	test_equal 200 "$(get /api/v1/traces)" "open without keys" &&
	"$ATTRACE_COLLECTOR_BIN" keys add --scope read --name first --data od >first.key 2>/dev/null &&
	get_until 401 /api/v1/traces &&
	test_equal 200 "$(get /api/v1/traces -H "Authorization: Bearer $(cat first.key)")" &&
	stop_collector
'

test_expect_success COLLECTOR,CURL_CLIENT 'a non-loopback collector whose keys file is emptied refuses everything' '
	cp keys n.keys &&
	start_collector n2 --keys n.keys --listen 0.0.0.0:0 &&
	: >n.keys && kill -HUP $CPID &&
	get_until 401 /api/v1/traces -H "Authorization: Bearer $(cat read.key)" &&
	test_equal 401 "$(get /api/v1/traces)" &&
	grep -q "every request is refused" n2.log &&
	stop_collector
'

test_done
