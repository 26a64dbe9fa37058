#!/bin/sh
# SPDX-License-Identifier: MIT
# t0001: curl over plain HTTP under the shim.
#
# Serves: tests/servers/http-server.py on 127.0.0.1:$PORT.
# Runs:   curl -s http://127.0.0.1:$PORT/hello
#         curl -s -d 'a=1&b=two' http://127.0.0.1:$PORT/echo
# Must see: the same stdout and exit status as a bare run; in the trace an
#         agent_start for curl (argv, exe, exe_sha256 of the real binary), a
#         connect to 127.0.0.1:$PORT, a send starting "GET /hello HTTP/1.1",
#         received bytes holding the status line and body, agent_complete
#         with status 0; `attrace show` and `attrace fingerprint` work on it.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"

start_http_server
URL=http://127.0.0.1:$PORT
CURL=$(readlink -f "$(command -v curl)")

test_expect_success CURL 'bare curl GET works (sanity check of the server)' '
	run_bare bare curl -s $URL/hello &&
	test_equal 0 "$(cat bare.rc)" "exit status" &&
	printf "hello from attrace\n" >expect &&
	test_cmp expect bare.out
'

test_expect_success CURL,SHIM 'curl GET under the shim: same stdout and exit status' '
	run_shim get curl -s $URL/hello &&
	test_same_run bare get &&
	test_cmp bare.err get.err
'

test_expect_success CURL,SHIM 'the trace is valid and complete' '
	test_trace_complete get.trace &&
	test_count get.trace "true" -ge 4
'

