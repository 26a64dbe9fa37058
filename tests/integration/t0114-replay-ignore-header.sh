#!/bin/sh
# SPDX-License-Identifier: MIT
# t0114: header fields that change from run to run, left out of a strict
# replay's matching and fingerprint with --ignore-header or
# ATTRACE_REPLAY_IGNORE.
#
# Serves: tests/servers/replay-server.py on 127.0.0.1:$PORT (POST /echo
#         answers "echo N: BODY"), stopped before any replay.
# Runs:   RUN_ID=... /usr/bin/python3 agent.py URL [BODY]: two POSTs with
#         urllib, each with X-Run-Id and Idempotency-Key made from RUN_ID (a
#         CI job's id: not an input attrace replays, unlike random bytes and
#         the clock, so it differs between the live run and the replays),
#         printing the answers.
# Must see: strict replay without options exits 86 naming X-Run-Id and both
#         values; with --ignore-header X-Run-Id it is served but exits 87,
#         naming Idempotency-Key as the field the fingerprints differ in;
#         with both names (flags, or ATTRACE_REPLAY_IGNORE with a prefix)
#         it prints the live output byte for byte and exits 0 with matching
#         fingerprints; an ignored header hides no change of body (86, and a
#         line showing the recorded and the replayed body); a
#         bad name is refused before the command runs (2 for the flag, 1 for
#         the variable) with one line.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
. "$SRCDIR/tests/integration/replay-lib.sh"

if ! unshare -rn true 2>/dev/null; then
	test_skip_all "unshare -rn is not available"
fi

start_server PORT replay-server.py
URL=http://127.0.0.1:$PORT

cat >agent.py <<'PY'
import os
import sys
import urllib.request

url, body = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "ask"
run = os.environ["RUN_ID"]
for i in range(2):
    req = urllib.request.Request(url + "/echo", data=f"{body} {i}".encode(), method="POST")
    req.add_header("X-Run-Id", run)
    req.add_header("Idempotency-Key", f"retry-{run}-{i}")
    with urllib.request.urlopen(req) as r:
        print(r.read().decode())
PY

test_expect_success PYTHON 'live: two POSTs with per-run header values, recorded' '
	RUN_ID=job-41 record_live live "$PYTHON" agent.py $URL &&
	test_equal 0 "$(cat live.rc)" "exit status" &&
	printf "echo 1: ask 0\necho 2: ask 1\n" >expect &&
	test_cmp expect live.out
'

stop_servers
RUN_ID=job-42
export RUN_ID

test_expect_success PYTHON 'strict replay compares X-Run-Id: a mismatch naming it' '
	replay_run plain --strict live.trace -- "$PYTHON" agent.py $URL &&
	test_equal 86 "$(cat plain.rc)" "exit status" &&
	grep -q "^attrace: ReplayMismatchError: .*POST $URL/echo: the header X-Run-Id differs: sent \"job-42\", recorded \"job-41\"" plain.err
'

test_expect_success PYTHON '--ignore-header X-Run-Id: served, but the Idempotency-Key still differs (87, named)' '
	replay_run one --strict --ignore-header X-Run-Id live.trace -- "$PYTHON" agent.py $URL &&
	test_equal 87 "$(cat one.rc)" "exit status" &&
	test_cmp live.out one.out &&
	grep -q "^attrace: the fingerprints differ only in header fields replay does not match on: Idempotency-Key; --ignore-header NAME" one.err &&
	grep -q "^attrace: the fingerprints leave out the header fields X-Run-Id$" one.err &&
	test_last_line "^attrace: replay consumed [0-9]+ of [0-9]+ events; fingerprint [0-9a-f]{16} \\(differs from recorded [0-9a-f]{16}\\)$" one
'

test_expect_success PYTHON 'both names ignored: the live output and matching fingerprints' '
	replay_run both --strict --ignore-header X-Run-Id --ignore-header idempotency-key \
		live.trace -- "$PYTHON" agent.py $URL &&
	test_equal 0 "$(cat both.rc)" "exit status" &&
	test_cmp live.out both.out &&
	grep -q "^attrace: the fingerprints leave out the header fields X-Run-Id,idempotency-key$" both.err &&
	test_last_line "^attrace: replay consumed ([0-9]+) of \\1 events; fingerprint ([0-9a-f]{16}) \\(matches \\2\\)$" both
'

test_expect_success PYTHON 'ATTRACE_REPLAY_IGNORE with a prefix does the same' '
	ATTRACE_REPLAY_IGNORE="x-run-*, Idempotency-Key" &&
	export ATTRACE_REPLAY_IGNORE &&
	replay_run env --strict live.trace -- "$PYTHON" agent.py $URL &&
	unset ATTRACE_REPLAY_IGNORE &&
	test_equal 0 "$(cat env.rc)" "exit status" &&
	test_cmp live.out env.out &&
	grep -q "^attrace: the fingerprints leave out the header fields x-run-\\*, Idempotency-Key$" env.err &&
	test_last_line "fingerprint ([0-9a-f]{16}) \\(matches \\1\\)$" env
'

test_expect_success PYTHON,SHIM 'without the CLI: LD_PRELOAD and ATTRACE_REPLAY_IGNORE, the same' '
	unshare -rn env ATTRACE_REPLAY_IGNORE="X-Run-Id,Idempotency-Key" LD_PRELOAD="$SHIM_PRELOAD" \
		ATTRACE_MODE=replay ATTRACE_TRACE="$PWD/live.trace" ATTRACE_GOVERNANCE=strict \
		"$PYTHON" agent.py $URL >shim.out 2>shim.err &&
	test_cmp live.out shim.out &&
	grep -q "^attrace: the fingerprints leave out the header fields X-Run-Id,Idempotency-Key$" shim.err &&
	test_last_line "fingerprint ([0-9a-f]{16}) \\(matches \\1\\)$" shim
'

test_expect_success PYTHON 'an ignored header hides no change of body' '
	replay_run body --strict --ignore-header X-Run-Id --ignore-header Idempotency-Key \
		live.trace -- "$PYTHON" agent.py $URL changed &&
	test_equal 86 "$(cat body.rc)" "exit status" &&
	grep -q "^attrace: ReplayMismatchError: .*POST $URL/echo has no recorded match; closest recorded: POST $URL/echo" body.err &&
	grep -q "^attrace: the runs first differ here (attrace show --json shows all): recorded .*ask 0.*; replayed .*changed 0" body.err
'

test_expect_success CLI 'a bad --ignore-header is a usage error, before the command runs' '
	rm -f marker &&
	replay_run bad --ignore-header "a b" live.trace -- touch marker &&
	test_equal 2 "$(cat bad.rc)" "exit status" &&
	test_equal 1 "$(wc -l <bad.err)" "lines on stderr" &&
	grep -q "^attrace: replay: --ignore-header .a b.: not a header name or a NAME\\* prefix$" bad.err &&
	! test -e marker
'

test_expect_success CLI 'a bad ATTRACE_REPLAY_IGNORE is refused before the command runs' '
	rm -f marker &&
	ATTRACE_REPLAY_IGNORE="*" &&
	export ATTRACE_REPLAY_IGNORE &&
	replay_run badenv live.trace -- touch marker &&
	unset ATTRACE_REPLAY_IGNORE &&
	test_equal 1 "$(cat badenv.rc)" "exit status" &&
	test_equal 1 "$(wc -l <badenv.err)" "lines on stderr" &&
	grep -q "^attrace: ATTRACE_REPLAY_IGNORE: .\\*. is not a header name or a NAME\\* prefix$" badenv.err &&
	! test -e marker
'

test_done
