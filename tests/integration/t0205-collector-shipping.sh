#!/bin/sh
# SPDX-License-Identifier: MIT
# t0205: shipping traces: attrace push, attrace record --collector, the
# library's upload at exit (ATTRACE_COLLECTOR), the spool.
#
# Serves: tests/servers/http-server.py; attrace-collector with keys; a
#         "black hole" that accepts connections and never answers.
# Runs:   python3 fetching /hello under the shim with ATTRACE_COLLECTOR and
#         ATTRACE_API_KEY; attrace record --collector; attrace push.
# Must see: the trace arrives with the fingerprint `attrace fingerprint`
#         prints; the API key is sent but never in the trace; with the
#         collector down the program's output and exit status are unchanged,
#         it is not held more than ~2 s, and the trace lands in the spool;
#         `attrace push --spool` ships it and empties the spool; so does the
#         next traced run whose own trace is acknowledged (within its ~2 s
#         wait, leaving a file the collector refuses); push of a bad file or
#         without a collector fails with one clear line.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
. "$SRCDIR/tests/integration/collector-lib.sh"

start_http_server
URL=http://127.0.0.1:$PORT
export HOME="$TRASH/home"
mkdir -p "$HOME"
unset XDG_STATE_HOME
SPOOL=$HOME/.local/state/attrace/spool
AGENT='import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1] + "/hello").read().decode().strip())'

# The ASan runtime preloaded into the CLI's libcurl is fine; curl(1) itself
# is the one that hangs under it (lib.sh), and this test does not preload it.
attrace_asan()
{
	if [ -n "${ATTRACE_ASAN_PRELOAD:-}" ]; then
		LD_PRELOAD=$ATTRACE_ASAN_PRELOAD "$ATTRACE_BIN" "$@"
	else
		"$ATTRACE_BIN" "$@"
	fi
}

test_expect_success COLLECTOR,CURL_CLIENT 'a collector with an ingest and a read key' '
	"$ATTRACE_COLLECTOR_BIN" keys add --scope ingest --keys keys >ingest.key &&
	"$ATTRACE_COLLECTOR_BIN" keys add --scope read --keys keys >read.key &&
	start_collector c --keys keys &&
	RD="Authorization: Bearer $(cat read.key)"
'

test_expect_success COLLECTOR,CURL_CLIENT,SHIM,PYTHON 'LD_PRELOAD + ATTRACE_COLLECTOR: shipped when the program ends' '
	ATTRACE_COLLECTOR=$CURL_BASE ATTRACE_API_KEY=$(cat ingest.key) ATTRACE_NAME=preload-run \
		LD_PRELOAD=$SHIM_PRELOAD ATTRACE_TRACE=$PWD/p.trace \
		"$PYTHON" -c "$AGENT" "$URL" >p.out &&
	test_equal "hello from attrace" "$(cat p.out)" &&
	ID=$(zstdcat p.trace | jq -r "select(.type == \"agent_start\") | .payload.trace_id" | head -1) &&
	test_equal 200 "$(get /api/v1/traces/$ID -H "$RD")" &&
	test_equal preload-run "$(jq -r .name get.out)" &&
	test_equal "$(attrace fingerprint p.trace)" "$(jq -r .fingerprint get.out)" "fingerprint" &&
	test_equal "$(zstdcat p.trace | grep -c .)" "$(jq .events get.out)" "events"
'

test_expect_success COLLECTOR,CURL_CLIENT,SHIM,PYTHON 'ATTRACE_API_KEY is never written to the trace' '
	! zstdcat p.trace | grep -q "$(cat ingest.key)" &&
	test_equal "[redacted]" "$(zstdcat p.trace | jq -r "select(.type == \"agent_start\") | .payload.env.ATTRACE_API_KEY" | head -1)"
'

