#!/bin/sh
# SPDX-License-Identifier: MIT
# t0005: node's http.get (the machine's nodejs: NodeSource 20 or Debian 18).
#
# Serves: tests/servers/http-server.py on 127.0.0.1:$PORT.
# Runs:   node get.js PORT: http.get http://127.0.0.1:PORT/hello, then
#         http.get http://localhost:PORT/echo?from=node (dns.lookup, i.e.
#         getaddrinfo on a libuv worker thread); prints status and bodies.
# Must see: same output as bare; the two exchanges on connections to
#         127.0.0.1:$PORT; getaddrinfo("localhost") on a thread other than 0,
#         started by a thread_start; agent_complete status 0.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"

start_http_server

cat >get.js <<'JS'
const http = require("http");
const port = process.argv[2];
function get(url) {
	return new Promise((resolve, reject) => {
		http.get(url, { agent: false }, (res) => {
			let body = "";
			res.setEncoding("utf8");
			res.on("data", (c) => (body += c));
			res.on("end", () => resolve(res.statusCode + " " + body));
		}).on("error", reject);
	});
}
(async () => {
	process.stdout.write(await get(`http://127.0.0.1:${port}/hello`));
	process.stdout.write(await get(`http://localhost:${port}/echo?from=node`));
})().catch((e) => {
	console.error(e);
	process.exit(1);
});
JS

test_expect_success NODE 'bare run' '
	run_bare bare node get.js $PORT &&
	printf "200 hello from attrace\n200 echo:from=node\n" >expect &&
	test_cmp expect bare.out &&
	test_equal 0 "$(cat bare.rc)"
'

test_expect_success NODE,SHIM 'under the shim: same stdout and exit status' '
	run_shim t node get.js $PORT &&
	test_same_run bare t &&
	test_trace_complete t.trace
'

test_expect_success NODE,SHIM 'both exchanges are recorded' '
	test_jq t.trace "$JQ_DEFS [conns[] | select(.peer == \"127.0.0.1:$PORT\" and .sent != \"\")]
		| length == 2
		and (.[0].sent | startswith(\"GET /hello HTTP/1.1\r\n\"))
		and (.[0].received | endswith(\"\r\n\r\nhello from attrace\n\"))
		and (.[1].sent | startswith(\"GET /echo?from=node HTTP/1.1\r\n\"))
		and (.[1].received | endswith(\"\r\n\r\necho:from=node\n\"))"
'

test_expect_success NODE,SHIM 'getaddrinfo("localhost") runs on a started worker thread' '
	test_jq t.trace "$JQ_DEFS [of_type(\"dns\") | select(.payload.fn == \"getaddrinfo\"
		and .payload.name == \"localhost\")]
		| length >= 1 and all(.tid != 0)
		and any(.payload.answers // [] | any(.addr == \"127.0.0.1\"))" &&
	test_jq t.trace "$JQ_DEFS [of_type(\"thread_start\") | .payload.child_tid] as \$started
		| [of_type(\"dns\") | .tid] - \$started == []"
'

test_expect_success NODE,SHIM 'logical tids are 0 and the started threads' '
	test_jq t.trace "$JQ_DEFS ([.[] | select(.pid == \"0\") | .tid] | unique)
		- [0] - [of_type(\"thread_start\") | .payload.child_tid] == []"
'

test_expect_success NODE,SHIM 'agent_complete records status 0' '
	test_jq t.trace "[.[] | select(.type == \"agent_complete\")] | length == 1 and .[0].payload.status == 0"
'

test_done
