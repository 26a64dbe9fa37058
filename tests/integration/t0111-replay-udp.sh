#!/bin/sh
# SPDX-License-Identifier: MIT
# t0111-replay-udp: UDP (what Node's c-ares does for DNS) replayed offline:
# an unconnected socket's sendto/recvfrom (the reply names the recorded
# peer), a connected socket's send/recv, sendmsg/recvmsg; then a datagram
# that differs stops a strict replay.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
. "$SRCDIR/tests/integration/replay-lib.sh"

ATTRACE_RUN_TIMEOUT=20

start_server UPORT udp-echo.py

cat >udp.py <<'PY'
import socket
import sys

addr = ("127.0.0.1", int(sys.argv[1]))
word = sys.argv[2] if len(sys.argv) > 2 else "1"
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(10)
u.sendto(b"ping " + word.encode(), addr)
data, peer = u.recvfrom(1000)
print(data.decode(), peer == addr)
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.settimeout(10)
c.connect(addr)
c.send(b"ping 2")
print(c.recv(1000).decode(), c.getpeername() == addr)
c.send(b"ping 3")
data, _, _, peer = c.recvmsg(1000)
print(data.decode(), peer == addr)
PY

test_expect_success 'live run, recorded' '
	record_live live $PYTHON udp.py $UPORT &&
	test_equal 0 "$(cat live.rc)" "exit status" &&
	printf "pong ping 1 True\npong ping 2 True\npong ping 3 True\n" >expect &&
	test_cmp expect live.out
'

stop_servers

test_expect_success 'replay --strict: same stdout, fingerprint matches' '
	replay_run strict --strict live.trace -- $PYTHON udp.py $UPORT &&
	test_replay_same live strict
'

test_expect_success 'replay leaves no recorded event unused' '
	test_replay_all_consumed strict
'

test_expect_success 'a different datagram: strict stops with a mismatch naming it' '
	replay_run changed --strict live.trace -- $PYTHON udp.py $UPORT 9 &&
	test_equal 86 "$(cat changed.rc)" "exit status" &&
	grep -q "^attrace: ReplayMismatchError: 0/0 sent a 6-byte datagram \"ping 9\" to 127.0.0.1:$UPORT; the trace expected \"ping 1\"" changed.err
'

test_done
