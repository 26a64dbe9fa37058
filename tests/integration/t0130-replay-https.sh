#!/bin/sh
# SPDX-License-Identifier: MIT
# t0130-replay-https: HTTPS over OpenSSL recorded as plaintext and replayed
# offline as a virtual TLS session: curl, python3 urllib with a thread pool,
# python3 spawning curl; against a server with a throwaway CA made here.
# The trace holds the plaintext and the session facts, never the
# ciphertext; a changed request over HTTPS stops a strict replay.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
. "$SRCDIR/tests/integration/replay-lib.sh"

command -v openssl >/dev/null 2>&1 && test_set_prereq OPENSSL

test_expect_success OPENSSL 'a throwaway CA and an HTTPS server' '
	make_test_ca t0130
'
if ! test_have_prereq OPENSSL || ! [ -s srv.pem ]; then
	test_done
	exit
fi
start_server PORT replay-server.py --tls "$PWD/srv.pem" "$PWD/srv.key"
URL=https://localhost:$PORT

cat >pool.py <<'PY'
import concurrent.futures
import ssl
import sys
import urllib.request

ctx = ssl.create_default_context(cafile="ca.pem")
def get(k):
    with urllib.request.urlopen(sys.argv[1] + "/item/%d" % k, context=ctx, timeout=10) as r:
        return r.read().decode()
with concurrent.futures.ThreadPoolExecutor(4) as ex:
    for line in sorted(ex.map(get, range(12))):
        print(line, end="")
with urllib.request.urlopen(sys.argv[1] + "/count", context=ctx, timeout=10) as r:
    print(r.read().decode(), end="")
PY

cat >spawn.py <<'PY'
import subprocess
import sys

out = subprocess.run(["curl", "-s", "--cacert", "ca.pem", sys.argv[1] + "/count"],
                     capture_output=True, text=True, check=True).stdout
print("curl said:", out, end="")
PY

test_expect_success CURL 'live: curl https GET and POST, recorded' '
	record_live get curl -s --cacert ca.pem $URL/count &&
	test_equal "count 1" "$(cat get.out)" "output" &&
	record_live post curl -s --cacert ca.pem -d "hello over tls" $URL/echo &&
	test_equal "echo 1: hello over tls" "$(cat post.out)" "output"
'

test_expect_success 'live: python3 urllib over TLS with a thread pool, recorded' '
	record_live pool $PYTHON pool.py $URL &&
	test_equal 0 "$(cat pool.rc)" "exit status" &&
	test_equal 13 "$(wc -l <pool.out)" "lines"
'

test_expect_success CURL 'live: python3 spawning curl https, recorded' '
	record_live spawn $PYTHON spawn.py $URL &&
	grep -q "^curl said: count [0-9]*\$" spawn.out
'

SECRET=sk-attrace0130testkeyABCDEFGHIJ0123456789
test_expect_success CURL 'live: curl https with an API key in headers, and one in a body the server echoes, recorded' '
	record_live key curl -s --cacert ca.pem -H "Authorization: Bearer $SECRET" \
		-H "Cookie: session=$SECRET" $URL/count &&
	grep -q "^count [0-9]*\$" key.out &&
	record_live body curl -s --cacert ca.pem -d "{\"api_key\": \"$SECRET\"}" $URL/echo &&
	grep -q "$SECRET" body.out
'

test_expect_success CURL 'the secret is nowhere in the traces, even decompressed (argv included); markers stand in' '
	! grep -q "attrace0130testkey" key.trace body.trace &&
	zstdcat key.trace body.trace >key.jsonl &&
	! grep -q "attrace0130testkey" key.jsonl &&
	grep -q "Authorization: Bearer \[redacted:[0-9a-f]\{16\}\]" key.jsonl &&
	grep -q "Cookie: session=\[redacted:[0-9a-f]\{16\}\]" key.jsonl &&
	grep -q "api_key.*\[redacted:[0-9a-f]\{16\}_*\]" key.jsonl
'

command -v wget >/dev/null 2>&1 && test_set_prereq WGET

