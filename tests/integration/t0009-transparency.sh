#!/bin/sh
# SPDX-License-Identifier: MIT
# t0009: the shim is transparent.
#
# Serves: tests/servers/http-server.py on 127.0.0.1:$PORT;
#         tests/servers/halves-server.py on $HPORT; a closed port
#         $CLOSED (bound, then closed, by the test).
# Runs:   errnos.py: a blocking connect to the closed port (ECONNREFUSED);
#         non-blocking: connect_ex gives EINPROGRESS, recv before data gives
#         EAGAIN, select() says writable, SO_ERROR 0, a full request/response,
#         then a recv at end of file gives b""; prints every result.
#         curl fetching 100000 binary bytes to stdout; a python printing
#         random-looking binary; the same runs with ATTRACE_MODE=off;
#         gettimeofday(NULL, &tz) through ctypes (glibc declares tv nonnull,
#         so the wrapper's test of it must survive the compiler);
#         waits.py against halves-server.py, which sends each answer in
#         two halves, 100 and 250 ms after the request, after 300 GETs (so the writer runs and the
#         wrapper looks before each receive, libattrace(7) HOW IT RECORDS):
#         recv with MSG_WAITALL, recv with SO_RCVLOWAT, read through a
#         makefile, and a recv that SIGALRM interrupts (no SA_RESTART);
#         sigs.py started with SIGHUP and SIGINT ignored: the kernel's view
#         of both (rt_sigaction itself), Python's of SIGTERM and SIGUSR1,
#         then a SIGHUP to itself.
# Must see: output byte-identical to bare runs (waits.py: each receive
#         returns the whole answer, the interrupted one EINTR); the errnos recorded as the
#         program saw them; no file_open of the trace file or of /proc/self/exe
#         (the shim's own I/O); with ATTRACE_MODE=off no trace file at all.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"

