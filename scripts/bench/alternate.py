#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# alternate.py -- run a command bare and under libattrace.so in alternation; print medians and the ratio.
#
# Alternating (bare, shim, bare, shim, ...) instead of hyperfine's "all of A
# then all of B" keeps load drifting on a shared machine from landing on one
# side only. Both sides are started the same way (fork+exec from here, same
# environment apart from LD_PRELOAD/ATTRACE_*), so only the shim differs.
#
# usage: alternate.py --lib LIB --trace T [--runs N] [--warmup N] [--target X] -- CMD...
# Exit status: 0, or 1 when --target is given and the median ratio exceeds it.
import argparse
import os
import statistics
import subprocess
import sys
import time


def run(cmd, env):
    t0 = time.perf_counter_ns()
    r = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL)
    t1 = time.perf_counter_ns()
    if r.returncode != 0:
        sys.exit(f"alternate.py: {cmd[0]!r} exited with {r.returncode}")
    return (t1 - t0) / 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--trace", required=True)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--target", type=float)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        ap.error("no command")

    bare_env = {k: v for k, v in os.environ.items()
                if k != "LD_PRELOAD" and not k.startswith("ATTRACE_")}
    shim_env = dict(bare_env, LD_PRELOAD=os.path.abspath(a.lib),
                    ATTRACE_TRACE=a.trace, ATTRACE_MODE="record")

    for _ in range(a.warmup):
        run(cmd, bare_env)
        run(cmd, shim_env)
    bare, shim = [], []
    for _ in range(a.runs):
        bare.append(run(cmd, bare_env))
        shim.append(run(cmd, shim_env))

    mb, ms = statistics.median(bare), statistics.median(shim)
    ratio = ms / mb
    # the rounds' own ratios: drifting load moves both medians, not these
    paired = statistics.median(s / b for b, s in zip(bare, shim))
    size = os.path.getsize(a.trace) if os.path.exists(a.trace) else -1
    print(f"bare: median {mb:.1f} ms (min {min(bare):.1f}, max {max(bare):.1f}), {a.runs} runs")
    print(f"shim: median {ms:.1f} ms (min {min(shim):.1f}, max {max(shim):.1f}), {a.runs} runs")
    print(f"ratio (median shim / median bare): {ratio:.3f}"
          + (f"  target <= {a.target:.2f}: {'ok' if ratio <= a.target else 'MISSED'}"
             if a.target else ""))
    print(f"paired: median of the {a.runs} per-round ratios (shim / the bare run before it):"
          f" {paired:.3f}")
    print(f"trace: {a.trace}, {size} bytes")
    if a.target and ratio > a.target:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
