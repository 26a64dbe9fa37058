#!/bin/sh
# SPDX-License-Identifier: MIT
# writer-cpu.sh -- the CPU time of the recording writer thread, W3's workload,
# side by side for one or more builds.
#
# W3's wall-time ratio moves by several percent from one batch to the next
# on a shared 2-CPU machine; the run time the kernel accounts to each thread
# (/proc/self/task/TID/schedstat, read by the client itself just before it
# exits) moves much less, and tells the program's own thread from the
# library's writer thread. Runs alternate between the builds; medians and
# minimums are printed per build. Not a test: an instrument for changes to
# the writer's work (redaction, network_call, JSON, zstd).
#
# usage: scripts/bench/writer-cpu.sh [BUILD_DIR...]   (default: build)
# env: RUNS (11), N (3000 GETs per run).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# -gt 0 ] || set -- "$here/../../build"
libs=
for b in "$@"; do
	lib=$(cd "$b" && pwd)/shim/libattrace.so
	test -f "$lib" || { echo "writer-cpu: no $lib (build first)" >&2; exit 1; }
	libs="$libs $lib"
done
. "$here/lib-nginx.sh"
nginx_start writer-cpu

cat >"$dir/client-cpu.py" <<'PY'
import http.client
import os
import sys
import time

port, n = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(n):
    c.request("GET", "/small.txt")
    c.getresponse().read()
c.close()
time.sleep(0.15)  # the writer's last periodic flush
cpu = []
for t in sorted(os.listdir("/proc/self/task"), key=int):
    with open(f"/proc/self/task/{t}/schedstat") as f:
        cpu.append(int(f.read().split()[0]) / 1e6)
# the main thread, then the library's writer (the only other thread)
print(f"{cpu[0]:.2f} {cpu[1] if len(cpu) > 1 else 0:.2f}")
PY

out=$dir/cpu.txt
: >"$out"
i=0
while [ $i -lt "${RUNS:-11}" ]; do
	for lib in $libs; do
		printf '%s ' "$lib" >>"$out"
		LD_PRELOAD=$lib ATTRACE_TRACE=$dir/w.jsonl.zst /usr/bin/python3 "$dir/client-cpu.py" \
			"$port" "${N:-3000}" >>"$out"
	done
	i=$((i + 1))
done
echo "writer-cpu: W3 (${N:-3000} keep-alive GETs), thread CPU time in ms, ${RUNS:-11} alternating runs"
/usr/bin/python3 - "$out" <<'PY'
import statistics
import sys

runs = {}
for line in open(sys.argv[1]):
    lib, main, writer = line.split()
    runs.setdefault(lib, []).append((float(main), float(writer)))
for lib, v in runs.items():
    m = [a for a, _ in v]
    w = [b for _, b in v]
    print(f"{lib}\n  main thread median {statistics.median(m):7.1f}   "
          f"writer median {statistics.median(w):6.1f} (min {min(w):.1f})")
PY
