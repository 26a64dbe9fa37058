# SPDX-License-Identifier: MIT
# lib.sh -- the harness every tests/integration/tNNNN-*.sh sources.
#
# Modelled on git's t/test-lib.sh: a test script is a list of
#
#	test_expect_success [PREREQS] 'description' '
#		commands &&
#		more commands
#	'
#
# ended by test_done. Each test's commands run (eval'ed in the script's own
# shell, so variables carry over to later tests) with their output captured;
# the script prints TAP: "ok N - desc", "not ok N - desc" followed by the
# failing commands and their output indented with "#", "ok N # SKIP desc
# (missing PREREQ)" when a prerequisite is missing. test_done prints the plan
# "1..N" and exits 1 if any test failed.
#
# Every script gets a fresh temporary directory, $TRASH, which is also the
# working directory while tests run; it is removed at exit (kept when
# ATTRACE_TEST_KEEP=1, for debugging). Servers started through start_server
# are killed at exit.
#
# Environment (set by tests/meson.build; defaults for running a script by
# hand from the source tree with a build in ./build):
#   SRCDIR, BUILDDIR, ATTRACE_LIB (libattrace.so), ATTRACE_BIN (attrace CLI),
#   ATTRACE_ASAN_PRELOAD (ASan runtime, prepended to LD_PRELOAD), ASAN_OPTIONS.
#   ATTRACE_TEST_VERBOSE=1 also shows the output of passing tests.
#
# Helpers:
#   shim_run TRACE CMD...           run CMD under the shim, recording into TRACE
#   attrace_record TRACE CMD...     the same through `attrace record -o TRACE --`
#   run_bare NAME CMD...            run CMD, stdout to NAME.out, stderr to
#                                   NAME.err, exit status to NAME.rc
#   run_shim NAME CMD...            the same under the shim, trace in NAME.trace
#   start_server VAR SCRIPT ARGS... start a /usr/bin/python3 server from
#                                   tests/servers that prints "PORT <n>"; export
#                                   VAR=<n>
#   start_http_server               start_server PORT http-server.py
#   trace_events TRACE              the events, one compact JSON per line
#   jq_trace TRACE FILTER           jq -c FILTER over the slurped event array
#   jq_count TRACE FILTER           number of events e for which (e | FILTER)
#   test_cmp EXPECTED ACTUAL        files equal, else print a diff
#   test_equal EXPECTED ACTUAL [WHAT]
#   test_match REGEX STRING [WHAT]  grep -E style match
#   test_jq TRACE FILTER [WHAT]     FILTER over the slurped event array is true
#   test_count TRACE FILTER OP N    jq_count compared with test(1)'s -eq/-ge/...
#   test_trace_valid TRACE          zstdcat and jq read it; every event has the
#                                   envelope of attrace-trace(5)
#   test_trace_complete TRACE       also: seq 0..n-1 without gaps per process,
#                                   agent_start first, agent_complete last

# ---- setup -----------------------------------------------------------------

TEST_NAME=${0##*/}
TEST_NAME=${TEST_NAME%.sh}
: "${SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${BUILDDIR:=$SRCDIR/build}"
: "${ATTRACE_LIB:=$BUILDDIR/shim/libattrace.so}"
: "${ATTRACE_BIN:=$BUILDDIR/cli/attrace}"
: "${ASAN_OPTIONS:=detect_leaks=0}"
export SRCDIR BUILDDIR ATTRACE_LIB ATTRACE_BIN ASAN_OPTIONS
# The python the tests run is Debian's, never a pyenv shim found on PATH.
PYTHON=/usr/bin/python3
SERVERS="$SRCDIR/tests/servers"
LC_ALL=C
export LC_ALL
# Nothing from the caller's environment may change what the shim does.
unset ATTRACE_MODE ATTRACE_TRACE ATTRACE_GOVERNANCE ATTRACE_COLLECTOR ATTRACE_NAME \
	ATTRACE_REDACT ATTRACE_LOG LD_PRELOAD

test_count_=0
test_fail_=0
test_pids_=
test_prereqs_=" "

TRASH=$(mktemp -d "${TMPDIR:-/tmp}/attrace-$TEST_NAME.XXXXXX") || {
	echo "Bail out! cannot create a temporary directory"
	exit 1
}
export TRASH

test_cleanup_()
{
	for p in $test_pids_; do
		kill "$p" 2>/dev/null
	done
	for p in $test_pids_; do
		wait "$p" 2>/dev/null
	done
	cd / || :
	if [ "${ATTRACE_TEST_KEEP:-0}" = 1 ]; then
		echo "# kept $TRASH"
	else
		rm -rf "$TRASH"
	fi
}
trap test_cleanup_ EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cd "$TRASH" || exit 1

# ---- prerequisites ---------------------------------------------------------

test_set_prereq()
{
	test_prereqs_="$test_prereqs_$1 "
}

test_have_prereq()
{
	# $1 is a comma-separated list, as in git.
	old_ifs_=$IFS
	IFS=,
	for p_ in $1; do
		case "$test_prereqs_" in
		*" $p_ "*) ;;
		*)
			IFS=$old_ifs_
			missing_prereq_=$p_
			return 1
			;;
		esac
	done
	IFS=$old_ifs_
	return 0
}

