#!/bin/sh
# SPDX-License-Identifier: MIT
# t0110: DNS answers served from the trace in replay.
#
# Records: in namespaces of their own (unshare -rmn) where /etc/hosts is a
#         private file naming t0110-a.attrace.test (10.11.12.13, fd00::13,
#         alias t0110-alias) and t0110-b.attrace.test (10.11.12.14), and
#         /etc/nsswitch.conf says "hosts: files", so that these names
#         resolve, and any other fails with EAI_NONAME/HOST_NOT_FOUND,
#         without a network:
#         - prog-dns t0110-a.attrace.test and prog-dns t0110-nx.attrace.test
#           (tests/integration/prog-dns.c: getaddrinfo, gethostbyname,
#           gethostbyname_r, gethostbyname2, getnameinfo);
#         - python: getaddrinfo with AI_CANONNAME (IPv6 and IPv4 answers),
#           gethostbyname, gethostbyname_ex (gethostbyname_r), getnameinfo of
#           10.11.12.14 (a name only the private hosts file knows) and a name
#           that does not resolve (gaierror);
#         - a C program compiled here: gethostbyname_r with a buffer too
#           small at first (ERANGE, then a retry), gethostbyname2_r(AF_INET6)
#           and getnameinfo into a 4-byte host buffer (EAI_OVERFLOW).
# Replays: offline, `unshare -rn env LD_PRELOAD=... ATTRACE_MODE=replay`,
#         with the real /etc/hosts, where none of these names resolves.
# Must see: with ATTRACE_GOVERNANCE=strict, stdout byte for byte as live and
#         exit 0; the replay's own trace holds the same dns payloads as the
#         recording and consumed every recorded event; the failures come
#         back as recorded (EAI_NONAME, not the offline EAI_AGAIN); a lookup
#         of a numeric address the trace lacks is no leak. A name the trace
#         never asked for: strict exits 86 with the stderr line
#         'attrace: DeterminismLeakError: DNS leak: getaddrinfo("NAME")';
#         relaxed warns once per call and the program runs to the end.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"

PROG=$BUILDDIR/tests/integration/prog-dns
A=t0110-a.attrace.test
B=t0110-b.attrace.test
NX=t0110-nx.attrace.test

cat >hosts <<EOF
127.0.0.1 localhost
10.11.12.13 $A t0110-alias
fd00::13 $A
10.11.12.14 $B
EOF
printf 'hosts: files\n' >nsswitch.conf

# record_hosts NAME CMD...: CMD under the shim with the private hosts file;
# stdout NAME.out, stderr NAME.err, status NAME.rc, trace NAME.trace.
record_hosts()
{
	name_=$1
	shift
	rm -f "$name_.trace"
	unshare -rmn sh -c 'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/nsswitch.conf &&
		shift 2 && exec "$@"' sh "$PWD/hosts" "$PWD/nsswitch.conf" \
		env LD_PRELOAD="$SHIM_PRELOAD" ATTRACE_TRACE="$PWD/$name_.trace" "$@" \
		>"$name_.out" 2>"$name_.err"
	echo $? >"$name_.rc"
}

# replay_offline NAME GOVERNANCE TRACE CMD...: CMD replaying TRACE in an
# empty network namespace; its own trace in NAME.trace.
replay_offline()
{
	name_=$1
	gov_=$2
	in_=$3
	shift 3
	rm -f "$name_.trace"
	unshare -rn env LD_PRELOAD="$SHIM_PRELOAD" ATTRACE_MODE=replay ATTRACE_TRACE="$PWD/$in_" \
		ATTRACE_REPLAY_OUT="$PWD/$name_.trace" ATTRACE_GOVERNANCE="$gov_" "$@" \
		>"$name_.out" 2>"$name_.err"
	echo $? >"$name_.rc"
}

# The dns payloads of a trace, in seq order, one per line.
dns_payloads()
{
	jq_trace "$1" '[.[] | select(.type == "dns")] | sort_by(.seq) | .[].payload'
}

