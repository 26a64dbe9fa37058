#!/bin/sh
# SPDX-License-Identifier: MIT
# t0014: the shim's trace descriptor is invisible to the program.
#
# Serves: tests/servers/http-server.py on 127.0.0.1:$PORT (for python).
# Runs:   prog-tracefd DIR (tests/integration/prog-tracefd.c): the lowest
#         free fd at start; 8 threads opening and closing files while the
#         shim's writer flushes; dup/dup2/fcntl from every number 3..1023 not
#         open; close() of every fd 3..1023; close_range(3, ~0U, 0);
#         closefrom(3) (all while the shim's descriptor sits where it
#         started); dup2/dup3 onto the top numbers; fcntl(F_DUPFD*) from
#         floors at the top of the fd range; opens until EMFILE; then open
#         again. Each step creates DIR/mark-STEP. Bare and under the shim,
#         with the default fd limit, `ulimit -n 1024` and `ulimit -n 64` (the
#         descriptor then sits at 63 and the EMFILE step reaches the limit).
#         python3: os.closerange(3, 1024) and os.dup2 onto 1023, then a GET
#         from the server, then subprocess.run (close_fds) of python3 that
#         does the same closerange and prints the first free fd.
# Must see: output and exit status identical with and without the shim; the
#         shim's descriptor still at min(limit, 1024) - 1 after closeall,
#         closerange and closefrom, and one at that number or above at the
#         last step (the EMFILE step moved it up, or made it give it up and
#         the program's closes let it take one back) (prog-tracefd lists it
#         on stderr); a
#         complete trace (every process from agent_start to agent_complete)
#         that holds the open of every mark file after the step that made it,
#         and the python GET.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"

PROG=$BUILDDIR/tests/integration/prog-tracefd
STEPS="lowest threads dupfrom closeall closerange closefrom dup2high dupfd emfile last"

# run_limit NOFILE: bare and shim runs of prog-tracefd under ulimit -n NOFILE.
run_limit()
{
	mkdir -p "bare$1" "shim$1" &&
	(ulimit -n "$1" && run_bare "bare$1" "$PROG" "$PWD/bare$1") &&
	(ulimit -n "$1" && run_shim "shim$1" "$PROG" "$PWD/shim$1") &&
	test_same_run "bare$1" "shim$1" &&
	grep -q "^lowest: 3$" "shim$1.out" &&
	grep -q "^last: 3$" "shim$1.out" &&
	grep -q "lowest free numbers: yes$" "shim$1.out" &&
	top_=$(($1 < 1024 ? $1 - 1 : 1023)) &&
	for s in closeall closerange closefrom; do
		grep -q "^$s: trace fds: $top_\$" "shim$1.err" || {
			echo "after $s the shim should still hold fd $top_:"
			cat "shim$1.err"
			return 1
		}
	done &&
	last_=$(sed -n "s/^last: trace fds: \([0-9]*\)\$/\1/p" "shim$1.err") &&
	[ -n "$last_" ] && [ "$last_" -ge "$top_" ] || {
		echo "at the last step the shim should hold one fd at $top_ or above (the EMFILE step"
		echo "moved it up, or made it give it up and the closes let it take one back):"
		cat "shim$1.err"
		return 1
	} &&
	test_trace_complete "shim$1.trace" &&
	want_=$(for s in $STEPS; do printf "mark-%s " "$s"; done) &&
	got_=$(jq -r -s "[.[] | select(.type == \"file_open\")
		| .payload.path | select(startswith(\"$PWD/shim$1/mark-\")) | ltrimstr(\"$PWD/shim$1/\")]
		| join(\" \")" "$TRASH/.tv-events") &&
	test_equal "$want_" "$got_ "
}

test_expect_success SHIM 'prog-tracefd: same output, complete trace (default limit)' '
	run_limit "$(ulimit -n)"
'

test_expect_success SHIM 'prog-tracefd: same output, complete trace (ulimit -n 1024)' '
	run_limit 1024
'

test_expect_success SHIM 'prog-tracefd: same output, complete trace (ulimit -n 64)' '
	run_limit 64 &&
	grep -q "^emfile: 61 opens, then EMFILE$" shim64.out
'

test_expect_success SHIM 'the trace descriptor survives a program that closes everything' '
	start_http_server &&
	cat >closeall.py <<-PY &&
	import os, subprocess, sys, urllib.request
	os.closerange(3, 1024)
	os.dup2(1, 1023)
	os.close(1023)
	fd = os.open("/dev/null", os.O_RDONLY)
	print("first fd", fd)
	os.close(fd)
	print(urllib.request.urlopen("http://127.0.0.1:$PORT/hello").read().decode())
	r = subprocess.run([sys.executable, "-c",
		"import os; os.closerange(3, 1024); print(os.open(\"/dev/null\", 0))"],
		capture_output=True, text=True)
	print("child", r.stdout.strip(), r.returncode)
	PY
	run_bare pybare "$PYTHON" closeall.py &&
	run_shim pyshim "$PYTHON" closeall.py &&
	test_same_run pybare pyshim &&
	grep -q "^first fd 3$" pyshim.out &&
	grep -q "^child 3 0$" pyshim.out &&
	test_trace_complete pyshim.trace &&
	test_jq pyshim.trace "[.[] | select(.type == \"agent_complete\")] | length == 2" &&
	test_jq pyshim.trace "[.[] | select(.type == \"socket_call\" and .payload.op == \"connect\"
		and .payload.peer == \"127.0.0.1:$PORT\")] | length == 1"
'

test_done
