#!/bin/sh
# SPDX-License-Identifier: MIT
# t0007: exit statuses, fatal signals and kill -9 pass through the shim.
#
# Serves: tests/servers/http-server.py on 127.0.0.1:$PORT (for the kill -9 case).
# Runs:   sh -c 'exit 3'; a python that SIGTERMs itself (checked by a parent
#         python that reads the child's returncode: -15 means killed by the
#         signal, 143 would be an exit(143)); a long-running traced python that
#         makes one request, then sleeps until it is killed with SIGKILL.
# Must see: status 3 and agent_complete status 3, directly and through
#         `attrace record`; death by SIGTERM with agent_complete signal 15
#         (SIGTERM); after kill -9 a trace that zstdcat reads completely and
#         that holds the events written before the kill.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"

start_http_server

cat >status.py <<'PY'
# status.py CMD...: run CMD, print how it ended: "exit N" or "signal N".
import subprocess
import sys

r = subprocess.run(sys.argv[1:])
print("exit %d" % r.returncode if r.returncode >= 0 else "signal %d" % -r.returncode)
PY

cat >sigterm.py <<'PY'
import os
import signal
import sys

sys.stdout.write("about to die\n")
sys.stdout.flush()
os.kill(os.getpid(), signal.SIGTERM)
print("not reached")
PY

cat >sleeper.py <<'PY'
import os
import sys
import time
import urllib.request

body = urllib.request.urlopen("http://127.0.0.1:%s/hello" % sys.argv[1]).read()
with open("sleeper.ready.tmp", "w") as f:
    f.write("%d\n" % os.getpid())
os.rename("sleeper.ready.tmp", "sleeper.ready")
time.sleep(30)
PY

test_expect_success 'bare: exit 3' '
	run_bare bare3 sh -c "exit 3" &&
	test_equal 3 "$(cat bare3.rc)"
'

# Five times: a process this short (dash ends with _exit) must still have its
# agent_start in the trace every time, not only when the writer was quick.
test_expect_success SHIM 'shim: exit status 3 passes through, trace complete (x5)' '
	for i in 1 2 3 4 5; do
		run_shim s3 sh -c "exit 3" &&
		test_same_run bare3 s3 &&
		test_trace_complete s3.trace &&
		test_jq s3.trace "[.[] | select(.type == \"agent_complete\")] | length == 1
			and .[0].payload.status == 3 and .[0].payload.signal == null" || return 1
	done
'

test_expect_success CLI 'attrace record: exit status 3 passes through' '
	attrace_record "$PWD/r3.trace" sh -c "exit 3" >r3.out 2>r3.err
	test_equal 3 $? "attrace record exit status" &&
	test_equal "" "$(grep -v "^attrace: " r3.err)" "stderr, apart from attrace: lines" &&
	test_jq r3.trace "[.[] | select(.type == \"agent_complete\")] | .[0].payload.status == 3"
'

test_expect_success 'bare: the SIGTERM program dies by SIGTERM' '
	$PYTHON status.py $PYTHON sigterm.py >bare-term.out &&
	printf "about to die\nsignal 15\n" >expect &&
	test_cmp expect bare-term.out
'

test_expect_success SHIM 'shim: the program still dies by SIGTERM' '
	$PYTHON status.py env LD_PRELOAD=$SHIM_PRELOAD ATTRACE_TRACE=$PWD/term.trace \
		$PYTHON sigterm.py >shim-term.out &&
	test_cmp expect shim-term.out
'

test_expect_success SHIM 'shim: agent_complete records signal 15 (SIGTERM)' '
	rm -f term.trace &&
	$PYTHON status.py env LD_PRELOAD=$SHIM_PRELOAD ATTRACE_TRACE=$PWD/term.trace \
		$PYTHON sigterm.py >/dev/null &&
	test_trace_valid term.trace &&
	test_jq term.trace "[.[] | select(.type == \"agent_complete\")] | length == 1
		and .[0].payload.how == \"signal\" and .[0].payload.signal == 15
		and .[0].payload.signame == \"SIGTERM\" and .[0].payload.status == null"
'

test_expect_success CLI 'attrace record: the program dies by SIGTERM, recorded' '
	ASAN_PRELOAD_=${ATTRACE_ASAN_PRELOAD:+LD_PRELOAD=$ATTRACE_ASAN_PRELOAD} &&
	$PYTHON status.py env $ASAN_PRELOAD_ "$ATTRACE_BIN" record -o "$PWD/rterm.trace" -- \
		$PYTHON sigterm.py >rec-term.out &&
	test_cmp expect rec-term.out &&
	test_jq rterm.trace "[.[] | select(.type == \"agent_complete\")] | .[0].payload.signal == 15"
'

test_expect_success SHIM 'kill -9 leaves a readable trace with the events before it' '
	rm -f sleeper.ready kill.trace &&
	shim_run "$PWD/kill.trace" $PYTHON sleeper.py $PORT >sleeper.out 2>&1 &
	bg=$! && test_pids_="$test_pids_ $bg" &&
	i=0 &&
	while ! [ -f sleeper.ready ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done &&
	test -f sleeper.ready &&
	sleep 0.5 &&
	pid=$(cat sleeper.ready) &&
	kill -9 $pid &&
	{ wait $bg; true; } &&
	zstdcat kill.trace >kill.jsonl &&
	test_trace_valid kill.trace &&
	test_jq kill.trace "[.[] | select(.type == \"agent_start\")] | length == 1" &&
	test_jq kill.trace "$JQ_DEFS [conns[] | select(.peer == \"127.0.0.1:$PORT\")]
		| length == 1 and (.[0].sent | startswith(\"GET /hello HTTP/1.1\r\n\"))
		and (.[0].received | endswith(\"hello from attrace\n\"))" &&
	test_jq kill.trace "[.[] | select(.type == \"file_open\"
		and .payload.path == \"sleeper.ready.tmp\")] | length == 1" &&
	test_jq kill.trace "[.[] | select(.type == \"agent_complete\")] | length == 0"
'

test_done
