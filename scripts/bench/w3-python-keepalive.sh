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
test -f "$lib" || { echo "w3: no $lib (build first)" >&2; exit 1; }
. "$here/lib-nginx.sh"
nginx_start w3

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
