#!/bin/sh
# SPDX-License-Identifier: MIT
# run-all.sh -- run benchmarks W1..W5 in one go and print their results side by side.
#
# Each wN-*.sh prints "bare: median X ms ...", "shim: median Y ms ...",
# "ratio (median shim / median bare): R ...", "paired: ...: P" (the median of
# the rounds' own ratios) and, where it keeps one,
# "trace: PATH, N bytes" (see compare.py / alternate.py); this script keeps
# every script's full output in $OUT (printed path) and ends with the table:
#
#   workload                          bare ms    shim ms   ratio  paired  target     cpu  trace
#   W3 python 3000 keep-alive GETs     321.4      339.2   1.055   1.049  <=1.05   1.090  ...
#
# A script with two comparisons (W6: record, then replay) gives two rows.
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
	"w5-replay.sh|W5 W3 replayed (vs bare live)|1.00" \
	"w6-https.sh|W6a W3 over HTTPS, recorded|1.05|W6b W6a replayed (vs bare live)|1.00"; do
	script=${spec%%|*}
	rest=${spec#*|}
	name=${rest%%|*}
	rest=${rest#*|}
	target=${rest%%|*}
	# a second comparison's name and target, if any
	name2=
	target2=
	case $rest in *'|'*)
		rest=${rest#*|}
		name2=${rest%%|*}
		target2=${rest#*|}
		;;
	esac
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
	note=
	[ $src = 0 ] || { note=" (exit $src)"; rc=1; }
	k=1
	for nm in "$name" "$name2"; do
		[ -n "$nm" ] || continue
		tg=$target
		[ $k = 1 ] || tg=$target2
		bare=$(sed -n 's/^bare: median \([0-9.]*\) ms.*/\1/p' "$log" | sed -n ${k}p)
		shim=$(sed -n 's/^shim: median \([0-9.]*\) ms.*/\1/p' "$log" | sed -n ${k}p)
		ratio=$(sed -n 's/^ratio[^:]*: \([0-9.]*\).*/\1/p' "$log" | sed -n ${k}p)
		paired=$(sed -n 's/^paired: .*: \([0-9.]*\)$/\1/p' "$log" | sed -n ${k}p)
		cpu=$(sed -n 's/^cpu: .*ratio \([0-9.]*\)$/\1/p' "$log" | sed -n ${k}p)
		size=$(sed -n 's/^trace: .*, \(-\{0,1\}[0-9]*\) bytes.*/\1/p' "$log" | sed -n ${k}p)
		rows="$rows$(printf '%-34s %9s %10s %7s %7s  <=%-5s %7s %10s%s' "$nm" "${bare:--}" \
			"${shim:--}" "${ratio:--}" "${paired:--}" "$tg" "${cpu:--}" "${size:--}" "$note")
"
		k=$((k + 1))
	done
done

echo
printf '%-34s %9s %10s %7s %7s  %-7s %7s %10s\n' workload "bare ms" "shim ms" ratio paired target \
	"cpu" "trace B"
printf '%s' "$rows"
echo "(medians of alternating runs; ratio and target are of wall time, paired the median of the"
echo " rounds' own ratios, cpu the ratio of user + system time where the script reports it; trace"
echo " size is one run's where the script keeps one per run)"
exit $rc
