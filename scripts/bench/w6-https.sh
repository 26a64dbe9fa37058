#!/bin/sh
# SPDX-License-Identifier: MIT
# w6-https.sh -- benchmark W6: W3 over HTTPS (python3 http.client, keep-alive GETs to
# a local nginx with TLS): recording against the bare run, then the replay
# (served as a virtual TLS session from the trace) against the bare live run.
# Targets (issue 4): record <= 1.05x bare; replay <= 1.0x live.
#
# usage: scripts/bench/w6-https.sh [BUILD_DIR]   (default: build)
# env: RUNS (11), WARMUP (2), N (3000).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
lib=$build/shim/libattrace.so
test -f "$lib" || { echo "w6: no $lib (build first)" >&2; exit 1; }
. "$here/lib-nginx.sh"
nginx_start w6 tls

n=${N:-3000}
trace=$dir/w6.jsonl.zst
client="/usr/bin/python3 $dir/client.py $port $n $dir/ca.pem"

echo "W6a: W3 over HTTPS ($n keep-alive GETs), bare vs recorded"
rc=0
/usr/bin/python3 "$here/compare.py" --runs "${RUNS:-11}" --warmup "${WARMUP:-2}" --target 1.05 \
	--trace "$trace" --bare "$client" \
	--shim "LD_PRELOAD=$lib ATTRACE_TRACE=$trace $client" || rc=$?
echo "trace size: $(wc -c <"$trace") bytes"

echo
echo "W6b: the same replayed from its trace vs the bare live run"
replay="LD_PRELOAD=$lib ATTRACE_MODE=replay ATTRACE_TRACE=$trace ATTRACE_REPLAY_OUT=$dir/out.jsonl.zst"
/usr/bin/python3 "$here/compare.py" --runs "${RUNS:-11}" --warmup "${WARMUP:-2}" --target 1.0 \
	--bare "$client" --shim "$replay ATTRACE_REPLAY_REPORT=cli $client" || rc=$?
exit $rc
