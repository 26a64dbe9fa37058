#!/bin/sh
# SPDX-License-Identifier: MIT
# t0120: attrace show derives HTTP exchanges from a trace's socket_call bytes.
#
# Serves: tests/servers/http-server.py on 127.0.0.1:$PORT; nghttpd --no-tls
#         (h2c, from nghttp2-server) on 127.0.0.1:$H2PORT when installed.
# Runs:   curl -s URL/hello -d a=1 URL/echo (one keep-alive connection);
#         python3 urllib: GET /hello, POST /echo "ping", GET /bytes?n=300;
#         curl --http2-prior-knowledge H2URL/hello.txt.
# Must see: `attrace show --http` names the method, URL, status, reason and
#         body size of every request, with request and response headers;
#         the timeline `attrace show` holds the same as "http ..." lines;
#         HTTP/2 exchanges say HTTP/2 and carry nghttpd's headers.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"

start_http_server
URL=http://127.0.0.1:$PORT

test_expect_success CURL,SHIM,CLI 'curl keep-alive: show --http lists both exchanges' '
	run_shim curl curl -s $URL/hello -d a=1 $URL/echo &&
	test_equal 0 "$(cat curl.rc)" "exit status" &&
	attrace show --http curl.trace >curl.http 2>curl.err &&
	test_equal "" "$(cat curl.err)" "show stderr" &&
	grep -q "^2 HTTP exchanges\$" curl.http &&
	grep -q "POST $URL/hello -> 404 Not Found (10 B)  \[HTTP/1.1, conn 0\.[0-9]*" curl.http &&
	grep -q "POST $URL/echo -> 200 OK (3 B)  \[HTTP/1.1, conn 0\.[0-9]*" curl.http &&
	grep -q "^    > Host: 127.0.0.1:$PORT\$" curl.http &&
	grep -q "^    > User-Agent: curl/" curl.http &&
	grep -q "^    < Content-Length: 3\$" curl.http &&
	grep -q "^    > (body 3 B \"a=1\")\$" curl.http
'

test_expect_success CURL,SHIM,CLI 'the timeline shows derived http lines' '
	attrace show curl.trace >curl.show &&
	grep -q "  http POST $URL/hello -> 404 (10 B)  \[conn 0\.[0-9]*\]\$" curl.show &&
	grep -q "  http POST $URL/echo -> 200 (3 B)  \[conn 0\.[0-9]*\]\$" curl.show
'

cat >client.py <<'PY'
import sys
import urllib.request

base = sys.argv[1]
print(urllib.request.urlopen(base + "/hello").read().decode(), end="")
req = urllib.request.Request(base + "/echo", data=b"ping", method="POST")
print(urllib.request.urlopen(req).read().decode())
print(len(urllib.request.urlopen(base + "/bytes?n=300").read()))
PY

test_expect_success PYTHON,SHIM,CLI 'python3 urllib: three exchanges on three connections' '
	run_shim py "$PYTHON" client.py $URL &&
	test_equal 0 "$(cat py.rc)" "exit status" &&
	printf "hello from attrace\nping\n300\n" >expect &&
	test_cmp expect py.out &&
	attrace show --http py.trace >py.http &&
	grep -q "^3 HTTP exchanges\$" py.http &&
	grep -q "GET $URL/hello -> 200 OK (19 B)" py.http &&
	grep -q "POST $URL/echo -> 200 OK (4 B)" py.http &&
	grep -q "GET $URL/bytes?n=300 -> 200 OK (300 B)" py.http &&
	grep -q "^    > User-Agent: Python-urllib/" py.http &&
	grep -q "^    > (body 4 B \"ping\")\$" py.http &&
	test_equal 3 "$(grep -c "\[HTTP/1.1, conn 0\.[0-9]*" py.http)" "exchanges on HTTP/1.1"
'

test_expect_success PYTHON,SHIM,CLI 'python3 urllib: the timeline names each request' '
	attrace show py.trace >py.show &&
	test_equal 3 "$(grep -c "  http [A-Z]* $URL/[a-z?=0-9]* -> 200 (" py.show)" "http lines"
'

# h2c from nghttpd (package nghttp2-server), when installed.
NGHTTPD=$(command -v nghttpd || echo /usr/sbin/nghttpd)
# (curl is only run where lib.sh found it usable: it hangs under an ASan runtime)
if test_have_prereq CURL && [ -x "$NGHTTPD" ] && curl -V 2>/dev/null | grep -q HTTP2; then
	mkdir docs
	printf "h2 hello\n" >docs/hello.txt
	# nghttpd takes no port 0: ask the kernel for a free one first
	H2PORT=$("$PYTHON" -c "import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])")
	"$NGHTTPD" --no-tls -d docs "$H2PORT" >nghttpd.out 2>&1 &
	test_pids_="$test_pids_ $!"
	i=0
	while [ $i -lt 100 ]; do
		curl -s --http2-prior-knowledge "http://127.0.0.1:$H2PORT/hello.txt" >/dev/null 2>&1 && {
			test_set_prereq NGHTTPD
			break
		}
		i=$((i + 1))
		sleep 0.05
	done
fi

test_expect_success CURL,NGHTTPD,SHIM,CLI 'curl --http2-prior-knowledge against nghttpd: an HTTP/2 exchange' '
	run_shim h2 curl -s --http2-prior-knowledge http://127.0.0.1:$H2PORT/hello.txt &&
	printf "h2 hello\n" >expect &&
	test_cmp expect h2.out &&
	attrace show --http h2.trace >h2.http &&
	grep -q "^1 HTTP exchange\$" h2.http &&
	grep -q "GET http://127.0.0.1:$H2PORT/hello.txt -> 200 (9 B)  \[HTTP/2, conn 0\.[0-9]*" h2.http &&
	grep -q "^    > user-agent: curl/" h2.http &&
	grep -q "^    < server: nghttpd" h2.http &&
	grep -q "^    < (body 9 B \"h2 hello\\\\n\")\$" h2.http &&
	attrace show h2.trace >h2.show &&
	grep -q "  http GET http://127.0.0.1:$H2PORT/hello.txt -> 200 (9 B)" h2.show
'

test_expect_success SHIM,CLI 'a trace without HTTP shows no exchanges' '
	run_shim nohttp sh -c "exit 0" &&
	attrace show --http nohttp.trace >nohttp.http &&
	grep -q "^0 HTTP exchanges\$" nohttp.http
'

test_done
