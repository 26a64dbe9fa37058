#!/bin/sh
# SPDX-License-Identifier: MIT
# run-all.sh -- run benchmarks W1..W5 in one go and print their results side by side.
#
# Each wN-*.sh prints "bare: median X ms ...", "shim: median Y ms ...",
# "ratio (median shim / median bare): R ..." and, where it keeps one,
# "trace: PATH, N bytes" (see compare.py / alternate.py); this script keeps
# every script's full output in $OUT (printed path) and ends with the table:
#
#   workload                          bare ms    shim ms   ratio  target     cpu  trace
#   W3 python 3000 keep-alive GETs     321.4      339.2   1.055  <=1.05   1.090  ...
#
# usage: scripts/bench/run-all.sh [BUILD_DIR]   (default: build; built if missing)
# env: RUNS / WARMUP are passed on to every benchmark.
# Exit status: 1 if a benchmark failed to run or missed its target.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
if ! [ -f "$build/shim/libattrace.so" ] || ! [ -x "$build/cli/attrace" ]; then
	{ [ -f "$build/build.ninja" ] || meson setup "$build" "$root" >/dev/null; } &&
		ninja -C "$build" >/dev/null || { echo "run-all: build failed" >&2; exit 1; }
fi
build=$(cd "$build" && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/attrace-bench.XXXXXX")
echo "run-all: logs in $out" >&2

rc=0
rows=
for spec in \
	"w1-python-time.sh|W1 python time.time() x1e6|1.20" \
	"w2-curl-processes.sh|W2 300 curl processes|1.10" \
	"w3-python-keepalive.sh|W3 python 3000 keep-alive GETs|1.05" \
	"w4-clock-gettime.sh|W4 C clock_gettime x1e6|2.00" \
	"w5-replay.sh|W5 W3 replayed (vs bare live)|1.00"; do
	script=${spec%%|*}
	rest=${spec#*|}
	name=${rest%|*}
	target=${rest#*|}
	log=$out/${script%.sh}.log
	if ! [ -x "$here/$script" ] && ! [ -f "$here/$script" ]; then
		rows="$rows$(printf '%-34s %s' "$name" "(missing $script)")
"
		rc=1
		continue
	fi
	echo "==> $script" >&2
	sh "$here/$script" "$build" >"$log" 2>&1
	src=$?
	cat "$log" >&2
	bare=$(sed -n 's/^bare: median \([0-9.]*\) ms.*/\1/p' "$log" | head -1)
	shim=$(sed -n 's/^shim: median \([0-9.]*\) ms.*/\1/p' "$log" | head -1)
	ratio=$(sed -n 's/^ratio[^:]*: \([0-9.]*\).*/\1/p' "$log" | head -1)
	cpu=$(sed -n 's/^cpu: .*ratio \([0-9.]*\)$/\1/p' "$log" | head -1)
	size=$(sed -n 's/^trace: .*, \(-\{0,1\}[0-9]*\) bytes.*/\1/p' "$log" | tail -1)
	note=
	[ $src = 0 ] || { note=" (exit $src)"; rc=1; }
	rows="$rows$(printf '%-34s %9s %10s %7s  <=%-5s %7s %10s%s' "$name" "${bare:--}" "${shim:--}" \
		"${ratio:--}" "$target" "${cpu:--}" "${size:--}" "$note")
"
done

echo
printf '%-34s %9s %10s %7s  %-7s %7s %10s\n' workload "bare ms" "shim ms" ratio target "cpu" "trace B"
printf '%s' "$rows"
echo "(medians of alternating runs; ratio and target are of wall time, cpu the ratio of user + system"
echo " time where the script reports it; trace size is one run's where the script keeps one per run)"
exit $rc