# test_replayed LIVE REPLAY: same stdout, status 0, the same dns events, and
# every recorded event consumed (the summary event; the summary line, which
# the shim prints on stderr when no CLI does, is not checked).
test_replayed()
{
	test_cmp "$1.out" "$2.out" &&
	test_equal 0 "$(cat "$2.rc")" "exit status of the replay" &&
	dns_payloads "$1.trace" >"$1.dns" &&
	dns_payloads "$2.trace" >"$2.dns" &&
	test_cmp "$1.dns" "$2.dns" &&
	test_jq "$2.trace" '[.[] | select(.type == "governance" and .payload.what == "summary")]
		| length == 1 and .[0].payload.consumed == .[0].payload.total
		and .[0].payload.unused == []' "replay summary"
}

if unshare -rn true 2>/dev/null &&
	out_=$(unshare -rmn sh -c 'mount --bind "$1" /etc/hosts &&
		mount --bind "$2" /etc/nsswitch.conf && getent hosts "$3"' sh \
		"$PWD/hosts" "$PWD/nsswitch.conf" $B 2>/dev/null) &&
	test "$out_" = "10.11.12.14     $B"; then
	test_set_prereq NS
else
	echo "# unshare -rmn with bind mounts is not available: replay tests skipped"
fi

test_expect_success NS 'the test names resolve only through the private hosts file' '
	! unshare -rn getent hosts $A &&
	! unshare -rn getent hosts $B
'

test_expect_success NS 'record prog-dns: every call answered from the private hosts file' '
	record_hosts a $PROG $A &&
	test_equal 0 "$(cat a.rc)" &&
	cat >expect <<-EOF &&
	getaddrinfo $A 80: 10.11.12.13:80
	gethostbyname $A: h_name=$A 10.11.12.13
	gethostbyname_r $A: h_name=$A 10.11.12.13
	gethostbyname2 $A: h_name=$A 10.11.12.13
	getnameinfo 127.0.0.1:80: host=localhost serv=80
	EOF
	test_cmp expect a.out &&
	test_count a.trace ".type == \"dns\"" -eq 5
'

test_expect_success NS 'strict offline replay of prog-dns: same output and dns events' '
	replay_offline a.r strict a.trace $PROG $A &&
	test_replayed a a.r &&
	test_equal "" "$(grep -v "^attrace: replay consumed " a.r.err)" "stderr of the replay"
'

test_expect_success NS 'a failed lookup replays as the failure recorded, not the offline one' '
	record_hosts nx $PROG $NX &&
	grep -q "^getaddrinfo $NX 80: EAI_NONAME\$" nx.out &&
	grep -q "^gethostbyname $NX: HOST_NOT_FOUND\$" nx.out &&
	grep -q "^gethostbyname_r $NX: HOST_NOT_FOUND\$" nx.out &&
	replay_offline nx.r strict nx.trace $PROG $NX &&
	test_replayed nx nx.r
'

PYPROG='import socket
for ai in socket.getaddrinfo("'$A'", 443, flags=socket.AI_CANONNAME):
    print(ai)
print(socket.gethostbyname("'$A'"))
print(socket.gethostbyname_ex("'$A'"))
print(socket.getnameinfo(("10.11.12.14", 22), 0))
try:
    socket.getaddrinfo("'$NX'", 80)
except socket.gaierror as e:
    print("gaierror", e.errno, e)
'

test_expect_success NS 'record python: getaddrinfo, gethostbyname(_ex), getnameinfo' '
	record_hosts py $PYTHON -c "$PYPROG" &&
	test_equal 0 "$(cat py.rc)" &&
	grep -q "^(<AddressFamily.AF_INET6: 10>, <SocketKind.SOCK_STREAM: 1>, 6, .$A., (.fd00::13., 443, 0, 0))\$" py.out &&
	grep -q "^(<AddressFamily.AF_INET: 2>, <SocketKind.SOCK_STREAM: 1>, 6, .., (.10.11.12.13., 443))\$" py.out &&
	grep -q "^(.$B., .ssh.)\$" py.out &&
	grep -q "^gaierror -2 " py.out
'

test_expect_success NS 'strict offline replay of python: same output and dns events' '
	replay_offline py.r strict py.trace $PYTHON -c "$PYPROG" &&
	test_replayed py py.r
'

test_expect_success NS 'a numeric address the trace lacks is no leak' '
	replay_offline num strict py.trace $PYTHON -c "$PYPROG
print(socket.getaddrinfo(\"127.0.0.1\", 80, type=socket.SOCK_STREAM)[0][4])" &&
	test_equal 0 "$(cat num.rc)" "exit status" &&
	head -n -1 num.out >num.head &&
	test_cmp py.out num.head &&
	tail -n1 num.out | grep -q "^(.127.0.0.1., 80)\$"
'

cat >erange.c <<'EOF'
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

static void show(const char *what, int r, struct hostent *h, int herr)
{
	char a[INET6_ADDRSTRLEN];

	printf("%s: r=%d herr=%d", what, r, h ? 0 : herr);
	if (h) {
		printf(" name=%s type=%d len=%d", h->h_name, h->h_addrtype, h->h_length);
		for (char **p = h->h_aliases; *p; p++)
			printf(" alias=%s", *p);
		for (char **p = h->h_addr_list; *p; p++)
			printf(" %s", inet_ntop(h->h_addrtype, *p, a, sizeof(a)));
	}
	printf("\n");
}

int main(int argc, char **argv)
{
	struct hostent he, *h = NULL;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(22) };
	size_t n = 8;
	char *buf = NULL, host[4], serv[32];
	int r, herr, tries = 0;

	(void)argc;
	do {
		buf = realloc(buf, n *= 2);
		r = gethostbyname_r(argv[1], &he, buf, n, &h, &herr);
		tries++;
	} while (r == ERANGE);
	printf("tries>1: %d\n", tries > 1);
	show("gethostbyname_r", r, r == 0 ? h : NULL, herr);
	r = gethostbyname2_r(argv[1], AF_INET6, &he, buf, n, &h, &herr);
	show("gethostbyname2_r inet6", r, r == 0 ? h : NULL, herr);
	inet_pton(AF_INET, "10.11.12.14", &sa.sin_addr);
	r = getnameinfo((struct sockaddr *)&sa, sizeof(sa), host, sizeof(host), serv, sizeof(serv),
			0);
	printf("getnameinfo small: %s\n", r == EAI_OVERFLOW ? "EAI_OVERFLOW" : gai_strerror(r));
	free(buf);
	return 0;
}
EOF

test_expect_success NS,CC 'gethostbyname_r retried after ERANGE, _r for inet6, EAI_OVERFLOW' '
	cc -o erange erange.c &&
	record_hosts er ./erange $A &&
	test_equal 0 "$(cat er.rc)" &&
	cat >expect <<-EOF &&
	tries>1: 1
	gethostbyname_r: r=0 herr=0 name=$A type=2 len=4 alias=t0110-alias 10.11.12.13
	gethostbyname2_r inet6: r=0 herr=0 name=$A type=10 len=16 fd00::13
	getnameinfo small: EAI_OVERFLOW
	EOF
	test_cmp expect er.out &&
	replay_offline er.r strict er.trace ./erange $A &&
	test_replayed er er.r &&
	test_count er.r.trace ".type == \"dns\" and .payload.fn == \"gethostbyname_r\"" -eq 1
'

test_expect_success NS 'strict: a name the trace never asked for exits 86, naming it' '
	replay_offline leak strict a.trace $PROG $B &&
	test_equal 86 "$(cat leak.rc)" "exit status" &&
	test_equal "attrace: DeterminismLeakError: DNS leak: getaddrinfo(\"$B\")" \
		"$(grep "^attrace: " leak.err | grep -v "^attrace: replay consumed ")" \
		"attrace line on stderr" &&
	test_jq leak.trace "[.[] | select(.type == \"governance\" and .payload.what == \"DeterminismLeakError\")]
		| length == 1 and .[0].payload.mode == \"strict\"
		and .[0].payload.message == \"DNS leak: getaddrinfo(\\\"$B\\\")\""
'

test_expect_success NS 'relaxed: the same leak warns and the program runs to the end' '
	replay_offline leak-rx relaxed a.trace $PROG $B &&
	test_equal 0 "$(cat leak-rx.rc)" "exit status" &&
	grep -qx "attrace: warning: DeterminismLeakError: DNS leak: getaddrinfo(\"$B\") (relaxed: let through)" leak-rx.err &&
	grep -qx "attrace: warning: DeterminismLeakError: DNS leak: gethostbyname_r(\"$B\") (relaxed: let through)" leak-rx.err &&
	test_equal 5 "$(wc -l <leak-rx.out)" "lines of output" &&
	grep -q "^getaddrinfo $B 80: EAI_" leak-rx.out &&
	grep -q "^getnameinfo 127.0.0.1:80: host=localhost serv=80\$" leak-rx.out
'

test_done
