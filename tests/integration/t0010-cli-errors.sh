#!/bin/sh
# SPDX-License-Identifier: MIT
# t0010: attrace show / fingerprint on bad input, usage errors, and no libcurl at start.
#
# Builds: good.trace, a small valid trace written by hand from
#         attrace-trace(5) (two frames: agent_start + a socket_call, then
#         agent_complete), and from it and other files the bad inputs: a missing
#         file, a text file, the trace truncated inside its second frame
#         (head -c), a zstd file of non-JSON text, a zstd file of JSON objects
#         that are not events, an empty file.
# Must see: on good.trace exit 0 (show prints something, fingerprint 64 hex);
#         on each bad input exit 1, nothing but one line on stderr, starting
#         "attrace: " and naming the file, and naming the frame (truncated) or
#         line (bad JSON); bad flags, unknown verbs and missing arguments exit 2;
#         readelf -d shows no DT_NEEDED libcurl (cli/curl_dl.c loads it for
#         uploads only) and LD_DEBUG=files shows fingerprint never loads it;
#         where libcurl.so.4 cannot be loaded (in a user and mount namespace,
#         /dev/null bound over its file) push exits 1 with one line naming
#         libcurl.so.4 and the loader's reason, push --spool leaves the spool
#         as it was, record --collector passes the command's status on and
#         keeps the trace.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"

ev()
{
	# ev SEQ TYPE PAYLOAD
	printf '{"seq":%d,"pid":"0","tid":0,"type":"%s","ts":"2026-11-22T04:17:00.%06dZ","ts_epoch":1795321020.%06d,"step":"root","payload":%s}\n' \
		"$1" "$2" "$1" "$1" "$3"
}
{
	ev 0 agent_start '{"format":"attrace/1","trace_id":"5f0c00000000000000000000000000aa","parent":null,"via":"root","argv":["curl","-s","http://127.0.0.1:8080/"],"exe":"/usr/bin/curl","exe_sha256":"0000000000000000000000000000000000000000000000000000000000000000","cwd":"/tmp","env":{"HOME":"/root"},"name":null,"start":"2026-11-22T04:17:00.000000Z","real_pid":4242}'
	ev 1 socket_call '{"op":"connect","conn":"0.1","proto":"tcp","fn":"connect","peer":"127.0.0.1:8080","local":"127.0.0.1:53412","n":0}'
	ev 2 socket_call '{"op":"send","conn":"0.1","proto":"tcp","fn":"send","n":18,"data":"GET / HTTP/1.1\r\n\r\n"}'
} | zstd -q -c >good.trace
ev 3 agent_complete '{"how":"main","status":0}' | zstd -q -c >>good.trace
size=$(wc -c <good.trace)
head -c $((size - 6)) good.trace >truncated.trace
printf 'this is not a trace\njust text\n' >text.trace
printf 'hello world\nnot json\n' | zstd -q -c >nonjson.trace
printf '{"a":1}\n{"b":[2]}\n' | zstd -q -c >notevents.trace
: >empty.trace

test_expect_success CLI 'the hand-written trace is accepted' '
	attrace show good.trace >show.out 2>show.err &&
	test -s show.out &&
	test_equal "" "$(cat show.err)" "stderr" &&
	attrace fingerprint good.trace >fp.out &&
	test_match "^[0-9a-f]{64}\$" "$(cat fp.out)" "fingerprint"
'

# expect_error VERB FILE WHAT: exit 1, one stderr line "attrace: ...FILE..."
# that also matches the extended regex WHAT (case-insensitive).
expect_error()
{
	attrace "$1" "$2" >err.out 2>err.err
	rc=$?
	test_equal 1 $rc "exit status of attrace $1 $2" || { cat err.err; return 1; }
	test_equal 1 "$(wc -l <err.err)" "stderr lines of attrace $1 $2" || { cat err.err; return 1; }
	grep -q "^attrace: .*$2" err.err || { echo "stderr does not start with attrace: and name $2:"; cat err.err; return 1; }
	grep -Eiq -- "$3" err.err || { echo "stderr does not match /$3/:"; cat err.err; return 1; }
	if [ "$1" = fingerprint ]; then
		test_equal "" "$(cat err.out)" "stdout of attrace fingerprint on a bad file"
	fi
}

for verb in show fingerprint; do
	test_expect_success CLI "$verb: missing file" "
		expect_error $verb does-not-exist.trace 'no such file|not found|cannot open'
	"
	test_expect_success CLI "$verb: a text file" "
		expect_error $verb text.trace 'zstd|frame|compress|not a trace'
	"
	test_expect_success CLI "$verb: a truncated trace names the frame" "
		expect_error $verb truncated.trace 'frame'
	"
	test_expect_success CLI "$verb: zstd of non-JSON names the line" "
		expect_error $verb nonjson.trace 'line 1|:1[^0-9]'
	"
	test_expect_success CLI "$verb: zstd of JSON that is not events names the line" "
		expect_error $verb notevents.trace 'line 1|:1[^0-9]'
	"
	test_expect_success CLI "$verb: an empty file" "
		expect_error $verb empty.trace 'empty|no events|frame'
	"