test_expect_success COLLECTOR,CURL_CLIENT,SHIM,PYTHON,CLI 'attrace record --collector ships and says so' '
	ATTRACE_API_KEY=$(cat ingest.key) attrace_asan record -o r.trace --name rec-run \
		--collector $CURL_BASE -- "$PYTHON" -c "$AGENT" "$URL" >r.out 2>r.err &&
	test_equal "hello from attrace" "$(cat r.out)" &&
	cat r.err && grep -q "^attrace: pushed .*/r.trace.*fingerprint $(attrace fingerprint r.trace | cut -c1-16)" r.err &&
	test_equal 200 "$(get "/api/v1/traces?name=rec-run" -H "$RD")" &&
	test_equal "$(attrace fingerprint r.trace)" "$(jq -r ".traces[0].fingerprint" get.out)" &&
	test_equal 1 "$(jq ".traces | length" get.out)"
'

test_expect_success COLLECTOR,CURL_CLIENT,SHIM,PYTHON,CLI 'attrace push uploads an existing trace; again: already there' '
	shim_run "$PWD/x.trace" "$PYTHON" -c "$AGENT" "$URL" >/dev/null &&
	ATTRACE_API_KEY=$(cat ingest.key) attrace_asan push --collector $CURL_BASE x.trace 2>push.err &&
	grep -q "^attrace: pushed .x.trace.: trace [0-9a-f]* (" push.err &&
	ATTRACE_API_KEY=$(cat ingest.key) attrace_asan push --collector $CURL_BASE x.trace 2>push.err &&
	grep -q "already there" push.err
'

test_expect_success COLLECTOR,CURL_CLIENT,CLI 'push: wrong key, bad file, no collector, nothing to push' '
	{ ATTRACE_API_KEY=$(cat read.key) attrace_asan push --collector $CURL_BASE x.trace 2>err; test $? = 1; } &&
	grep -q "HTTP 403" err &&
	printf "not a trace\n" >bad.trace &&
	{ ATTRACE_API_KEY=$(cat ingest.key) attrace_asan push --collector $CURL_BASE bad.trace 2>err; test $? = 1; } &&
	test_equal 1 "$(wc -l <err)" && grep -q "invalid JSON" err &&
	{ attrace_asan push x.trace 2>err; test $? = 2; } && grep -q "no collector" err &&
	{ attrace_asan push --collector $CURL_BASE 2>err; test $? = 2; }
'

test_expect_success COLLECTOR,CURL_CLIENT,SHIM,PYTHON 'collector down: output unchanged, no wait, trace spooled' '
	stop_collector &&
	ATTRACE_COLLECTOR=$CURL_BASE LD_PRELOAD=$SHIM_PRELOAD ATTRACE_TRACE=$PWD/d.trace \
		ATTRACE_NAME=down-run "$PYTHON" -c "$AGENT; sys.exit(5)" "$URL" >d.out 2>d.err
	test_equal 5 $? "exit status" &&
	test_equal "hello from attrace" "$(cat d.out)" &&
	DID=$(zstdcat d.trace | jq -r "select(.type == \"agent_start\") | .payload.trace_id" | head -1) &&
	test -f "$SPOOL/$DID.jsonl.zst" &&
	cmp d.trace "$SPOOL/$DID.jsonl.zst" &&
	grep -q "spooled" d.err
'

test_expect_success COLLECTOR,CURL_CLIENT,SHIM 'a collector that never answers holds the program at most ~2 s' '
	"$PYTHON" -c "
