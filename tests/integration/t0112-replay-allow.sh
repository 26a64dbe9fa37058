#!/bin/sh
# SPDX-License-Identifier: MIT
# t0112-replay-allow: a strict replay of a program that now writes a file the
# live run never opened stops with a filesystem leak, unless --allow (or
# ATTRACE_ALLOW) covers the file's directory; a prefix matches whole path
# components only.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
. "$SRCDIR/tests/integration/replay-lib.sh"

mkdir -p out outside
printf 'print("ok")\n' >prog.py

test_expect_success 'live run, recorded' '
	record_live live $PYTHON prog.py &&
	test_equal 0 "$(cat live.rc)" "exit status"
'

test_expect_success 'the program now writes out/x.txt' '
	printf "open(\"%s/out/x.txt\", \"w\").write(\"x\")\nprint(\"ok\")\n" "$PWD" >prog.py
'

test_expect_success 'strict: filesystem leak, exit 86, the file named' '
	replay_run leak --strict live.trace -- $PYTHON prog.py &&
	test_equal 86 "$(cat leak.rc)" "exit status" &&
	grep -q "^attrace: DeterminismLeakError: filesystem leak: open[0-9]*(\"$PWD/out/x.txt\")\$" leak.err
'

test_expect_success 'strict with --allow DIR: no leak (the fingerprint differs: exit 87)' '
	replay_run allowed --strict --allow "$PWD/out" live.trace -- $PYTHON prog.py &&
	test_equal 87 "$(cat allowed.rc)" "exit status" &&
	! grep -q "DeterminismLeakError" allowed.err &&
	test_equal ok "$(cat allowed.out)" "output"
'

test_expect_success 'ATTRACE_ALLOW does the same' '
	ATTRACE_ALLOW="$PWD/out" replay_run env --strict live.trace -- $PYTHON prog.py &&
	test_equal 87 "$(cat env.rc)" "exit status"
'

test_expect_success 'a prefix matches whole components: --allow DIR/ou is not DIR/out' '
	replay_run partial --strict --allow "$PWD/ou" live.trace -- $PYTHON prog.py &&
	test_equal 86 "$(cat partial.rc)" "exit status"
'

test_done
