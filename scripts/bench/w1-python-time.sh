#!/bin/sh
# SPDX-License-Identifier: MIT
# w1-python-time.sh -- benchmark W1: /usr/bin/python3 calling time.time() 1,000,000 times, bare vs shim.
#
# Target: median shim/bare <= 1.20 (libfaketime measures 1.32 here).
# usage: scripts/bench/w1-python-time.sh [BUILD_DIR]   (default: build)
# env: RUNS (15), WARMUP (2), HYPERFINE=1 to cross-check with hyperfine.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
lib=$(cd "$build" && pwd)/shim/libattrace.so
trace=${TMPDIR:-/tmp}/attrace-w1.$$.jsonl.zst
prog='import time
for _ in range(1000000):
    time.time()'

test -f "$lib" || { echo "w1: no $lib (build first)" >&2; exit 1; }
echo "W1: python3 time.time() x 1,000,000"
rc=0
python3 "$here/alternate.py" --lib "$lib" --trace "$trace" --runs "${RUNS:-15}" \
	--warmup "${WARMUP:-2}" --target 1.20 -- /usr/bin/python3 -c "$prog" || rc=$?
# The trace must hold every read: one time batch per 64 KiB of deltas.
zstdcat "$trace" | python3 -c '
import json, sys
n = sum(json.loads(l)["payload"]["count"] for l in sys.stdin if "\"type\":\"time\"" in l)
print(f"time reads in trace: {n}")'
if [ "${HYPERFINE:-0}" = 1 ]; then
	hyperfine -N --warmup 2 --runs "${RUNS:-15}" \
		"env -u LD_PRELOAD /usr/bin/python3 -c '$prog'" \
		"env LD_PRELOAD=$lib ATTRACE_TRACE=$trace /usr/bin/python3 -c '$prog'"
fi
rm -f "$trace"
exit $rc