# asan_curl_ok: does curl run with the ASan runtime preloaded? Debian 12's
# curl deadlocks in setlocale() then, even with no shim at all
# (LD_PRELOAD=libasan.so curl ... hangs). The probe waits 10 s for the
# hang, so its answer is kept in the build directory for every other test
# (keyed by the runtime's and curl's paths and curl's mtime).
asan_curl_ok()
{
	curl_=$(command -v curl)
	key_="$ATTRACE_ASAN_PRELOAD $curl_ $(stat -c %Y "$curl_" 2>/dev/null)"
	cache_="$BUILDDIR/asan-curl.probe"
	if [ -f "$cache_" ] && [ "$(sed -n 1p "$cache_")" = "$key_" ]; then
		[ "$(sed -n 2p "$cache_")" = ok ]
		return
	fi
	if LD_PRELOAD=$ATTRACE_ASAN_PRELOAD timeout 10 curl -s file:///dev/null >/dev/null 2>&1; then
		res_=ok
	else
		res_=hangs
	fi
	printf '%s\n%s\n' "$key_" "$res_" >"$cache_.$$" && mv -f "$cache_.$$" "$cache_"
	[ "$res_" = ok ]
}

if command -v curl >/dev/null 2>&1; then
	if [ -z "${ATTRACE_ASAN_PRELOAD:-}" ] || asan_curl_ok; then
		test_set_prereq CURL
	else
		echo "# curl hangs under the ASan runtime alone (no shim): curl tests skipped"
	fi
fi
command -v node >/dev/null 2>&1 && test_set_prereq NODE
command -v perl >/dev/null 2>&1 && perl -MHTTP::Tiny -e 1 2>/dev/null && test_set_prereq PERL_HTTP_TINY
[ -x "$PYTHON" ] && test_set_prereq PYTHON
command -v cc >/dev/null 2>&1 && test_set_prereq CC
# SHIM and CLI are always there in a meson run (the tests depend on them): a
# missing build is an error, not a reason to skip. ATTRACE_TEST_PARTIAL=1
# skips the tests that need whichever of the two is not built, for working on
# tests before both exist.
if [ "${ATTRACE_TEST_PARTIAL:-0}" != 1 ]; then
	for f_ in "$ATTRACE_LIB" "$ATTRACE_BIN"; do
		[ -f "$f_" ] || { echo "Bail out! $f_ does not exist (build first)"; exit 1; }
	done
fi
[ -f "$ATTRACE_LIB" ] && test_set_prereq SHIM
[ -x "$ATTRACE_BIN" ] && test_set_prereq CLI

# Scripts cannot do anything without these: skip the whole script.
test_skip_all()
{
	echo "1..0 # SKIP $*"
	exit 0
}
for tool_ in jq zstd zstdcat; do
	command -v "$tool_" >/dev/null 2>&1 || test_skip_all "$tool_ is not installed"
done
[ -x "$PYTHON" ] || test_skip_all "$PYTHON is not installed"

# ---- running tests ---------------------------------------------------------

