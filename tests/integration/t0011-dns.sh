#!/bin/sh
# SPDX-License-Identifier: MIT
# t0011: name service calls.
#
# Runs:   prog-dns localhost and prog-dns nonexistent.invalid
#         (tests/integration/prog-dns.c: getaddrinfo with AF_INET/SOCK_STREAM
#         hints and service "80", gethostbyname, gethostbyname_r,
#         gethostbyname2(AF_INET), getnameinfo(127.0.0.1:80, NI_NUMERICSERV)),
#         and python's socket.getaddrinfo("localhost", 443).
# Must see: same output as bare; one dns event per call with the name, the
#         hints and the answers the program printed; for nonexistent.invalid
#         the error the program got (EAI_NONAME / HOST_NOT_FOUND, whichever
#         it printed).
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"

PROG=$BUILDDIR/tests/integration/prog-dns

test_expect_success 'bare: localhost resolves to 127.0.0.1' '
	run_bare bare $PROG localhost &&
	test_equal 0 "$(cat bare.rc)" &&
	grep -q "^getaddrinfo localhost 80: 127.0.0.1:80\$" bare.out &&
	grep -q "^getnameinfo 127.0.0.1:80: host=[^ ]* serv=80\$" bare.out
'

test_expect_success SHIM 'shim: same output' '
	run_shim t $PROG localhost &&
	test_same_run bare t &&
	test_trace_complete t.trace
'

test_expect_success SHIM 'getaddrinfo: name, service, hints, answers' '
	test_jq t.trace "[.[] | select(.type == \"dns\" and .payload.fn == \"getaddrinfo\")]
		| length == 1 and (.[0].payload | .name == \"localhost\" and .service == \"80\"
		and .error == null
		and ([.answers[] | {family, socktype, addr, port}]
			== [{family: \"inet\", socktype: \"stream\", addr: \"127.0.0.1\", port: 80}]))" &&
	test_jq t.trace "[.[] | select(.type == \"dns\" and .payload.fn == \"getaddrinfo\")]
		| .[0].payload | (.family | tostring | test(\"inet|2|AF_INET\"))
		and (.socktype | tostring | test(\"stream|1|SOCK_STREAM\"))"
'

test_expect_success SHIM 'gethostbyname, _r and 2: name and addresses' '
	for fn in gethostbyname gethostbyname_r gethostbyname2; do
		test_jq t.trace "[.[] | select(.type == \"dns\" and .payload.fn == \"$fn\")]
			| length == 1 and (.[0].payload | .name == \"localhost\"
			and .addrs == [\"127.0.0.1\"] and .canonname == \"localhost\"
			and .h_errno == null)" "$fn" || return 1
	done
'

test_expect_success SHIM 'getnameinfo: address, port and the host the program got' '
	host=$(sed -n "s/^getnameinfo 127.0.0.1:80: host=\([^ ]*\) serv=80\$/\1/p" t.out) &&
	test_jq t.trace "[.[] | select(.type == \"dns\" and .payload.fn == \"getnameinfo\")]
		| length == 1 and (.[0].payload | .addr == \"127.0.0.1\" and .port == 80
		and .host == \"$host\" and .service == \"80\" and .error == null)"
'

test_expect_success SHIM 'dns events come in call order' '
	test_jq t.trace "[.[] | select(.type == \"dns\")] | sort_by(.seq) | map(.payload.fn)
		== [\"getaddrinfo\", \"gethostbyname\", \"gethostbyname_r\", \"gethostbyname2\", \"getnameinfo\"]"
'

test_expect_success 'bare: nonexistent.invalid fails' '
	run_bare bare-nx $PROG nonexistent.invalid &&
	grep -q "^getaddrinfo nonexistent.invalid 80: EAI_" bare-nx.out
'

test_expect_success SHIM 'shim: a failing lookup fails the same way' '
	run_shim nx $PROG nonexistent.invalid &&
	test_same_run bare-nx nx
'

test_expect_success SHIM 'the failing lookups record the errors the program saw' '
	gai=$(sed -n "s/^getaddrinfo nonexistent.invalid 80: //p" nx.out) &&
	test_jq nx.trace "[.[] | select(.type == \"dns\" and .payload.fn == \"getaddrinfo\")]
		| length == 1 and .[0].payload.name == \"nonexistent.invalid\"
		and .[0].payload.error == \"$gai\" and .[0].payload.answers == null" &&
	for fn in gethostbyname gethostbyname_r gethostbyname2; do
		herr=$(sed -n "s/^$fn nonexistent.invalid: //p" nx.out) &&
		test_jq nx.trace "[.[] | select(.type == \"dns\" and .payload.fn == \"$fn\")]
			| length == 1 and .[0].payload.name == \"nonexistent.invalid\"
			and .[0].payload.h_errno == \"$herr\" and .[0].payload.addrs == null" "$fn" || return 1
	done
'

test_expect_success SHIM 'python socket.getaddrinfo: every answer recorded' '
	$PYTHON -c "import socket
for ai in socket.getaddrinfo(\"localhost\", 443):
    print(ai[4][0], ai[4][1], ai[1].name)" >bare-py.out &&
	shim_run "$PWD/py.trace" $PYTHON -c "import socket
for ai in socket.getaddrinfo(\"localhost\", 443):
    print(ai[4][0], ai[4][1], ai[1].name)" >py.out &&
	test_cmp bare-py.out py.out &&
	jq_trace py.trace "[.[] | select(.type == \"dns\" and .payload.name == \"localhost\")]
		| .[0].payload.answers[] | \"\(.addr) \(.port) SOCK_\(.socktype | ascii_upcase)\"" |
		jq -r . >recorded &&
	test_cmp bare-py.out recorded
'

test_done
