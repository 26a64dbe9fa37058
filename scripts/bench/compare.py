#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# compare.py -- time two shell commands in alternation; print medians, the ratio, the trace size.
#
# Like alternate.py, but the two sides are arbitrary shell commands (so the
# traced side can be `attrace record -o T -- ...`), and the trace file is
# removed before every traced run, so the size printed is one run's trace.
# The output lines match alternate.py's, which run-all.sh reads:
#
#   bare: median 812.3 ms (min ..., max ...), 7 runs
#   shim: median 845.0 ms (min ..., max ...), 7 runs
#   ratio (median shim / median bare): 1.040  target <= 1.10: ok
#   paired: median of the 7 per-round ratios (shim / the bare run before it): 1.038
#   cpu: bare 700.1 ms, shim 750.3 ms (medians, user + system of each run's
#        process tree), ratio 1.072
#   trace: /tmp/x.jsonl.zst, 123456 bytes
#
# The ratio (and the target) is of wall time. The paired line is a second
# estimate of it that drifting load disturbs less: each round's shim run is
# divided by the bare run just before it, and the median of those ratios is
# taken (a batch where the machine slows down halfway moves both medians,
# but not the rounds' ratios). The CPU line is a third view: on a shared machine, wall time also takes in other jobs' load,
# while CPU time counts what the runs themselves executed (the writer
# thread's work on another CPU included).
#
# usage: compare.py [--runs N] [--warmup N] [--target X] [--trace T]
#                   --bare 'SHELL CMD' --shim 'SHELL CMD'
# Both commands run with sh -c, stdout to /dev/null; a failing run aborts.
# Exit status: 0, or 1 when --target is given and the ratio exceeds it.
import argparse
import os
import resource
import statistics
import subprocess
import sys
import time


def cpu_ms():
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (u.ru_utime + u.ru_stime) * 1000


def run(cmd, trace=None, cpu=None):
    if trace and os.path.exists(trace):
        os.unlink(trace)
    c0 = cpu_ms()
    t0 = time.perf_counter_ns()
    r = subprocess.run(["/bin/sh", "-c", cmd], stdout=subprocess.DEVNULL)
    t1 = time.perf_counter_ns()
    if r.returncode != 0:
        sys.exit("compare.py: exit status %d from: %s" % (r.returncode, cmd))
    if cpu is not None:
        cpu.append(cpu_ms() - c0)
    return (t1 - t0) / 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--target", type=float)
    ap.add_argument("--trace")
    ap.add_argument("--bare", required=True)
    ap.add_argument("--shim", required=True)
    a = ap.parse_args()

    for _ in range(a.warmup):
        run(a.bare)
        run(a.shim, a.trace)
    bare, shim, cbare, cshim = [], [], [], []
    for _ in range(a.runs):
        bare.append(run(a.bare, cpu=cbare))
        shim.append(run(a.shim, a.trace, cpu=cshim))

    mb, ms = statistics.median(bare), statistics.median(shim)
    ratio = ms / mb
    paired = statistics.median(s / b for b, s in zip(bare, shim))
    print("bare: median %.1f ms (min %.1f, max %.1f), %d runs" % (mb, min(bare), max(bare), a.runs))
    print("shim: median %.1f ms (min %.1f, max %.1f), %d runs" % (ms, min(shim), max(shim), a.runs))
    verdict = ""
    if a.target:
        verdict = "  target <= %.2f: %s" % (a.target, "ok" if ratio <= a.target else "MISSED")
    print("ratio (median shim / median bare): %.3f%s" % (ratio, verdict))
    print("paired: median of the %d per-round ratios (shim / the bare run before it): %.3f"
          % (a.runs, paired))
    cb, cs = statistics.median(cbare), statistics.median(cshim)
    print("cpu: bare %.1f ms, shim %.1f ms (medians, user + system of each run's process tree),"
          " ratio %.3f" % (cb, cs, cs / cb if cb else 0))
    if a.trace:
        size = os.path.getsize(a.trace) if os.path.exists(a.trace) else -1
        print("trace: %s, %d bytes" % (a.trace, size))
    return 1 if a.target and ratio > a.target else 0


if __name__ == "__main__":
    sys.exit(main())