start_http_server
start_server HPORT halves-server.py
CLOSED=$($PYTHON -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cat >errnos.py <<'PY'
import errno
import select
import socket
import sys

port, closed = int(sys.argv[1]), int(sys.argv[2])


def name(e):
    return errno.errorcode.get(e, str(e))


s = socket.socket()
try:
    s.connect(("127.0.0.1", closed))
    print("blocking connect: ok?!")
except OSError as e:
    print("blocking connect:", name(e.errno))
s.close()

s = socket.socket()
s.setblocking(False)
print("connect_ex:", name(s.connect_ex(("127.0.0.1", port))))
_, w, _ = select.select([], [s], [], 10)
print("writable:", bool(w))
print("SO_ERROR:", s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
try:
    s.recv(100)
    print("recv: data?!")
except BlockingIOError as e:
    print("recv before data:", name(e.errno))
s.send(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
resp = b""
while True:
    r, _, _ = select.select([s], [], [], 10)
    if not r:
        print("timeout")
        break
    chunk = s.recv(65536)
    if not chunk:
        print("eof")
        break
    resp += chunk
print("body:", resp.split(b"\r\n\r\n", 1)[1].decode().strip())
print("nonblocking:", s.getblocking())
s.close()
PY

cat >binary.py <<'PY'
import sys
sys.stdout.buffer.write(bytes(range(256)) * 40 + b"\xff\xfe\x00tail")
PY

test_expect_success 'bare: errnos as the kernel gives them' '
	run_bare bare-errno $PYTHON errnos.py $PORT $CLOSED &&
	cat >expect <<-EOF &&
	blocking connect: ECONNREFUSED
	connect_ex: EINPROGRESS
	writable: True
	SO_ERROR: 0
	recv before data: EAGAIN
	eof
	body: hello from attrace
	nonblocking: False
	EOF
	test_cmp expect bare-errno.out
'

test_expect_success SHIM 'shim: the program sees the same errnos and results' '
	run_shim errno $PYTHON errnos.py $PORT $CLOSED &&
	test_same_run bare-errno errno &&
	test_cmp bare-errno.err errno.err
'

test_expect_success SHIM 'the refused connect is recorded with ECONNREFUSED' '
	test_jq errno.trace "[.[] | select(.type == \"socket_call\" and .payload.op == \"connect\"
		and .payload.peer == \"127.0.0.1:$CLOSED\")]
		| length == 1 and .[0].payload.n == -1 and .[0].payload.errno == \"ECONNREFUSED\""
'

test_expect_success SHIM 'non-blocking connect and EAGAIN recv are recorded' '
	test_jq errno.trace "$JQ_DEFS [conns[] | select(.peer == \"127.0.0.1:$PORT\")]
		| length == 1 and .[0].ops[0] == \"connect\"
		and .[0].errnos[0] == \"EINPROGRESS\"
		and (.[0].errnos | index(\"EAGAIN\") != null)
		and (.[0].received | endswith(\"hello from attrace\n\"))
		and .[0].ops[-1] == \"close\"" &&
	test_jq errno.trace "[.[] | select(.type == \"socket_call\" and .payload.errno == \"EAGAIN\")]
		| all(.payload.op == \"recv\" and .payload.n == -1)" &&
	test_jq errno.trace "[.[] | select(.type == \"socket_call\" and .payload.op == \"recv\"
		and .payload.n == 0)] | length == 1"
'

test_expect_success CURL 'bare: curl writes 100000 binary bytes' '
	run_bare bare-bin curl -s "http://127.0.0.1:$PORT/bytes?n=100000" &&
	test_equal 100000 "$(wc -c <bare-bin.out)"
'

test_expect_success CURL,SHIM 'shim: curl output byte-identical, stderr identical' '
	run_shim bin curl -s "http://127.0.0.1:$PORT/bytes?n=100000" &&
	test_same_run bare-bin bin &&
	test_cmp bare-bin.err bin.err
'

test_expect_success CURL,SHIM 'binary bytes received are in the trace, base64, in full' '
	test_jq bin.trace "[.[] | select(.type == \"socket_call\" and .payload.op == \"recv\"
		and .payload.n > 0)] | (map(.payload.n) | add) > 100000
		and any(.payload.data_b64 != null)" &&
	jq_trace bin.trace "[.[] | select(.type == \"socket_call\" and .payload.op == \"recv\"
		and .payload.n > 0)] | sort_by(.seq) | .[] | .payload.data_b64 // (.payload.data | @base64)" |
		jq -r . | while read -r b; do printf "%s" "$b" | base64 -d; done >received &&
	tail -c 100000 received >received.body &&
	test_cmp bare-bin.out received.body
'

test_expect_success SHIM 'python binary stdout byte-identical' '
	run_bare bare-py $PYTHON binary.py &&
	run_shim py $PYTHON binary.py &&
	test_same_run bare-py py &&
	test_cmp bare-py.err py.err
'

cat >waits.py <<'PY'
import signal, socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = c.makefile("rb")
for i in range(300):
    c.sendall(b"ok\n")
    assert f.readline() == b"ok\n"
c.sendall(b"half 10\n")
print("waitall", c.recv(10, socket.MSG_WAITALL))
c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 8)
c.sendall(b"half 8\n")
print("rcvlowat", c.recv(64))
c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1)
c.sendall(b"half 6\n")
print("makefile", f.read(6))
class Alarm(Exception):
    pass
def alarm(*a):
    raise Alarm()
# A handler that raises: Python retries a receive that EINTR ended
# otherwise (PEP 475).
signal.signal(signal.SIGALRM, alarm)
signal.setitimer(signal.ITIMER_REAL, 0.2)
c.sendall(b"mute\n")
try:
    c.recv(1)
    print("recv returned")
except Alarm:
    print("EINTR")
PY

