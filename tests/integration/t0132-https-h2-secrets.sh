#!/bin/sh
# SPDX-License-Identifier: MIT
# t0132-https-h2-secrets: curl --http2 over TLS (ALPN h2) against node's
# http2 server with a throwaway CA, sending an Authorization bearer key, a
# cookie, an x-api-key, a key in a JSON body and one in the URL query (all
# from a curl config file, so none is in argv), and receiving a session
# cookie. HPACK would carry the headers as (Huffman-coded) literals: none of
# the secrets may reach the trace, in its text, its raw bytes or its base64
# data; markers stand in; the trace replays offline (unshare -rn) byte for
# byte. Also a 3 MB download (DATA frames cut across reads), replayed.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
. "$SRCDIR/tests/integration/replay-lib.sh"

command -v openssl >/dev/null 2>&1 && test_set_prereq OPENSSL
unshare -rn true 2>/dev/null && test_set_prereq UNSHARE
command -v jq >/dev/null 2>&1 && test_set_prereq JQ

AUTH=sk-attrace0132authKEYabcdefghijklmnop
COOKIE=cookie0132secretvalue
XKEY=xkey0132secretvalue
BODY=sk-attrace0132bodyKEYabcdefghijklmnop
QUERY=query0132secretvalue
SERVER=sk-attrace0132serverSESSIONabcdefghij

test_expect_success NODE,OPENSSL 'a throwaway CA and an HTTP/2 server (node http2)' '
	make_test_ca t0132
'
if ! test_have_prereq NODE || ! test_have_prereq CURL || ! [ -s srv.pem ]; then
	test_done
	exit
fi

cat >h2srv.js <<'JS'
// Answers every request with what it saw, secrets reduced to yes/no and lengths.
const http2 = require('http2');
const fs = require('fs');
const srv = http2.createSecureServer({ key: fs.readFileSync('srv.key'), cert: fs.readFileSync('srv.pem') });
let n = 0;
const big = Buffer.alloc(3 << 20, 'abcdefghij0123456789 ');
srv.on('stream', (stream, h) => {
	if (h[':path'] === '/big') {
		stream.respond({ ':status': 200 });
		stream.end(big);
		return;
	}
	let body = '';
	stream.on('data', (d) => { body += d; });
	stream.on('end', () => {
		n++;
		const q = h[':path'].indexOf('?');
		stream.respond({ ':status': 200, 'content-type': 'text/plain',
			'set-cookie': 'session=' + process.env.SERVER_SECRET + '; Path=/; HttpOnly' });
		stream.end(`request ${n}: ${h[':method']} ${h[':path'].slice(0, q < 0 ? undefined : q)}` +
			` query ${q < 0 ? 0 : h[':path'].length - q - 1} bytes,` +
			` authorization ${h['authorization'] ? h['authorization'].length : 0},` +
			` cookie ${h['cookie'] ? h['cookie'].length : 0},` +
			` x-api-key ${h['x-api-key'] ? h['x-api-key'].length : 0}, body ${body.length}\n`);
	});
});
srv.listen(0, '127.0.0.1', () => { console.log('PORT ' + srv.address().port); });
JS

SERVER_SECRET=$SERVER node h2srv.js >srv.log 2>srv.err &
test_pids_="$test_pids_ $!"
i=0
until PORT=$(sed -n 's/^PORT //p' srv.log) && [ -n "$PORT" ]; do
	i=$((i + 1))
	[ $i -lt 200 ] || { echo "Bail out! node h2srv.js did not start:"; cat srv.err; exit 1; }
	sleep 0.05
done
URL="https://localhost:$PORT/v1/items?api_key=$QUERY&page=2"

cat >curl.cfg <<CFG
http2
silent
cacert = "ca.pem"
url = "$URL"
header = "Authorization: Bearer $AUTH"
header = "Cookie: theme=dark; session=$COOKIE"
header = "x-api-key: $XKEY"
header = "Content-Type: application/json"
data = "{\"model\": \"m\", \"api_key\": \"$BODY\"}"
write-out = "http %{http_version}\\n"
CFG

