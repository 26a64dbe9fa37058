#!/bin/sh
# SPDX-License-Identifier: MIT
# t0201: the collector refuses bad uploads with a 4xx JSON error naming the problem.
#
# Serves: attrace-collector with small limits (--max-request 256K,
#         --max-decompressed 1M, --max-line 4K).
# Sends:  a valid hand-written trace first; then text declared as zstd, the
#         trace cut inside its second frame, a frame with a flipped byte
#         (checksum), a zstd bomb (8 MB of zeros), a frame with a 2^30
#         window, a 5 KB line, invalid JSON on line 3, an event without
#         "seq", events without agent_start, two trace ids, a 300 KB body, a
#         gzip Content-Encoding, an empty body.
# Must see: each answer's status and "code", and the line number where
#         there is one; after all of it the server still answers and the
#         first trace is served intact.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
. "$SRCDIR/tests/integration/collector-lib.sh"

ev()
{
	# ev SEQ TYPE PAYLOAD [PID]
	printf '{"seq":%d,"pid":"%s","tid":0,"type":"%s","ts":"2026-11-22T04:17:00.%06dZ","ts_epoch":1795321020.%06d,"step":"root","payload":%s}\n' \
		"$1" "${4:-0}" "$2" "$1" "$1" "$3"
}
start_ev()
{
	ev 0 agent_start "{\"format\":\"attrace/1\",\"trace_id\":\"$1\",\"parent\":null,\"via\":\"root\",\"argv\":[\"x\"],\"exe\":\"/bin/x\",\"cwd\":\"/\",\"env\":{},\"name\":\"bad-input\"}"
}
ID=5f0c00000000000000000000000000aa
{ start_ev $ID; ev 1 socket_call '{"op":"connect","conn":"0.1","proto":"tcp","fn":"connect","peer":"127.0.0.1:8080","n":0}'; } | zstd -q -c >good.trace
ev 2 agent_complete '{"how":"main","status":0}' | zstd -q -c >>good.trace

# expect_reject FILE STATUS CODE [CURL ARGS...]: the answer has STATUS and "code": CODE
expect_reject()
{
	f=$1 st=$2 code=$3
	shift 3
	got=$(post "$f" "$@")
	test_equal "$st" "$got" "HTTP status for $f" || { cat post.json; return 1; }
	test_equal "$code" "$(jq -r .code post.json)" "error code for $f" || { cat post.json; return 1; }
	jq -e ".error | length > 0" post.json >/dev/null || { echo "no error message"; cat post.json; return 1; }
}

test_expect_success COLLECTOR,CURL_CLIENT 'start with small limits; a valid trace is stored' '
	start_collector c --max-request 256K --max-decompressed 1M --max-line 4K &&
	test_equal 201 "$(post good.trace -H "Content-Encoding: zstd")" &&
	test_equal 3 "$(jq .events post.json)"
'

test_expect_success COLLECTOR,CURL_CLIENT 'not zstd: 400 not_zstd' '
	printf "this is not a trace\n" >text.bin &&
	expect_reject text.bin 400 not_zstd -H "Content-Encoding: zstd" &&
	grep -q "magic" post.json
'

test_expect_success COLLECTOR,CURL_CLIENT 'a frame cut short: 400 truncated, naming the frame' '
	size=$(wc -c <good.trace) &&
	head -c $((size - 6)) good.trace >cut.trace &&
	expect_reject cut.trace 400 truncated -H "Content-Encoding: zstd" &&
	grep -q "frame 2" post.json
'

test_expect_success COLLECTOR,CURL_CLIENT 'a corrupt frame (bad checksum): 400 corrupt' '
	head -c 50000 /dev/urandom | base64 | zstd -q -c >big.zst &&
	size=$(wc -c <big.zst) &&
	"$PYTHON" -c "import sys; d=bytearray(open(sys.argv[1],\"rb\").read()); d[len(d)//2]^=0xff; open(sys.argv[2],\"wb\").write(d)" big.zst flipped.zst &&
	expect_reject flipped.zst 400 corrupt -H "Content-Encoding: zstd"