test_expect_success SHIM 'receives that wait: the same results with the wrapper looking first' '
	run_bare wbare /usr/bin/python3 waits.py $HPORT &&
	test_equal 0 "$(cat wbare.rc)" "bare exit status" &&
	printf "%s\n" "waitall b'\''xxxxxyyyyy'\''" "rcvlowat b'\''xxxxyyyy'\''" \
		"makefile b'\''xxxyyy'\''" EINTR >wexpect &&
	test_cmp wexpect wbare.out &&
	run_shim wshim /usr/bin/python3 waits.py $HPORT &&
	test_same_run wbare wshim &&
	test_jq wshim.trace "[.[] | select(.type == \"socket_call\" and .payload.op == \"recv\"
		and .payload.errno == \"EINTR\")] | length == 1"
'

test_expect_success SHIM 'gettimeofday(NULL, &tz) returns as bare, without a crash' '
	cat >gtod.py <<-\PY &&
	import ctypes
	class TZ(ctypes.Structure):
	    _fields_ = [("minuteswest", ctypes.c_int), ("dsttime", ctypes.c_int)]
	tz = TZ()
	print(ctypes.CDLL(None).gettimeofday(None, ctypes.byref(tz)), tz.minuteswest, tz.dsttime)
	PY
	$PYTHON gtod.py >gtod.bare &&
	shim_run gtod.trace $PYTHON gtod.py >gtod.shim &&
	test_equal "0 0 0" "$(cat gtod.shim)" &&
	cmp gtod.bare gtod.shim
'

test_expect_success SHIM 'ignored signals stay ignored, exactly as the kernel had them' '
	cat >sigs.py <<-\PY &&
	import ctypes, os, signal
	libc = ctypes.CDLL(None, use_errno=True)
	class KSA(ctypes.Structure):
	    _fields_ = [("h", ctypes.c_ulong), ("flags", ctypes.c_ulong),
	                ("restorer", ctypes.c_ulong), ("mask", ctypes.c_ulong)]
	for s in (signal.SIGHUP, signal.SIGINT):
	    k = KSA()
	    assert libc.syscall(13, s, None, ctypes.byref(k), 8) == 0  # rt_sigaction
	    print(s.name, k.h, hex(k.flags), k.restorer, k.mask)
	for s in (signal.SIGTERM, signal.SIGUSR1):
	    print(s.name, signal.getsignal(s))
	os.kill(os.getpid(), signal.SIGHUP)
	print("alive")
	PY
	(trap "" HUP INT && $PYTHON sigs.py >sigs.bare) &&
	(trap "" HUP INT && shim_run sigs.trace $PYTHON sigs.py >sigs.shim) &&
	grep -q "^SIGHUP 1 0x0 0 0\$" sigs.bare &&
	test_cmp sigs.bare sigs.shim
'

test_expect_success CURL,SHIM 'the shim'\''s own I/O is not recorded' '
	test_jq bin.trace "[.[] | select(.type == \"file_open\" and ((.payload.path | endswith(\"bin.trace\"))
		or (.payload.path | startswith(\"/proc/self\"))
		or (.payload.path | endswith(\"libattrace.so\"))))] | length == 0" &&
	test_jq errno.trace "[.[] | select(.type == \"file_open\" and (.payload.path | endswith(\"errno.trace\")))] | length == 0" &&
	test_jq bin.trace "[.[] | select(.type == \"socket_call\" and (.payload.peer // \"\" | test(\":$PORT\$\") | not)
		and .payload.op == \"connect\")] | length == 0"
'

test_expect_success CURL,SHIM 'ATTRACE_MODE=off: same output, no trace written' '
	rm -f off.trace &&
	(ATTRACE_MODE=off && export ATTRACE_MODE &&
		run_shim off curl -s "http://127.0.0.1:$PORT/bytes?n=100000") &&
	test_same_run bare-bin off &&
	test_cmp bare-bin.err off.err &&
	! test -e off.trace &&
	(ATTRACE_MODE=off && export ATTRACE_MODE &&
		run_shim off-py $PYTHON errnos.py $PORT $CLOSED) &&
	test_same_run bare-errno off-py &&
	! test -e off-py.trace
'

test_done
