# SPDX-License-Identifier: MIT
# collector-lib.sh -- helpers for the collector tests (t02NN-*.sh), sourced after lib.sh.
#
#   start_collector NAME [ARGS...]  start attrace-collector on 127.0.0.1:0 with
#                                   --data $TRASH/NAME.data (unless ARGS give
#                                   --data), wait until it listens; sets
#                                   CPORT, CPID, CURL_BASE=http://127.0.0.1:$CPORT
#                                   (log in NAME.log). Killed at exit.
#   stop_collector [SIGNAL]         SIGTERM (default) and wait; exit status in
#                                   $CRC
#   post FILE [CURL ARGS...]        POST FILE to /api/v1/traces; prints the HTTP
#                                   status, the answer goes to post.json
#   get PATH [CURL ARGS...]         GET PATH; prints the status, body in get.out
#   record_py NAME TRACE            record a small python3 program that fetches
#                                   $URL/hello (ATTRACE_NAME=NAME) into TRACE
#   retrace TRACE ID OUT            copy of TRACE with its trace id set to ID

: "${ATTRACE_COLLECTOR_BIN:=$BUILDDIR/collector/attrace-collector}"
[ -x "$ATTRACE_COLLECTOR_BIN" ] && test_set_prereq COLLECTOR
command -v curl >/dev/null 2>&1 && test_set_prereq CURL_CLIENT

start_collector()
{
	cname_=$1
	shift
	case " $* " in
	*" --data "*) data_= ;;
	*) data_="--data $TRASH/$cname_.data" ;;
	esac
	rm -f "$TRASH/$cname_.port"
	# shellcheck disable=SC2086
	"$ATTRACE_COLLECTOR_BIN" --listen 127.0.0.1:0 $data_ --port-file "$TRASH/$cname_.port" \
		"$@" >>"$TRASH/$cname_.log" 2>&1 &
	CPID=$!
	test_pids_="$test_pids_ $CPID"
	i_=0
	while ! [ -s "$TRASH/$cname_.port" ]; do
		if ! kill -0 "$CPID" 2>/dev/null || [ $i_ -ge 200 ]; then
			echo "collector $cname_ did not start:"
			cat "$TRASH/$cname_.log"
			return 1
		fi
		i_=$((i_ + 1))
		sleep 0.05
	done
	CPORT=$(cat "$TRASH/$cname_.port")
	CURL_BASE=http://127.0.0.1:$CPORT
	export CPORT CURL_BASE
}

stop_collector()
{
	kill -"${1:-TERM}" "$CPID" 2>/dev/null
	wait "$CPID"
	CRC=$?
}

post()
{
	f_=$1
	shift
	curl -s -o post.json -w '%{http_code}' -X POST --data-binary "@$f_" "$@" \
		"$CURL_BASE/api/v1/traces"
}

get()
{
	p_=$1
	shift
	curl -s -o get.out -w '%{http_code}' "$@" "$CURL_BASE$p_"
}

record_py()
{
	ATTRACE_NAME=$1 LD_PRELOAD=$SHIM_PRELOAD ATTRACE_TRACE=$2 "$PYTHON" -c '
import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1] + "/hello").read().decode().strip())
' "$URL" >/dev/null
}

retrace()
{
	old_=$(zstdcat "$1" | jq -r 'select(.type == "agent_start") | .payload.trace_id' | head -1)
	zstdcat "$1" | sed "s/$old_/$2/g" | zstd -q -c >"$3"
}