test_expect_success WGET 'live: wget https (GnuTLS), recorded' '
	record_live wget wget -q -O - --ca-certificate=ca.pem $URL/item/7 &&
	test_equal 0 "$(cat wget.rc)" "exit status" &&
	grep -q "^item 7: " wget.out &&
	zstdcat wget.trace | grep -q "\"op\":\"tls\".*\"lib\":\"gnutls\""
'

test_expect_success CURL 'the trace holds the plaintext and the session facts' '
	zstdcat get.trace >get.jsonl &&
	grep -q "\"op\":\"send\".*\"data\":\"GET /count HTTP/1.1" get.jsonl &&
	grep -q "\"op\":\"recv\".*count 1" get.jsonl &&
	grep -q "\"op\":\"tls\".*\"verify\":0.*\"cert_der_b64\":\"" get.jsonl &&
	! grep -q "tls_opaque" get.jsonl
'

test_expect_success CURL 'no ciphertext: every send and recv on the connection is plaintext' '
	test_equal 0 "$(jq -s "[.[] | select(.type == \"socket_call\" and (.payload.op == \"send\" or .payload.op == \"recv\") and .payload.n > 0 and .payload.tls != true)] | length" get.jsonl)" "non-TLS transfers"
'

stop_servers

test_expect_success CURL 'replay --strict of curl https GET and POST: same output, fingerprint matches' '
	replay_run get.s --strict get.trace -- curl -s --cacert ca.pem $URL/count &&
	test_replay_same get get.s &&
	replay_run post.s --strict post.trace -- curl -s --cacert ca.pem -d "hello over tls" $URL/echo &&
	test_replay_same post post.s &&
	test_replay_all_consumed get.s
'

test_expect_success 'replay --strict of the python3 TLS thread pool, three times' '
	for k in 1 2 3; do
		replay_run pool.s$k --strict pool.trace -- $PYTHON pool.py $URL &&
		test_replay_same pool pool.s$k || return 1
	done
'

test_expect_success CURL 'replay --strict of python3 spawning curl https' '
	replay_run spawn.s --strict spawn.trace -- $PYTHON spawn.py $URL &&
	test_replay_same spawn spawn.s
'

test_expect_success WGET 'replay --strict of wget https: same output, every event served' '
	replay_run wget.s --strict wget.trace -- wget -q -O - --ca-certificate=ca.pem $URL/item/7 &&
	test_replay_same wget wget.s &&
	test_replay_all_consumed wget.s
'

test_expect_success CURL 'replay --strict with the secret in headers: the redacted forms match' '
	replay_run key.s --strict key.trace -- curl -s --cacert ca.pem -H "Authorization: Bearer $SECRET" \
		-H "Cookie: session=$SECRET" $URL/count &&
	test_replay_same key key.s
'

test_expect_success CURL 'replay of the echoed body: the program is served the marker, not the secret' '
	replay_run body.s --strict body.trace -- curl -s --cacert ca.pem -d "{\"api_key\": \"$SECRET\"}" $URL/echo &&
	test_equal 0 "$(cat body.s.rc)" "exit status" &&
	grep -q "api_key.*\[redacted:[0-9a-f]\{16\}_*\]" body.s.out &&
	! grep -q "attrace0130testkey" body.s.out
'

test_expect_success CURL 'replay --strict with another key in the header: a mismatch that shows markers, not keys' '
	replay_run key.x --strict key.trace -- curl -s --cacert ca.pem -H "Authorization: Bearer sk-attrace0130otherkeyABCDEFGHIJ012345" \
		-H "Cookie: session=$SECRET" $URL/count &&
	test_equal 86 "$(cat key.x.rc)" "exit status" &&
	grep -q "^attrace: ReplayMismatchError: .*Bearer \[redacted:" key.x.err &&
	! grep -q "attrace0130" key.x.err
'

test_expect_success CURL 'a changed request body over HTTPS: strict stops with a mismatch' '
	replay_run changed --strict post.trace -- curl -s --cacert ca.pem -d "hello over TLS" $URL/echo &&
	test_equal 86 "$(cat changed.rc)" "exit status" &&
	grep -q "^attrace: ReplayMismatchError: 0/0: POST https://localhost:$PORT/echo has no recorded match; closest recorded: POST https://localhost:$PORT/echo; the body differs at byte 11: sent \"hello over TLS\", recorded \"hello over tls\"\$" changed.err
'

test_done
