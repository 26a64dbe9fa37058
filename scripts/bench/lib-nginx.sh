# SPDX-License-Identifier: MIT
# lib-nginx.sh -- sourced by the benchmarks: a local nginx and the W3 client.
#
# nginx_start NAME: makes $dir (removed at exit), starts nginx-light on
# 127.0.0.1:$port serving $dir/www/small.txt with unlimited keep-alive, and
# writes $dir/client.py (usage: client.py PORT N: N GETs of /small.txt on
# one keep-alive connection, prints the bytes received).
nginx=/usr/sbin/nginx
nginx_pid=

nginx_cleanup()
{
	[ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
	rm -rf "$dir"
}

nginx_start()
{
	test -x $nginx || { echo "$1: $nginx is not installed (apt-get install nginx-light)" >&2; exit 1; }
	dir=$(mktemp -d "${TMPDIR:-/tmp}/attrace-$1.XXXXXX")
	trap nginx_cleanup EXIT
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
		[ $i -lt 100 ] || { echo "$1: nginx did not start:" >&2; cat "$dir/error.log" >&2; exit 1; }
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
}
