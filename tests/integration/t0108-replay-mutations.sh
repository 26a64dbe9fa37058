#!/bin/sh
# SPDX-License-Identifier: MIT
# t0108: governance. A program is recorded live, then replayed changed: in
# strict mode the first I/O the trace does not hold stops it (exit 86, one
# error line naming the error); in relaxed mode (the default) it warns and
# finishes.
#
# Serves: tests/servers/replay-server.py on 127.0.0.1:$PORT, stopped before
#         any replay.
# Runs:   /usr/bin/python3 mut.py URL MODE. MODE "base" (recorded): prints
#         os.urandom(8), GET /hello, POST "a=1" to /echo, prints "done", exits
#         0. Replayed with a mutation:
#           body     POST "a=2"            ReplayMismatchError
#           path     GET /new-path         ReplayMismatchError
#           host     GET http://localhost:PORT/hello
#                                          DeterminismLeakError: DNS leak
#           entropy  a second os.urandom(8) DeterminismLeakError: entropy leak
#           file     opens ./never-opened-live.txt (in the test's directory
#                    under $TMPDIR, not a system location)
#                                          DeterminismLeakError: filesystem leak
#           spawn    subprocess.run(["/bin/true"])
#                                          DeterminismLeakError: subprocess leak
#           exit3    the same I/O, then exit status 3: no I/O violation, but
#                    the fingerprint differs: strict exits 87
#         Failed requests are caught and printed, so a relaxed run finishes.
# Must see: strict: exit 86, exactly one "attrace: NAME: ..." error line with
#         the expected name and kind, "done" never printed, stdout the live
#         run's up to the stop; relaxed: at least one
#         "attrace: warning: NAME: ... (relaxed: let through)" line, "done"
#         printed, the program's own exit status. The unchanged program
#         replays clean (exit 0, "matches", no warning).
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
. "$SRCDIR/tests/integration/replay-lib.sh"

start_server PORT replay-server.py
URL=http://127.0.0.1:$PORT

cat >mut.py <<'PY'
import os
import subprocess
import sys
import urllib.request

url, mode = sys.argv[1], sys.argv[2]


def req(path, data=None, base=url):
    try:
        with urllib.request.urlopen(base + path, data=data, timeout=10) as r:
            return "%d %s" % (r.status, r.read().decode().strip())
    except Exception as e:
        return "failed: %s" % type(e).__name__


print("urandom", os.urandom(8).hex(), flush=True)
if mode == "entropy":
    print("more", os.urandom(8).hex(), flush=True)
if mode == "file":
    with open(os.path.join(os.getcwd(), "never-opened-live.txt")) as f:
        print("file", f.read().strip(), flush=True)
if mode == "spawn":
    print("true exited", subprocess.run(["/bin/true"]).returncode, flush=True)
if mode == "host":
    print("hello", req("/hello", base=url.replace("127.0.0.1", "localhost")), flush=True)
else:
    print("hello", req("/new-path" if mode == "path" else "/hello"), flush=True)
print("post", req("/echo", data=b"a=2" if mode == "body" else b"a=1"), flush=True)
print("done")
sys.exit(3 if mode == "exit3" else 0)
PY
echo "a file the live run never opened" >never-opened-live.txt

test_expect_success 'live run of the base program, recorded' '
	record_live live $PYTHON mut.py $URL base &&
	test_equal 0 "$(cat live.rc)" "exit status" &&
	sed 1d live.out >live.tail &&
	printf "hello 200 hello from attrace\npost 200 echo 1: a=1\ndone\n" >expect &&
	test_cmp expect live.tail
'

stop_servers

test_expect_success 'the unchanged program replays clean, strict and relaxed' '
	replay_run same.s --strict live.trace -- $PYTHON mut.py $URL base &&
	test_replay_same live same.s &&
	replay_run same.r live.trace -- $PYTHON mut.py $URL base &&
	test_replay_same live same.r &&
	if grep "^attrace: .*Error" same.s.err same.r.err; then
		echo "unexpected errors or warnings"
		return 1
	fi
'

# test_strict_stop MODE REGEX: `attrace replay --strict` of MODE exits 86 with
# one error line matching "^attrace: REGEX", and "done" is not printed.
test_strict_stop()
{
	replay_run "$1.s" --strict live.trace -- $PYTHON mut.py $URL "$1"
	grep "^attrace: [A-Za-z]*Error: " "$1.s.err" >"$1.s.errors"
	test_equal 86 "$(cat "$1.s.rc")" "exit status of the strict replay" &&
	test_equal 1 "$(wc -l <"$1.s.errors")" "error lines" &&
	test_match "^attrace: $2" "$(cat "$1.s.errors")" "error line" &&
	if grep -q "^done" "$1.s.out"; then
		echo "the program was not stopped: stdout is"
		cat "$1.s.out"
		return 1
	fi || {
		echo "--- stderr ---"
		cut -c1-300 "$1.s.err"
		return 1
	}
}