test_indent_()
{
	sed 's/^/#	/'
}

test_run_()
{
	# Runs in this shell, so variables set by one test are seen by the next.
	# `set -e` is not used: tests chain their commands with &&.
	eval "$1"
}

test_expect_()
{
	# $1 = success | failure, then [PREREQS] DESC BODY
	expect_=$1
	shift
	if [ $# = 3 ]; then
		prereq_=$1
		shift
	else
		prereq_=
	fi
	if [ $# != 2 ]; then
		echo "Bail out! test_expect_$expect_ needs [PREREQS] DESC BODY"
		exit 1
	fi
	test_count_=$((test_count_ + 1))
	if [ -n "$prereq_" ] && ! test_have_prereq "$prereq_"; then
		echo "ok $test_count_ # SKIP $1 (missing $missing_prereq_)"
		return 0
	fi
	out_="$TRASH/.test-$test_count_.log"
	cd "$TRASH" || exit 1
	test_run_ "$2" >"$out_" 2>&1 </dev/null
	rc_=$?
	cd "$TRASH" || exit 1
	if [ "$expect_" = failure ]; then
		# A known breakage: TAP TODO, which meson counts as an expected fail.
		if [ $rc_ = 0 ]; then
			echo "ok $test_count_ - $1 # TODO known breakage vanished"
		else
			echo "not ok $test_count_ - $1 # TODO known breakage"
		fi
	elif [ $rc_ = 0 ]; then
		echo "ok $test_count_ - $1"
		[ "${ATTRACE_TEST_VERBOSE:-0}" = 1 ] && test_indent_ <"$out_"
	else
		test_fail_=$((test_fail_ + 1))
		echo "not ok $test_count_ - $1"
		printf '%s\n' "$2" | test_indent_
		echo "#	--- output (exit $rc_) ---"
		test_indent_ <"$out_"
	fi
	return 0
}

test_expect_success()
{
	test_expect_ success "$@"
}

# For a test that fails because of a known bug: the comment above it must
# name the bug (file, function).
test_expect_failure()
{
	test_expect_ failure "$@"
}

test_done()
{
	echo "1..$test_count_"
	if [ $test_fail_ != 0 ]; then
		echo "# failed $test_fail_ among $test_count_ test(s)"
		exit 1
	fi
	exit 0
}

# ---- running programs ------------------------------------------------------

# The LD_PRELOAD value for traced programs: the ASan runtime must come first.
SHIM_PRELOAD="${ATTRACE_ASAN_PRELOAD:+$ATTRACE_ASAN_PRELOAD:}$ATTRACE_LIB"

shim_run()
{
	trace_=$1
	shift
	LD_PRELOAD=$SHIM_PRELOAD ATTRACE_TRACE=$trace_ "$@"
}

attrace_record()
{
	trace_=$1
	shift
	# In an ASan build the CLI is instrumented and the runtime must come first
	# in its children's LD_PRELOAD too; the CLI keeps what LD_PRELOAD holds.
	if [ -n "${ATTRACE_ASAN_PRELOAD:-}" ]; then
		LD_PRELOAD=$ATTRACE_ASAN_PRELOAD "$ATTRACE_BIN" record -o "$trace_" -- "$@"
	else
		"$ATTRACE_BIN" record -o "$trace_" -- "$@"
	fi
}

attrace()
{
	"$ATTRACE_BIN" "$@"
}

run_bare()
{
	name_=$1
	shift
	"$@" >"$name_.out" 2>"$name_.err"
	echo $? >"$name_.rc"
}

run_shim()
{
	name_=$1
	shift
	rm -f "$name_.trace"
	shim_run "$PWD/$name_.trace" "$@" >"$name_.out" 2>"$name_.err"
	echo $? >"$name_.rc"
}

# test_same_run BARE SHIM: same stdout and exit status (and says which differs).
test_same_run()
{
	test_cmp "$1.rc" "$2.rc" && test_cmp "$1.out" "$2.out"
}

# start_server VAR SCRIPT [ARGS...]: start tests/servers/SCRIPT, wait until it
# prints "PORT <n>", export VAR=<n>. The server is killed at exit.
start_server()
{
	var_=$1
	script_=$2
	shift 2
	log_="$TRASH/.server-$var_"
	"$PYTHON" "$SERVERS/$script_" "$@" >"$log_.out" 2>"$log_.err" &
	pid_=$!
	test_pids_="$test_pids_ $pid_"
	i_=0
	while :; do
		port_=$(sed -n 's/^PORT \([0-9][0-9]*\)$/\1/p' "$log_.out" 2>/dev/null)
		[ -n "$port_" ] && break
		if ! kill -0 "$pid_" 2>/dev/null || [ $i_ -ge 200 ]; then
			echo "Bail out! $script_ did not start:"
			test_indent_ <"$log_.err"
			exit 1
		fi
		i_=$((i_ + 1))
		sleep 0.05
	done
	eval "$var_=\$port_"
	export "$var_"
}

start_http_server()
{
	start_server PORT http-server.py "$@"
}

# make_test_ca NAME: a throwaway CA (ca.pem, ca.key) and a server certificate
# it signed for localhost and 127.0.0.1 (srv.pem, srv.key), in the current
# directory. Needs openssl.
make_test_ca()
{
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
		-subj "/CN=attrace $1 CA" 2>/dev/null &&
		openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr \
			-subj "/CN=localhost" 2>/dev/null &&
		printf "subjectAltName=DNS:localhost,IP:127.0.0.1\n" >ext.cnf &&
		openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
			-out srv.pem -days 2 -extfile ext.cnf 2>/dev/null
}

# ---- reading traces --------------------------------------------------------

trace_events()
{
	zstdcat "$1" | jq -c .
}

# jq_trace TRACE FILTER: FILTER applied to the array of all events.
jq_trace()
{
	zstdcat "$1" | jq -c -s "$2"
}

jq_count()
{
	zstdcat "$1" | jq -s "[.[] | select($2)] | length"
}

# jq definitions to prefix filters with (test_jq T "$JQ_DEFS ..."):
#   data        the bytes of a socket_call or random event (base64 decoded;
#               binary shows as U+FFFD), "" when none
#   conns       one object per (pid, conn) of socket_call events, in seq
#               order: {pid, conn, proto, tids, peer, ops, errnos, sent,
#               received} where sent/received join the data of successful
#               sends/receives
#   of_type(T)  the events of type T
JQ_DEFS='def data: if .payload.data then .payload.data
		elif .payload.data_b64 then (.payload.data_b64 | @base64d) else "" end;
	def of_type(t): .[] | select(.type == t);
	def conns: [.[] | select(.type == "socket_call")] | group_by([.pid, .payload.conn])
		| map(sort_by(.seq) | {pid: .[0].pid, conn: .[0].payload.conn,
			proto: .[0].payload.proto, tids: (map(.tid) | unique),
			peer: (map(.payload.peer // empty) | first),
			ops: map(.payload.op), errnos: map(.payload.errno // empty),
			sent: (map(select(.payload.op == "send" and .payload.n > 0) | data) | add // ""),
			received: (map(select(.payload.op == "recv" and .payload.n > 0) | data) | add // "")});
	'

# ---- assertions: each prints what it expected and what it got --------------

test_cmp()
{
	if ! cmp -s "$1" "$2"; then
		echo "test_cmp: $1 and $2 differ:"
		diff -u "$1" "$2" | head -50 | cat -v
		return 1
	fi
}

test_equal()
{
	if [ "$1" != "$2" ]; then
		echo "${3:-value}: expected '$1'"
		echo "${3:-value}:      got '$2'"
		return 1
	fi
}

test_match()
{
	if ! printf '%s\n' "$2" | grep -Eq -- "$1"; then
		echo "${3:-value}: expected a match for /$1/"
		echo "${3:-value}: got '$2'"
		return 1
	fi
}

# test_jq TRACE FILTER [WHAT]: FILTER over the event array must yield true.
test_jq()
{
	if ! zstdcat "$1" >"$TRASH/.jq-events" 2>"$TRASH/.jq-err"; then
		echo "${3:-test_jq}: zstdcat $1 failed:"
		cat "$TRASH/.jq-err"
		return 1
	fi
	got_=$(jq -s "$2" <"$TRASH/.jq-events" 2>&1)
	if [ "$got_" != true ]; then
		echo "${3:-test_jq}: expected true from jq filter:"
		printf '%s\n' "$2" | sed 's/^/    /'
		echo "got: $got_"
		test_show_events_ "$TRASH/.jq-events"
		return 1
	fi
}

# test_count TRACE FILTER OP N: e.g. test_count T '.type == "dns"' -ge 1
test_count()
{
	got_=$(jq_count "$1" "$2") || {
		echo "test_count: cannot read $1"
		return 1
	}
	if ! test "$got_" "$3" "$4"; then
		echo "test_count: events matching: $2"
		echo "test_count: expected count $3 $4, got $got_"
		zstdcat "$1" >"$TRASH/.jq-events" 2>/dev/null
		test_show_events_ "$TRASH/.jq-events"
		return 1
	fi
}

# Shows a short summary of a trace (the failure output must say what we got).
test_show_events_()
{
	n_=$(wc -l <"$1")
	echo "trace has $n_ event(s): $(jq -s -r 'group_by(.type) | map("\(.[0].type) \(length)") | join(", ")' <"$1" 2>/dev/null)"
	echo "first 30 that are not file_open or time, shortened:"
	jq -c 'select(.type != "file_open" and .type != "time")
		| {seq, pid, tid, type, payload: (.payload | tostring | .[0:200])}' <"$1" 2>/dev/null | head -30
}

test_trace_valid()
{
	if ! zstdcat "$1" >"$TRASH/.tv-events" 2>"$TRASH/.tv-err"; then
		echo "zstdcat $1 failed:"
		cat "$TRASH/.tv-err"
		return 1
	fi
	if ! [ -s "$TRASH/.tv-events" ]; then
		echo "trace $1 holds no events"
		return 1
	fi
	# Every line is an object with exactly the envelope of attrace-trace(5).
	bad_=$(jq -c 'select(
		(keys != ["payload","pid","seq","step","tid","ts","ts_epoch","type"])
		or (.seq | type) != "number" or .seq < 0
		or (.pid | type) != "string" or (.pid | test("^0(\\.[1-9][0-9]*)*$") | not)
		or (.tid | type) != "number" or .tid < 0
		or (.type | type) != "string"
		or (.ts | type) != "string"
		or (.ts | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$") | not)
		or (.ts_epoch | type) != "number"
		or (.step | type) != "string"
		or (.payload | type) != "object")' "$TRASH/.tv-events" 2>&1 | head -5)
	if [ -n "$bad_" ]; then
		echo "events without the attrace-trace(5) envelope (or not JSON):"
		printf '%s\n' "$bad_" | cut -c1-300
		return 1
	fi
	# ts and ts_epoch are the same instant.
	bad_=$(jq -c 'select(((.ts | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601)
		+ (.ts | capture("\\.(?<f>[0-9]+)Z$").f | tonumber / 1000000) - .ts_epoch
		| fabs) > 0.000002)' "$TRASH/.tv-events" | head -3)
	if [ -n "$bad_" ]; then
		echo "events whose ts and ts_epoch differ:"
		printf '%s\n' "$bad_" | cut -c1-300
		return 1
	fi
}

test_trace_complete()
{
	test_trace_valid "$1" || return 1
	# Per process: seqs are 0..n-1 (each once), agent_start has seq 0 and
	# agent_complete the largest seq.
	bad_=$(jq -s -c 'group_by(.pid)[] | sort_by(.seq) | . as $g
		| select(([$g[].seq] != [range(0; $g | length)])
			or ($g[0].type != "agent_start")
			or ($g[-1].type != "agent_complete"))
		| {pid: $g[0].pid, seqs: [$g[].seq], first: $g[0].type, last: $g[-1].type}' \
		"$TRASH/.tv-events" 2>&1 | cut -c1-400)
	if [ -n "$bad_" ]; then
		echo "processes whose events are not seq 0..n-1 from agent_start to agent_complete:"
		printf '%s\n' "$bad_"
		return 1
	fi
}