done

test_expect_success CLI 'a directory is an error, not a crash' '
	mkdir -p adir &&
	expect_error show adir "directory|read"
'

# expect_usage ARGS...: exit 2 and a message on stderr.
expect_usage()
{
	attrace "$@" >usage.out 2>usage.err
	rc=$?
	test_equal 2 $rc "exit status of: attrace $*" || { cat usage.err; return 1; }
	test -s usage.err || { echo "no message on stderr for: attrace $*"; return 1; }
}

test_expect_success CLI 'usage errors exit 2' '
	expect_usage &&
	expect_usage no-such-verb &&
	expect_usage --no-such-flag &&
	expect_usage show &&
	expect_usage show --no-such-flag good.trace &&
	expect_usage fingerprint &&
	expect_usage fingerprint good.trace extra-arg &&
	expect_usage fingerprint --no-such-flag good.trace &&
	expect_usage record &&
	expect_usage record -o &&
	expect_usage record -o x.trace --
'

test_expect_success CLI 'a usage error does not start the command' '
	expect_usage record --no-such-flag -- sh -c "touch ran" &&
	! test -e ran
'

command -v readelf >/dev/null 2>&1 && test_set_prereq READELF

test_expect_success CLI,READELF 'the CLI does not link libcurl' '
	readelf -d "$ATTRACE_BIN" >dynamic.out &&
	grep -q "(NEEDED)" dynamic.out &&
	! grep "(NEEDED).*libcurl" dynamic.out
'

test_expect_success CLI 'a verb that uploads nothing does not load libcurl' '
	LD_DEBUG=files attrace fingerprint good.trace >fp.out 2>ld.err &&
	grep -q "file=libzstd" ld.err &&
	! grep "file=libcurl" ld.err
'

# without_libcurl CMD...: run CMD where libcurl.so.4 cannot be loaded: in a
# user and mount namespace of its own, /dev/null is bound over the file the
# loader finds for it (dlopen then fails: "file too short"). In an ASan build
# the runtime is preloaded, as attrace_record does, for record's command.
curl_so=$( (ldconfig -p || /sbin/ldconfig -p) 2>/dev/null |
	awk '$1 == "libcurl.so.4" { print $NF; exit }')
[ -n "$curl_so" ] && curl_so=$(realpath "$curl_so")
without_libcurl()
{
	unshare -rm sh -c 'mount --bind /dev/null "$1" || exit 125
		pre_=$2
		shift 2
		if [ -n "$pre_" ]; then
			LD_PRELOAD=$pre_ exec "$@"
		fi
		exec "$@"' sh "$curl_so" "${ATTRACE_ASAN_PRELOAD:-}" "$@"
}
if [ -n "$curl_so" ] && without_libcurl true 2>/dev/null; then
	test_set_prereq NO_LIBCURL
else
	echo "# cannot hide libcurl.so.4 (unshare -rm with a bind mount): those tests skipped"
fi
NOWHERE=http://127.0.0.1:9
mkdir -p state/attrace/spool
cp good.trace state/attrace/spool/5f0c00000000000000000000000000aa.jsonl.zst
export XDG_STATE_HOME="$TRASH/state"

test_expect_success CLI,NO_LIBCURL 'without libcurl, push fails with one line naming it' '
	{ without_libcurl "$ATTRACE_BIN" push --collector $NOWHERE good.trace 2>nocurl.err; test $? = 1; } &&
	test_equal 1 "$(wc -l <nocurl.err)" "stderr lines" &&
	grep -q "^attrace: cannot push .good\.trace. .*: cannot load libcurl\.so\.4: ." nocurl.err
'

test_expect_success CLI,NO_LIBCURL 'without libcurl, push --spool leaves the spool as it was' '
	{ without_libcurl "$ATTRACE_BIN" push --collector $NOWHERE --spool 2>spool.err; test $? = 1; } &&
	grep -q "cannot load libcurl\.so\.4: ." spool.err &&
	grep -q "0 pushed, 1 left" spool.err &&
	cmp good.trace state/attrace/spool/5f0c00000000000000000000000000aa.jsonl.zst
'

test_expect_success CLI,SHIM,NO_LIBCURL 'without libcurl, record --collector passes the status on, keeps the trace' '
	{ without_libcurl "$ATTRACE_BIN" record -o nocurl.trace --collector $NOWHERE -- \
		sh -c "exit 3" 2>record.err; test $? = 3; } &&
	grep -q "^attrace: cannot push .*nocurl\.trace.*: cannot load libcurl\.so\.4: ." record.err &&
	attrace fingerprint nocurl.trace >/dev/null
'

test_done
