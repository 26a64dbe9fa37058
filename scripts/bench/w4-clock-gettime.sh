#!/bin/sh
# SPDX-License-Identifier: MIT
# w4-clock-gettime.sh -- benchmark W4: a C loop of 1,000,000 clock_gettime(CLOCK_REALTIME), bare vs shim.
#
# Target: median shim/bare <= 2.0. w4.c is compiled here with cc -O2.
# usage: scripts/bench/w4-clock-gettime.sh [BUILD_DIR]   (default: build)
# env: RUNS (15), WARMUP (2), N (1000000), HYPERFINE=1 to cross-check with hyperfine.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
lib=$(cd "$build" && pwd)/shim/libattrace.so
tmp=${TMPDIR:-/tmp}
trace=$tmp/attrace-w4.$$.jsonl.zst
prog=$tmp/attrace-w4.$$
n=${N:-1000000}

test -f "$lib" || { echo "w4: no $lib (build first)" >&2; exit 1; }
cc -O2 -o "$prog" "$here/w4.c"
echo "W4: C loop, clock_gettime(CLOCK_REALTIME) x $n"
rc=0
python3 "$here/alternate.py" --lib "$lib" --trace "$trace" --runs "${RUNS:-15}" \
	--warmup "${WARMUP:-2}" --target 2.0 -- "$prog" "$n" || rc=$?
zstdcat "$trace" | python3 -c '
import json, sys
n = sum(json.loads(l)["payload"]["count"] for l in sys.stdin if "\"type\":\"time\"" in l)
print(f"time reads in trace: {n}")'
if [ "${HYPERFINE:-0}" = 1 ]; then
	hyperfine -N --warmup 2 --runs "${RUNS:-15}" "env -u LD_PRELOAD $prog $n" \
		"env LD_PRELOAD=$lib ATTRACE_TRACE=$trace $prog $n"
fi
rm -f "$trace" "$prog"
exit $rc
