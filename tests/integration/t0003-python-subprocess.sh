#!/bin/sh
# SPDX-License-Identifier: MIT
# t0003: python3 spawning curl through subprocess.run.
#
# Serves: tests/servers/http-server.py on 127.0.0.1:$PORT.
# Runs:   /usr/bin/python3 spawn.py URL: subprocess.run(["curl", "-s", URL/hello])
#         and prints what curl printed and its exit status.
# Must see: same output as bare; two logical processes "0" (python) and "0.1"
#         (curl); the child's agent_start names parent "0" and argv of curl;
#         the HTTP exchange is under pid "0.1", never "0"; "0" records a
#         process_spawn of child "0.1"; both end with status 0.
#         And dash (which waits with wait3) running 40 programs from vfork
#         children: one process_spawn per child, in order, with its path.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"

start_http_server
URL=http://127.0.0.1:$PORT
CURL=$(readlink -f "$(command -v curl)")

cat >spawn.py <<'PY'
import subprocess
import sys

r = subprocess.run(["curl", "-s", sys.argv[1] + "/hello"], capture_output=True)
sys.stdout.write("curl said: " + r.stdout.decode())
print("curl exited", r.returncode)
PY

test_expect_success CURL 'bare run' '
	run_bare bare $PYTHON spawn.py $URL &&
	printf "curl said: hello from attrace\ncurl exited 0\n" >expect &&
	test_cmp expect bare.out &&
	test_equal 0 "$(cat bare.rc)"
'

test_expect_success CURL,SHIM 'under the shim: same stdout and exit status' '
	run_shim t $PYTHON spawn.py $URL &&
	test_same_run bare t
'

test_expect_success CURL,SHIM 'the trace holds processes "0" and "0.1", both complete' '
	test_trace_complete t.trace &&
	test_jq t.trace "[.[].pid] | unique == [\"0\", \"0.1\"]"
'

test_expect_success CURL,SHIM 'both processes share one trace_id' '
	test_jq t.trace "[.[] | select(.type == \"agent_start\") | .payload.trace_id] | unique | length == 1"
'

test_expect_success CURL,SHIM 'the child agent_start names its parent and runs curl' '
	test_jq t.trace "[.[] | select(.type == \"agent_start\" and .pid == \"0.1\")]
		| length >= 1 and all(.payload.parent == \"0\")
		and (.[-1] | .payload.argv == [\"curl\", \"-s\", \"$URL/hello\"]
			and .payload.exe == \"$CURL\" and (.payload.via | IN(\"exec\", \"spawn\", \"vfork\")))" &&
	test_jq t.trace "[.[] | select(.type == \"agent_start\" and .pid == \"0\")]
		| length == 1 and .[0].payload.parent == null
		and .[0].payload.argv == [\"$PYTHON\", \"spawn.py\", \"$URL\"]"
'

test_expect_success CURL,SHIM 'the HTTP exchange belongs to the child' '
	test_jq t.trace "$JQ_DEFS [conns[] | select(.peer == \"127.0.0.1:$PORT\")]
		| length == 1 and .[0].pid == \"0.1\"
		and (.[0].sent | startswith(\"GET /hello HTTP/1.1\r\n\"))
		and (.[0].received | endswith(\"\r\n\r\nhello from attrace\n\"))"
'

test_expect_success CURL,SHIM 'the parent records spawning child "0.1"' '
	test_jq t.trace "[.[] | select(.type == \"process_spawn\" and .pid == \"0\")]
		| length >= 1 and (map(.payload.child) | index(\"0.1\") != null)
		and (map(.payload.real_pid | type) | all(. == \"number\"))"
'

test_expect_success CURL,SHIM 'both processes end with status 0' '
	test_jq t.trace "[.[] | select(.type == \"agent_complete\")] | map({pid, s: .payload.status})
		| sort_by(.pid) == [{pid: \"0\", s: 0}, {pid: \"0.1\", s: 0}]"
'

# dash starts each program from a vfork child and waits with wait3; more
# children than the 16 notes a process keeps must each get their event.
test_expect_success SHIM 'dash: a process_spawn for each of 40 vfork children' '
	run_shim d /bin/dash -c "i=0; while [ \$i -lt 40 ]; do /bin/true; i=\$((i + 1)); done" &&
	test_equal 0 "$(cat d.rc)" &&
	test_trace_complete d.trace &&
	test_jq d.trace "[.[] | select(.type == \"process_spawn\" and .pid == \"0\")]
		| map(.payload) | length == 40
		and map(.child) == [range(1; 41) | \"0.\(.)\"]
		and all(.op == \"vfork\" and .path == \"/bin/true\")" &&
	test_jq d.trace "[.[] | select(.type == \"agent_start\" and .pid != \"0\")]
		| length == 40 and all(.payload.via == \"vfork\" and .payload.parent == \"0\")"
'

test_done