test_expect_success CURL,SHIM 'agent_start describes the curl process' '
	test_jq get.trace "[.[] | select(.type == \"agent_start\")] | length == 1" &&
	test_jq get.trace "
		.[] | select(.type == \"agent_start\") | .pid == \"0\" and .tid == 0 and .seq == 0
		and .step == \"root\"
		and .payload.format == \"attrace/1\"
		and (.payload.trace_id | test(\"^[0-9a-f]{32}\$\"))
		and .payload.parent == null and .payload.via == \"root\"
		and .payload.argv == [\"curl\", \"-s\", \"$URL/hello\"]
		and .payload.exe == \"$CURL\"
		and .payload.cwd == \"$TRASH\"
		and (.payload.env | type) == \"object\"
		and (.payload.start | type) == \"string\"
		and (.payload.real_pid | type) == \"number\"" &&
	sum=$(sha256sum "$CURL" | cut -d" " -f1) &&
	got=$(jq_trace get.trace ".[] | select(.type == \"agent_start\") | .payload.exe_sha256" | tr -d "\"") &&
	test_equal "$sum" "$got" "exe_sha256 (sha256sum $CURL)"
'

test_expect_success CURL,SHIM 'connect to the server is recorded with its peer' '
	test_jq get.trace "
		[.[] | select(.type == \"socket_call\" and .payload.op == \"connect\"
			and .payload.peer == \"127.0.0.1:$PORT\")]
		| length == 1 and (.[0].payload.proto == \"tcp\")
		and (.[0].payload.conn | test(\"^0\\\\.[1-9][0-9]*\$\"))
		and (.[0].payload.n == 0 or .[0].payload.errno == \"EINPROGRESS\")"
'

# The connection id of the connect to the server, for the next tests.
conn_of()
{
	jq_trace "$1" ".[] | select(.type == \"socket_call\" and .payload.op == \"connect\"
		and .payload.peer == \"127.0.0.1:$PORT\") | .payload.conn" | head -1
}

# sent_on TRACE CONN / recv_on TRACE CONN: the bytes sent or received on CONN,
# joined in seq order (base64 payloads decoded).
bytes_on()
{
	jq_trace "$1" "[.[] | select(.type == \"socket_call\" and .payload.op == \"$2\"
		and .payload.conn == $3 and .payload.n > 0)] | sort_by(.seq) | .[]
		| if .payload.data then .payload.data else (.payload.data_b64 | @base64d) end" |
		jq -j .
}

test_expect_success CURL,SHIM 'the request bytes are recorded' '
	conn=$(conn_of get.trace) &&
	test_match "^\"0\\.[0-9]+\"\$" "$conn" "connection id" &&
	bytes_on get.trace send "$conn" >sent &&
	head -n1 sent >sent.1 &&
	printf "GET /hello HTTP/1.1\r\n" >expect &&
	test_cmp expect sent.1 &&
	grep -q "^Host: 127.0.0.1:$PORT" sent
'

test_expect_success CURL,SHIM 'the response bytes are recorded' '
	conn=$(conn_of get.trace) &&
	bytes_on get.trace recv "$conn" >received &&
	head -n1 received >received.1 &&
	printf "HTTP/1.1 200 OK\r\n" >expect &&
	test_cmp expect received.1 &&
	tail -n1 received >received.body &&
	test_cmp bare.out received.body
'

test_expect_success CURL,SHIM 'send and recv byte counts match their data' '
	test_jq get.trace "[.[] | select(.type == \"socket_call\"
		and (.payload.op == \"send\" or .payload.op == \"recv\") and .payload.n > 0)
		| (if .payload.data then (.payload.data | utf8bytelength)
		   else (.payload.data_b64 | @base64d | utf8bytelength) end) == .payload.n]
		| length > 0 and all"
'

test_expect_success CURL,SHIM 'agent_complete records exit status 0 last' '
	test_jq get.trace "[.[] | select(.pid == \"0\")] | max_by(.seq)
		| .type == \"agent_complete\" and .payload.status == 0
		and (.payload.how | IN(\"main\", \"exit\", \"_exit\"))"
'

test_expect_success CURL 'bare curl POST works' '
	run_bare bare-post curl -s -d "a=1&b=two" $URL/echo &&
	test_equal 0 "$(cat bare-post.rc)" &&
	printf "a=1&b=two" >expect &&
	test_cmp expect bare-post.out
'

test_expect_success CURL,SHIM 'curl POST under the shim: same output, body sent and received' '
	run_shim post curl -s -d "a=1&b=two" $URL/echo &&
	test_same_run bare-post post &&
	test_trace_complete post.trace &&
	conn=$(conn_of post.trace) &&
	bytes_on post.trace send "$conn" >sent &&
	head -n1 sent >sent.1 &&
	printf "POST /echo HTTP/1.1\r\n" >expect &&
	test_cmp expect sent.1 &&
	tail -c 9 sent >sent.body &&
	test_cmp bare-post.out sent.body &&
	bytes_on post.trace recv "$conn" >received &&
	tail -c 9 received >received.body &&
	test_cmp bare-post.out received.body
'

test_expect_success CURL,SHIM,CLI 'attrace show prints a timeline naming the peer' '
	attrace show get.trace >show.out 2>show.err &&
	test_equal "" "$(cat show.err)" "show stderr" &&
	grep -q "127.0.0.1:$PORT" show.out &&
	grep -q curl show.out
'

test_expect_success CURL,SHIM,CLI 'attrace show --json prints JSON lines' '
	attrace show --json get.trace >show.json &&
	jq -e -s "length > 0" show.json >/dev/null
'

test_expect_success CURL,SHIM,CLI 'attrace fingerprint prints 64 hex digits' '
	attrace fingerprint get.trace >fp.out &&
	test_equal 1 "$(wc -l <fp.out)" "lines" &&
	test_match "^[0-9a-f]{64}\$" "$(cat fp.out)" "fingerprint"
'

test_expect_success CURL,SHIM,CLI 'the same request twice gives the same fingerprint' '
	run_shim get2 curl -s $URL/hello &&
	test_cmp bare.out get2.out &&
	attrace fingerprint get2.trace >fp2.out &&
	test_cmp fp.out fp2.out
'

test_expect_success CURL,SHIM,CLI 'a different request gives a different fingerprint' '
	attrace fingerprint post.trace >fp3.out &&
	! cmp -s fp.out fp3.out
'

test_expect_success CURL,CLI 'attrace record: same output, same kind of trace' '
	attrace_record "$PWD/rec.trace" curl -s $URL/hello >rec.out 2>rec.err &&
	test_cmp bare.out rec.out &&
	test_equal "" "$(grep -v "^attrace: " rec.err)" "stderr, apart from attrace: lines" &&
	test_trace_complete rec.trace &&
	test_jq rec.trace "[.[] | select(.type == \"agent_start\")] | length == 1
		and .[0].payload.argv == [\"curl\", \"-s\", \"$URL/hello\"]" &&
	attrace fingerprint rec.trace >fp4.out &&
	test_cmp fp.out fp4.out
'

test_done