import socket, sys, time
s = socket.socket(); s.bind((\"127.0.0.1\", 0)); s.listen(16)
print(s.getsockname()[1], flush=True); time.sleep(60)" >bh.port &
	test_pids_="$test_pids_ $!" &&
	i=0 && while ! [ -s bh.port ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done &&
	start=$(date +%s%N) &&
	ATTRACE_COLLECTOR=http://127.0.0.1:$(cat bh.port) LD_PRELOAD=$SHIM_PRELOAD \
		ATTRACE_TRACE=$PWD/h.trace sh -c "echo hi" >h.out 2>h.err &&
	ms=$((($(date +%s%N) - start) / 1000000)) &&
	echo "held for $ms ms" &&
	test $ms -lt 3500 &&
	test_equal hi "$(cat h.out)" &&
	HID=$(zstdcat h.trace | jq -r "select(.type == \"agent_start\") | .payload.trace_id" | head -1) &&
	test -f "$SPOOL/$HID.jsonl.zst"
'

test_expect_success COLLECTOR,CURL_CLIENT,SHIM,CLI 'attrace push --spool ships the spool and empties it' '
	start_collector c --keys keys &&
	ATTRACE_API_KEY=$(cat ingest.key) ATTRACE_COLLECTOR=$CURL_BASE attrace_asan push --spool 2>spool.err &&
	grep -q "2 pushed, 0 left" spool.err &&
	test_equal "" "$(ls "$SPOOL")" "spool after the push" &&
	test_equal 200 "$(get /api/v1/traces/$DID -H "$RD")" &&
	test_equal down-run "$(jq -r .name get.out)" &&
	test_equal failed "$(jq -r .status get.out)" &&
	test_equal 5 "$(jq -r .exit_status get.out)" &&
	test_equal "$(attrace fingerprint d.trace)" "$(jq -r .fingerprint get.out)" &&
	test_equal 200 "$(get /api/v1/traces/$HID -H "$RD")"
'

test_expect_success COLLECTOR,CURL_CLIENT,SHIM 'the next traced run ships the spool in its own wait; a refused or big file stays' '
	stop_collector &&
	ATTRACE_COLLECTOR=$CURL_BASE LD_PRELOAD=$SHIM_PRELOAD ATTRACE_TRACE=$PWD/s1.trace \
		ATTRACE_NAME=spooled-1 sh -c "echo one" >/dev/null 2>s1.err &&
	ATTRACE_COLLECTOR=$CURL_BASE LD_PRELOAD=$SHIM_PRELOAD ATTRACE_TRACE=$PWD/s2.trace \
		ATTRACE_NAME=spooled-2 sh -c "echo two" >/dev/null 2>s2.err &&
	printf "not a trace\n" >"$SPOOL/0000bad.jsonl.zst" &&
	truncate -s 65M "$SPOOL/0000big.jsonl.zst" &&
	test_equal 4 "$(ls "$SPOOL" | grep -c "\.jsonl\.zst$")" "spooled" &&
	start_collector c --keys keys &&
	posts=$(grep -c "POST /api/v1/traces" c.log) &&
	start=$(date +%s%N) &&
	ATTRACE_COLLECTOR=$CURL_BASE ATTRACE_API_KEY=$(cat ingest.key) LD_PRELOAD=$SHIM_PRELOAD \
		ATTRACE_TRACE=$PWD/s3.trace ATTRACE_NAME=next-run sh -c "echo three" >s3.out 2>s3.err &&
	ms=$((($(date +%s%N) - start) / 1000000)) &&
	echo "held for $ms ms" && test $ms -lt 3500 &&
	test_equal three "$(cat s3.out)" &&
	for t in s1 s2 s3; do
		id=$(zstdcat $t.trace | jq -r "select(.type == \"agent_start\") | .payload.trace_id" | head -1) &&
		test_equal 200 "$(get /api/v1/traces/$id -H "$RD")" "$t at the collector" &&
		test_equal "$(attrace fingerprint $t.trace)" "$(jq -r .fingerprint get.out)" "fingerprint of $t" &&
		test_equal "$(zstdcat $t.trace | grep -c .)" "$(jq .events get.out)" "events of $t" || return 1
	done &&
	test_equal "0000bad.jsonl.zst 0000big.jsonl.zst" "$(ls "$SPOOL" | tr "\n" " " | sed "s/ $//")" \
		"the spool keeps what the collector refused and what is too big" &&
	grep "POST /api/v1/traces" c.log | tail -n +$((posts + 1)) >posts.log &&
	test_equal 4 "$(wc -l <posts.log)" "uploads: this run, two spooled, the refused one (never the big one)" &&
	rm "$SPOOL/0000bad.jsonl.zst" "$SPOOL/0000big.jsonl.zst"
'

test_expect_success COLLECTOR,SHIM 'without ATTRACE_COLLECTOR the program never loads libcurl' '
	LD_PRELOAD=$SHIM_PRELOAD ATTRACE_TRACE=$PWD/n.trace sh -c "grep -c libcurl /proc/\$\$/maps" >maps.out;
	test_equal 0 "$(cat maps.out)"
'

test_done
