#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# time-values.py -- expand the compact "time" events of a trace.
#
# Reads events (JSON Lines, e.g. `zstdcat T | time-values.py`) and prints one
# line per clock read: "PID TID CLOCK VALUE_NS", decoding first_ns and
# deltas_b64 (count-1 unsigned LEB128 varints, each the zigzag encoding of the
# difference from the previous value) as attrace-trace(5) specifies. Exits 1
# with a message when an event's deltas do not decode to count-1 values.
import base64
import json
import sys


def varints(b):
    out, cur, shift = [], 0, 0
    for byte in b:
        cur |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            out.append(cur)
            cur, shift = 0, 0
    if shift:
        raise ValueError("truncated varint")
    return out


def unzigzag(u):
    return (u >> 1) ^ -(u & 1)


def main():
    bad = 0
    for line in sys.stdin:
        e = json.loads(line)
        if e.get("type") != "time":
            continue
        p = e["payload"]
        try:
            deltas = [unzigzag(u) for u in varints(base64.b64decode(p.get("deltas_b64", "")))]
        except ValueError as err:
            print("seq %d: %s" % (e["seq"], err), file=sys.stderr)
            bad = 1
            continue
        if len(deltas) != p["count"] - 1:
            print("seq %d: count %d but %d deltas" % (e["seq"], p["count"], len(deltas)),
                  file=sys.stderr)
            bad = 1
        v = p["first_ns"]
        print(e["pid"], e["tid"], p["clock"], v)
        for d in deltas:
            v += d
            print(e["pid"], e["tid"], p["clock"], v)
    return bad


if __name__ == "__main__":
    sys.exit(main())
