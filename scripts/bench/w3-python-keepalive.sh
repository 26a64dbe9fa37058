#!/bin/sh
# SPDX-License-Identifier: MIT
# w3-python-keepalive.sh -- benchmark W3: /usr/bin/python3 http.client, 3000 keep-alive GETs
# to a local nginx, bare vs the shim (LD_PRELOAD).
#
# Starts nginx (nginx-light: /usr/sbin/nginx -c CONF -p DIR, daemon off) on
# 127.0.0.1 with a temporary config serving one small file, and runs one
# python3 process that sends N GETs on one keep-alive connection. Runs
# alternate bare/shim; medians and their ratio are printed, and the size of
# one run's trace. Targets: ratio <= 1.05 (strace -f: 1.92x, vcrpy record:
# 6.8x), trace <= 1 MB.
#
# usage: scripts/bench/w3-python-keepalive.sh [BUILD_DIR]   (default: build)
# env: RUNS (11), WARMUP (2), N (3000), HYPERFINE=1 to cross-check with hyperfine.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
lib=$build/shim/libattrace.so
nginx=/usr/sbin/nginx
test -f "$lib" || { echo "w3: no $lib (build first)" >&2; exit 1; }
test -x $nginx || { echo "w3: $nginx is not installed (apt-get install nginx-light)" >&2; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/attrace-w3.XXXXXX")
nginx_pid=
cleanup()
{
	[ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
chmod 755 "$dir"
mkdir "$dir/www" "$dir/tmp"
printf 'hello from nginx for W3\n' >"$dir/www/small.txt"
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$dir/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $dir/tmp/body;
	proxy_temp_path $dir/tmp/proxy;
	fastcgi_temp_path $dir/tmp/fastcgi;
	uwsgi_temp_path $dir/tmp/uwsgi;
	scgi_temp_path $dir/tmp/scgi;
	keepalive_requests 1000000;
	keepalive_timeout 60s;
	server {
		listen 127.0.0.1:$port;
		root $dir/www;
	}
}
CONF
$nginx -c "$dir/nginx.conf" -p "$dir" &
nginx_pid=$!
i=0
until curl -sf "http://127.0.0.1:$port/small.txt" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "w3: nginx did not start:" >&2; cat "$dir/error.log" >&2; exit 1; }
	sleep 0.05
done

cat >"$dir/client.py" <<'PY'
import http.client
import sys

port, n = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port)
total = 0
for _ in range(n):
    c.request("GET", "/small.txt")
    r = c.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit("status %d" % r.status)
    total += len(body)
c.close()
print(total)
PY
n=${N:-3000}
trace=$dir/w3.jsonl.zst
client="/usr/bin/python3 $dir/client.py $port $n"

echo "W3: python3 http.client, $n keep-alive GETs to nginx, bare vs shim"
rc=0
/usr/bin/python3 "$here/compare.py" --runs "${RUNS:-11}" --warmup "${WARMUP:-2}" --target 1.05 \
	--trace "$trace" --bare "$client" \
	--shim "LD_PRELOAD=$lib ATTRACE_TRACE=$trace $client" || rc=$?
if ! [ -f "$trace" ]; then
	echo "w3: the shim wrote no trace ($trace)" >&2
	exit 1
fi
size=$(wc -c <"$trace")
echo "trace size: $size bytes (target <= 1048576: $([ "$size" -le 1048576 ] && echo ok || echo MISSED))"
zstdcat "$trace" | jq -s -r '"events: \(length); by type: \(group_by(.type) | map("\(.[0].type)=\(length)") | join(" "))"'
[ "$size" -le 1048576 ] || rc=1
if [ "${HYPERFINE:-0}" = 1 ]; then
	hyperfine -N --warmup 2 --runs "${RUNS:-11}" "$client" \
		"env LD_PRELOAD=$lib ATTRACE_TRACE=$dir/hf.jsonl.zst $client"
fi
exit $rc
