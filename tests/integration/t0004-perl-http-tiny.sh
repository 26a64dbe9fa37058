#!/bin/sh
# SPDX-License-Identifier: MIT
# t0004: perl HTTP::Tiny.
#
# Serves: tests/servers/http-server.py on 127.0.0.1:$PORT.
# Runs:   perl -MHTTP::Tiny: GET http://localhost:PORT/hello and a POST of
#         "k=v&n=42" to /echo; prints status and body of each.
# Must see: same output as bare; getaddrinfo("localhost") with the answer
#         127.0.0.1; the GET and the POST bytes out and the bodies back on
#         connections to 127.0.0.1:$PORT; agent_complete status 0.
. "${SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"

start_http_server

cat >tiny.pl <<'PL'
use strict;
use warnings;
use HTTP::Tiny;

my $base = "http://localhost:$ARGV[0]";
my $http = HTTP::Tiny->new(keep_alive => 0);
my $r = $http->get("$base/hello");
print "GET $r->{status} $r->{content}";
$r = $http->post("$base/echo", { content => "k=v&n=42",
	headers => { "content-type" => "application/x-www-form-urlencoded" } });
print "POST $r->{status} $r->{content}\n";
PL

test_expect_success PERL_HTTP_TINY 'bare run' '
	run_bare bare perl tiny.pl $PORT &&
	printf "GET 200 hello from attrace\nPOST 200 k=v&n=42\n" >expect &&
	test_cmp expect bare.out &&
	test_equal 0 "$(cat bare.rc)"
'

test_expect_success PERL_HTTP_TINY,SHIM 'under the shim: same stdout and exit status' '
	run_shim t perl tiny.pl $PORT &&
	test_same_run bare t &&
	test_trace_complete t.trace
'

test_expect_success PERL_HTTP_TINY,SHIM 'agent_start is perl with its argv' '
	test_jq t.trace "[.[] | select(.type == \"agent_start\")] | length == 1
		and .[0].payload.argv == [\"perl\", \"tiny.pl\", \"$PORT\"]
		and (.[0].payload.exe | test(\"/perl[0-9.]*\$\"))"
'

test_expect_success PERL_HTTP_TINY,SHIM 'the lookup of localhost is recorded' '
	test_jq t.trace "$JQ_DEFS [of_type(\"dns\") | select(.payload.name == \"localhost\")]
		| length >= 1 and any(.payload.answers // [] | any(.addr == \"127.0.0.1\"))"
'

test_expect_success PERL_HTTP_TINY,SHIM 'GET and POST exchanges are recorded' '
	test_jq t.trace "$JQ_DEFS [conns[] | select(.peer == \"127.0.0.1:$PORT\" and .sent != \"\")]
		| length == 2
		and (.[0].sent | startswith(\"GET /hello HTTP/1.1\r\n\"))
		and (.[0].received | endswith(\"\r\n\r\nhello from attrace\n\"))
		and (.[1].sent | startswith(\"POST /echo HTTP/1.1\r\n\") and endswith(\"\r\n\r\nk=v&n=42\"))
		and (.[1].received | endswith(\"\r\n\r\nk=v&n=42\"))"
'

test_expect_success PERL_HTTP_TINY,SHIM 'agent_complete records status 0' '
	test_jq t.trace "[.[] | select(.type == \"agent_complete\")] | length == 1 and .[0].payload.status == 0"
'

test_done
