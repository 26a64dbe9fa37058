# SPDX-License-Identifier: MIT
# lib-nginx.sh -- sourced by the benchmarks: a local nginx and the W3 client.
#
# nginx_start NAME [tls]: makes $dir (removed at exit), starts nginx-light on
# 127.0.0.1:$port serving $dir/www/small.txt with unlimited keep-alive (with
# "tls": HTTPS, with a throwaway CA in $dir/ca.pem), and writes
# $dir/client.py (usage: client.py PORT N [CAFILE]: N GETs of /small.txt on
# one keep-alive connection, over HTTPS when CAFILE is given; prints the
# bytes received).
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
	listen="listen 127.0.0.1:$port;"
	if [ "${2:-}" = tls ]; then
		openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/ca.key" -out "$dir/ca.pem" \
			-days 2 -subj "/CN=attrace bench CA" 2>/dev/null &&
			openssl req -newkey rsa:2048 -nodes -keyout "$dir/srv.key" -out "$dir/srv.csr" \
				-subj "/CN=localhost" 2>/dev/null &&
			printf "subjectAltName=DNS:localhost,IP:127.0.0.1\n" >"$dir/ext.cnf" &&
			openssl x509 -req -in "$dir/srv.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
				-CAcreateserial -out "$dir/srv.pem" -days 2 -extfile "$dir/ext.cnf" \
				2>/dev/null || { echo "$1: openssl could not make a certificate" >&2; exit 1; }
		listen="listen 127.0.0.1:$port ssl; ssl_certificate $dir/srv.pem; ssl_certificate_key $dir/srv.key;"
	fi
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
		$listen
		root $dir/www;
	}
}
CONF
	$nginx -c "$dir/nginx.conf" -p "$dir" &
	nginx_pid=$!
	i=0
	scheme=http
	[ "${2:-}" = tls ] && scheme=https
	until curl -sfk "$scheme://127.0.0.1:$port/small.txt" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "$1: nginx did not start:" >&2; cat "$dir/error.log" >&2; exit 1; }
		sleep 0.05
	done
	cat >"$dir/client.py" <<'PY'
import http.client
import sys

port, n = int(sys.argv[1]), int(sys.argv[2])
if len(sys.argv) > 3:
    import ssl
    ctx = ssl.create_default_context(cafile=sys.argv[3])
    c = http.client.HTTPSConnection("localhost", port, context=ctx)
else:
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