test_expect_success 'live: curl --http2 with the secrets, plain and recorded' '
	curl -K curl.cfg >plain.out &&
	grep -q "^request 1: POST /v1/items query 35 bytes, authorization 44, cookie 41, x-api-key 19, body 66\$" plain.out &&
	grep -q "^http 2\$" plain.out &&
	record_live live curl -K curl.cfg &&
	test_equal 0 "$(cat live.rc)" "exit status" &&
	sed "s/^request 2:/request 1:/" live.out >live.cmp &&
	test_cmp plain.out live.cmp
'

test_expect_success JQ 'the connection was HTTP/2 and every transfer was recorded' '
	zstdcat live.trace >live.jsonl &&
	grep -q "\"alpn\":\"h2\"" live.jsonl &&
	jq -r "select(.type == \"socket_call\") | .payload.data_b64 // empty" live.jsonl | while read -r b; do
		printf "%s" "$b" | base64 -d
	done >b64.bin &&
	grep -a -q "PRI \* HTTP/2.0" b64.bin &&
	cat live.jsonl b64.bin >all.bin &&
	! grep -q "data_dropped" live.jsonl
'

test_expect_success JQ 'no secret in the trace: its text, its raw bytes, its base64 data' '
	for s in $AUTH $COOKIE $XKEY $BODY $QUERY $SERVER; do
		if grep -F -q -- "$s" live.jsonl || grep -a -F -q -- "$s" live.trace; then
			echo "secret $s is in the trace"; return 1
		fi
	done &&
	test -s b64.bin &&
	for s in $AUTH $COOKIE $XKEY $BODY $QUERY $SERVER; do
		if grep -a -F -q -- "$s" b64.bin; then
			echo "secret $s is in base64 data"; return 1
		fi
	done
'

test_expect_success 'markers stand in, as readable HPACK literals' '
	grep -a -q "Bearer \[redacted:[0-9a-f]\{16\}\]" all.bin &&
	grep -a -q "theme=\[redacted:[0-9a-f]\{16\}\]; session=\[redacted:[0-9a-f]\{16\}\]" all.bin &&
	grep -a -q "x-api-key[^[]\{1,6\}\[redacted:[0-9a-f]\{16\}\]" all.bin &&
	grep -a -q "/v1/items?api_key=\[redacted:[0-9a-f]\{16\}\]&page=2" all.bin &&
	grep -a -q "api_key.*: .*\[redacted:[0-9a-f]\{16\}_*\]" all.bin &&
	grep -a -q "session=\[redacted:[0-9a-f]\{16\}\]; Path=/; HttpOnly" all.bin
'

test_expect_success 'live: a 3 MB download over HTTP/2 (DATA frames cut across reads), recorded' '
	record_live big curl -s --http2 --cacert ca.pem https://localhost:$PORT/big &&
	test_equal 0 "$(cat big.rc)" "exit status" &&
	test_equal 3145728 "$(wc -c <big.out)" "bytes downloaded"
'

stop_servers

test_expect_success UNSHARE 'replay --strict offline (unshare -rn): byte-identical output, fingerprint matches' '
	unshare -rn "$ATTRACE_BIN" replay --strict live.trace -- curl -K curl.cfg >rep.out 2>rep.err
	test_equal 0 "$?" "exit status" &&
	test_cmp live.out rep.out &&
	fp=$(recorded_fp_ live) &&
	grep -q "^attrace: replay consumed \([0-9]*\) of \1 events; fingerprint $fp (matches $fp)\$" rep.err
'

test_expect_success UNSHARE 'the download replays offline, byte for byte' '
	unshare -rn "$ATTRACE_BIN" replay --strict big.trace -- \
		curl -s --http2 --cacert ca.pem https://localhost:$PORT/big >bigrep.out 2>bigrep.err
	test_equal 0 "$?" "exit status" &&
	test_cmp big.out bigrep.out &&
	grep -q "^attrace: replay consumed \([0-9]*\) of \1 events" bigrep.err
'

test_expect_success UNSHARE 'a different key offline: strict stops, the mismatch shows markers only' '
	cp curl.cfg good.cfg &&
	sed "s/$AUTH/sk-attrace0132otherKEYabcdefghijklmnop/" good.cfg >curl.cfg &&
	unshare -rn "$ATTRACE_BIN" replay --strict live.trace -- curl -K curl.cfg >other.out 2>other.err
	test_equal 86 "$?" "exit status" &&
	grep -q "^attrace: ReplayMismatchError: " other.err &&
	! grep -q "0132otherKEY\|0132authKEY" other.err
'

test_done