# test_relaxed_warns MODE NAME [STATUS]: the relaxed replay of MODE warns
# "attrace: warning: NAME: ... (relaxed: let through)", prints "done" and exits
# with STATUS (default 0).
test_relaxed_warns()
{
	replay_run "$1.r" live.trace -- $PYTHON mut.py $URL "$1"
	{
		grep -q "^attrace: warning: $2: .* (relaxed: let through)\$" "$1.r.err" || {
			echo "no warning line for $2"
			false
		}
	} &&
	test_equal "${3:-0}" "$(cat "$1.r.rc")" "exit status of the relaxed replay" &&
	test_equal "done" "$(tail -n1 "$1.r.out")" "last line of stdout" || {
		echo "--- stdout ---"
		cat "$1.r.out"
		echo "--- stderr ---"
		cut -c1-300 "$1.r.err"
		return 1
	}
}

# HTTP/1 is matched per request (method, URL, body): the error names the
# request, the closest recorded one and where they part.
HTTP_MISS="ReplayMismatchError: 0/0: %s http://127\\.0\\.0\\.1:$PORT%s has no recorded match; closest recorded: %s http://127\\.0\\.0\\.1:$PORT%s; the %s differs at byte [0-9]+: sent \".*\", recorded \".*\"\$"
BODY_MISS=$(printf "$HTTP_MISS" POST /echo POST /echo body)
PATH_MISS=$(printf "$HTTP_MISS" GET /new-path GET /hello target)

test_expect_success 'a changed request body: strict stops with ReplayMismatchError' '
	test_strict_stop body "$BODY_MISS" &&
	head -n2 body.s.out >body.2 && head -n2 live.out >live.2 &&
	test_cmp live.2 body.2
'

test_expect_success 'a changed request body: relaxed warns and finishes' '
	test_relaxed_warns body ReplayMismatchError
'

test_expect_success 'a new URL path: strict stops with ReplayMismatchError' '
	test_strict_stop path "$PATH_MISS" &&
	head -n1 path.s.out >path.1 && head -n1 live.out >live.1 &&
	test_cmp live.1 path.1
'

test_expect_success 'a new URL path: relaxed warns and finishes' '
	test_relaxed_warns path ReplayMismatchError
'

test_expect_success 'a new hostname: strict stops with a DNS leak' '
	test_strict_stop host "DeterminismLeakError: DNS leak: getaddrinfo\\(\"localhost\"\\)"
'

test_expect_success 'a new hostname: relaxed warns and finishes' '
	test_relaxed_warns host DeterminismLeakError
'

test_expect_success 'extra random bytes: strict stops with an entropy leak' '
	test_strict_stop entropy "DeterminismLeakError: entropy leak: getrandom\\([0-9]+\\) beyond the recorded bytes" &&
	head -n1 entropy.s.out >entropy.1 && head -n1 live.out >live.1 &&
	test_cmp live.1 entropy.1
'

test_expect_success 'extra random bytes: relaxed warns and finishes' '
	test_relaxed_warns entropy DeterminismLeakError
'

test_expect_success 'a new file: strict stops with a filesystem leak' '
	test_strict_stop file "DeterminismLeakError: filesystem leak: open[a-z0-9]*\\(\"$TRASH/never-opened-live.txt\"\\)"
'

test_expect_success 'a new file: relaxed warns and finishes' '
	test_relaxed_warns file DeterminismLeakError &&
	grep -q "^file a file the live run never opened\$" file.r.out
'

# Python execs in a vfork child, which cannot record: the child leaves the
# leak to its parent, which reports it and exits 86 at its wait.
test_expect_success 'a new subprocess: strict stops with a subprocess leak' '
	test_strict_stop spawn "DeterminismLeakError: subprocess leak: [a-z_]*\\(\"(/usr)?/bin/true\"\\)"
'

test_expect_success 'a new subprocess: relaxed warns and finishes' '
	test_relaxed_warns spawn DeterminismLeakError &&
	grep -q "^true exited 0\$" spawn.r.out
'

test_expect_success 'same I/O, different exit status: strict exits 87, fingerprint differs' '
	fp=$(recorded_fp_ live) &&
	replay_run exit3.s --strict live.trace -- $PYTHON mut.py $URL exit3 &&
	test_equal 87 "$(cat exit3.s.rc)" "exit status of the strict replay" &&
	test_last_line "^attrace: replay consumed [0-9]+ of [0-9]+ events; fingerprint [0-9a-f]{16} \\(differs from recorded $fp\\)\$" exit3.s &&
	test_cmp live.out exit3.s.out &&
	if grep "^attrace: [A-Za-z]*Error: " exit3.s.err; then
		echo "no I/O differs: expected no error line"
		return 1
	fi
'

test_expect_success 'same I/O, different exit status: relaxed exits 3, fingerprint differs' '
	replay_run exit3.r live.trace -- $PYTHON mut.py $URL exit3 &&
	test_equal 3 "$(cat exit3.r.rc)" "exit status of the relaxed replay" &&
	test_last_line "^attrace: replay consumed [0-9]+ of [0-9]+ events; fingerprint [0-9a-f]{16} \\(differs from recorded $fp\\)\$" exit3.r &&
	test_cmp live.out exit3.r.out
'

test_done
