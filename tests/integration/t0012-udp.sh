#!/bin/sh
# SPDX-License-Identifier: MIT
# t0012: UDP datagrams.
#
# Serves: tests/servers/udp-echo.py on 127.0.0.1:$UPORT (answers D with "pong D").
# Runs:   udp.py UPORT: an unconnected socket does sendto("ping 1") and
#         recvfrom; a connected socket does connect, send("ping 2"), recv;
#         sendmsg/recvmsg with "ping 3" on the unconnected one; prints answers.
# Must see: same output as bare; socket_call events with proto "udp": sends
#         with the datagram and its peer, receives with "pong ..." and the peer,
#         the libc function used (sendto/recvfrom, send/recv, sendmsg/recvmsg).
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"

start_server UPORT udp-echo.py

cat >udp.py <<'PY'
import socket
import sys

addr = ("127.0.0.1", int(sys.argv[1]))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(10)
u.sendto(b"ping 1", addr)
data, peer = u.recvfrom(1000)
print(data.decode(), peer == addr)
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.settimeout(10)
c.connect(addr)
c.send(b"ping 2")
print(c.recv(1000).decode())
u.sendmsg([b"ping", b" 3"], [], 0, addr)
data, _, _, peer = u.recvmsg(1000)
print(data.decode(), peer == addr)
PY

test_expect_success 'bare run' '
	run_bare bare $PYTHON udp.py $UPORT &&
	printf "pong ping 1 True\npong ping 2\npong ping 3 True\n" >expect &&
	test_cmp expect bare.out
'

test_expect_success SHIM 'shim: same output' '
	run_shim t $PYTHON udp.py $UPORT &&
	test_same_run bare t &&
	test_trace_complete t.trace
'

# udp_event OP FN DATA: exactly one UDP socket_call with this op, fn and data,
# from or to the echo server.
udp_event()
{
	test_jq t.trace "$JQ_DEFS [.[] | select(.type == \"socket_call\" and .payload.proto == \"udp\"
		and .payload.op == \"$1\" and .payload.fn == \"$2\" and data == \"$3\")]
		| length == 1 and .[0].payload.peer == \"127.0.0.1:$UPORT\"
		and .[0].payload.n == (\"$3\" | length)" "$1 $2 '$3'"
}

test_expect_success SHIM 'sendto / recvfrom with peers' '
	udp_event send sendto "ping 1" &&
	udp_event recv recvfrom "pong ping 1"
'

test_expect_success SHIM 'connected socket: connect, send, recv' '
	test_jq t.trace "[.[] | select(.type == \"socket_call\" and .payload.proto == \"udp\"
		and .payload.op == \"connect\")] | length == 1
		and .[0].payload.peer == \"127.0.0.1:$UPORT\" and .[0].payload.n == 0" &&
	udp_event send send "ping 2" &&
	udp_event recv recv "pong ping 2"
'

test_expect_success SHIM 'sendmsg / recvmsg with peers' '
	udp_event send sendmsg "ping 3" &&
	udp_event recv recvmsg "pong ping 3"
'

test_expect_success SHIM 'the two sockets are two connections' '
	test_jq t.trace "[.[] | select(.type == \"socket_call\" and .payload.proto == \"udp\") | .payload.conn]
		| unique | length == 2"
'

test_done
