#!/bin/sh
# SPDX-License-Identifier: MIT
# w2-curl-processes.sh -- benchmark W2: 300 curl processes fetching a small local file,
# bare vs `attrace record`.
#
# One run is a /bin/sh loop starting curl -s file://DIR/small.txt 300 times;
# the traced side is `attrace record -o T -- sh -c LOOP`, so the shell and all
# 300 curls (logical pids 0.1 .. 0.300) append frames to one trace. Runs
# alternate bare/traced; medians and their ratio are printed.
# Target: median ratio <= 1.10 (strace -f: 3.34x here).
#
# usage: scripts/bench/w2-curl-processes.sh [BUILD_DIR]   (default: build)
# env: RUNS (7), WARMUP (1), N (300), HYPERFINE=1 to cross-check with hyperfine.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
attrace=$build/cli/attrace
test -x "$attrace" || { echo "w2: no $attrace (build first)" >&2; exit 1; }
command -v curl >/dev/null || { echo "w2: curl is not installed" >&2; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/attrace-w2.XXXXXX")
trap 'rm -rf "$dir"' EXIT
printf 'a small local file for W2\n' >"$dir/small.txt"
trace=$dir/w2.jsonl.zst
loop="i=0; while [ \$i -lt ${N:-300} ]; do curl -s file://$dir/small.txt >/dev/null || exit 1; i=\$((i + 1)); done"

echo "W2: ${N:-300} curl processes (file://), bare vs attrace record"
rc=0
/usr/bin/python3 "$here/compare.py" --runs "${RUNS:-7}" --warmup "${WARMUP:-1}" --target 1.10 \
	--trace "$trace" --bare "sh -c '$loop'" \
	--shim "'$attrace' record -o '$trace' -- sh -c '$loop'" || rc=$?
if ! [ -f "$trace" ]; then
	echo "w2: attrace record wrote no trace ($trace)" >&2
	exit 1
fi
echo "trace size: $(wc -c <"$trace") bytes"
# What one traced run holds: one process per curl plus the shell.
zstdcat "$trace" | jq -s -r '"processes in trace: \([.[].pid] | unique | length), events: \(length)"'
if [ "${HYPERFINE:-0}" = 1 ]; then
	hyperfine -N --warmup 1 --runs "${RUNS:-7}" "sh -c '$loop'" \
		"$attrace record -o $dir/hf.jsonl.zst -- sh -c '$loop'"
fi
exit $rc