'

test_expect_success COLLECTOR,CURL_CLIENT 'a decompression bomb: 413 decompressed_too_large' '
	head -c 8000000 /dev/zero | zstd -q -19 -c >bomb.zst &&
	test "$(wc -c <bomb.zst)" -lt 2000 &&
	expect_reject bomb.zst 413 decompressed_too_large -H "Content-Encoding: zstd"
'

test_expect_success COLLECTOR,CURL_CLIENT 'a frame asking for a 1 GiB window: 400 corrupt' '
	head -c 100000 /dev/urandom | base64 | zstd -q --long=30 -c >window.zst &&
	expect_reject window.zst 400 corrupt -H "Content-Encoding: zstd"
'

test_expect_success COLLECTOR,CURL_CLIENT 'a line over --max-line: 413 line_too_long with its line' '
	{ start_ev $ID; ev 1 observation "{\"x\":\"$(head -c 5000 /dev/zero | tr "\0" a)\"}"; } >long.jsonl &&
	expect_reject long.jsonl 413 line_too_long &&
	test_equal 2 "$(jq .line post.json)" "line"
'

test_expect_success COLLECTOR,CURL_CLIENT 'invalid JSON on line 3: 400 invalid_json, line 3' '
	{ start_ev $ID; ev 1 observation "{}"; echo "{\"seq\":2, oops"; } >badjson.jsonl &&
	expect_reject badjson.jsonl 400 invalid_json &&
	test_equal 3 "$(jq .line post.json)" "line" &&
	jq -r .error post.json | grep -q "line 3" &&
	zstd -q -c badjson.jsonl >badjson.zst &&
	expect_reject badjson.zst 400 invalid_json -H "Content-Encoding: zstd" &&
	test_equal 3 "$(jq .line post.json)" "line (zstd)"
'

test_expect_success COLLECTOR,CURL_CLIENT 'an event without seq: 422 invalid_event naming the field' '
	{ start_ev $ID; ev 1 observation "{}" | sed "s/\"seq\":1,//"; } >noseq.jsonl &&
	expect_reject noseq.jsonl 422 invalid_event &&
	test_equal 2 "$(jq .line post.json)" &&
	jq -r .error post.json | grep -q "missing \"seq\""
'

test_expect_success COLLECTOR,CURL_CLIENT 'no agent_start, two trace ids: 422' '
	ev 1 observation "{}" >nostart.jsonl &&
	expect_reject nostart.jsonl 422 invalid_event &&
	jq -r .error post.json | grep -q agent_start &&
	{ start_ev $ID; ev 0 agent_start "{\"trace_id\":\"5f0c00000000000000000000000000bb\"}" 0.1; } >twoids.jsonl &&
	expect_reject twoids.jsonl 422 invalid_event &&
	jq -r .error post.json | grep -q "two trace ids"
'

test_expect_success COLLECTOR,CURL_CLIENT 'a body over --max-request: 413 request_too_large' '
	head -c 300000 /dev/zero >huge.bin &&
	expect_reject huge.bin 413 request_too_large
'

test_expect_success COLLECTOR,CURL_CLIENT 'gzip: 415; an empty body: 400; blank lines only: 422' '
	expect_reject good.trace 415 unsupported_encoding -H "Content-Encoding: gzip" &&
	: >empty && expect_reject empty 400 empty_body &&
	printf "\n\n" >blank && expect_reject blank 422 no_events
'

test_expect_success COLLECTOR,CURL_CLIENT 'the server is still up and the first trace intact' '
	test_equal 200 "$(get /api/v1/health)" &&
	test_equal 200 "$(get /api/v1/traces/$ID/events)" &&
	zstdcat good.trace >want && test_cmp want get.out &&
	test_equal 200 "$(get /api/v1/stats)" &&
	test_equal 1 "$(jq .traces get.out)" &&
	test "$(jq .ingest.rejected get.out)" -ge 12 &&
	grep -q "POST /api/v1/traces 400" c.log
'

test_done
