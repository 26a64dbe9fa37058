#!/bin/sh
# SPDX-License-Identifier: MIT
# w5-replay.sh -- benchmark W5: W3 (python3 http.client, keep-alive GETs to a local
# nginx) replayed from its trace, against the live run; then replay time against
# trace length.
#
# Part 1: records W3 once, then alternates the bare live run (nginx answering)
# with its replay (LD_PRELOAD, ATTRACE_MODE=replay: every answer from the
# trace). Target: replay <= 1.0x live.
# Part 2: records 1k, 10k and 100k requests and times one replay of each
# (median of 3): replay time must grow linearly with the trace (ms per
# request stays flat), where vcrpy's grows quadratically.
#
# usage: scripts/bench/w5-replay.sh [BUILD_DIR]   (default: build)
# env: RUNS (11), WARMUP (2), N (3000), SIZES ("1000 10000 100000").
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
lib=$build/shim/libattrace.so
test -f "$lib" || { echo "w5: no $lib (build first)" >&2; exit 1; }
. "$here/lib-nginx.sh"
nginx_start w5

n=${N:-3000}
trace=$dir/w5.jsonl.zst
client="/usr/bin/python3 $dir/client.py $port"
LD_PRELOAD=$lib ATTRACE_TRACE=$trace $client "$n" >/dev/null
replay="LD_PRELOAD=$lib ATTRACE_MODE=replay ATTRACE_TRACE=$trace ATTRACE_REPLAY_OUT=$dir/out.jsonl.zst"
replay="$replay ATTRACE_REPLAY_REPORT=cli"

echo "W5: W3 ($n keep-alive GETs) replayed from its trace vs the live run"
rc=0
/usr/bin/python3 "$here/compare.py" --runs "${RUNS:-11}" --warmup "${WARMUP:-2}" --target 1.0 \
	--bare "$client $n" --shim "$replay $client $n" || rc=$?

echo
echo "W5b: replay time vs trace length (one keep-alive connection; median of 3 replays)"
printf '%10s %12s %12s %14s\n' requests "trace bytes" "replay ms" "us per request"
for size in ${SIZES:-1000 10000 100000}; do
	t=$dir/w5-$size.jsonl.zst
	LD_PRELOAD=$lib ATTRACE_TRACE=$t $client "$size" >/dev/null
	ms=$(/usr/bin/python3 - "$dir" "$lib" "$t" "$client $size" <<'PY'
import os, shlex, statistics, subprocess, sys, time
d, lib, t, cmd = sys.argv[1:]
env = dict(os.environ, LD_PRELOAD=lib, ATTRACE_MODE="replay", ATTRACE_TRACE=t,
           ATTRACE_REPLAY_OUT=d + "/out.jsonl.zst", ATTRACE_REPLAY_REPORT="cli")
runs = []
for _ in range(3):
    t0 = time.perf_counter()
    subprocess.run(shlex.split(cmd), env=env, stdout=subprocess.DEVNULL, check=True)
    runs.append((time.perf_counter() - t0) * 1e3)
print(f"{statistics.median(runs):.1f}")
PY
)
	printf '%10s %12s %12s %14.1f\n' "$size" "$(wc -c <"$t")" "$ms" \
		"$(awk "BEGIN { print $ms * 1000 / $size }")"
done
exit $rc
