#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# collector-ingest.py -- ingest throughput and upload latency of attrace-collector.
#
# Usage: scripts/bench/collector-ingest.py BUILD_DIR [--uploads N] [--clients C]
#        [--events E] [--cpu-collector 0] [--cpu-client 1] [--resend]
#
# Starts BUILD_DIR/collector/attrace-collector on 127.0.0.1 with a fresh
# data directory, pinned to one CPU (taskset), and drives it from this
# process pinned to another: N uploads (default 2000) of E-event traces
# (default 1000; zstd, each with its own trace id, socket/file/time events
# with realistic payloads) from C concurrent keep-alive clients (default 50).
# Every answer is a durable ack (201). Prints events/s, uploads/s, MB/s,
# and the p50/p90/p99/max upload latency, the collector's CPU time (which
# another load on the machine skews less than the rate), then checks /stats
# holds every event.
# BENCH_WRAP="perf record -g -o perf.data --" runs the collector under a profiler.
import argparse
import http.client
import json
import os
import queue
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time


def make_trace(tid, n):
    lines = []
    ts = 1795321020.0
    def ev(seq, typ, payload):
        t = ts + seq * 0.0001
        whole = int(t)
        us = int(round((t - whole) * 1e6))
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + ".%06dZ" % us
        return json.dumps({"seq": seq, "pid": "0", "tid": seq % 3, "type": typ, "ts": stamp,
                           "ts_epoch": float("%d.%06d" % (whole, us)), "step": "root",
                           "payload": payload}, separators=(",", ":"))
    lines.append(ev(0, "agent_start", {"format": "attrace/1", "trace_id": tid, "parent": None,
                                        "via": "root", "argv": ["python3", "agent.py"],
                                        "exe": "/usr/bin/python3.11", "cwd": "/srv/agent",
                                        "env": {"HOME": "/root"}, "name": "bench"}))
    rnd = random.Random(tid)
    for seq in range(1, n - 1):
        k = seq % 4
        if k == 0:
            lines.append(ev(seq, "socket_call", {"op": "send", "conn": "0.%d" % (seq % 7), "proto": "tcp",
                                                  "fn": "send", "n": 120,
                                                  "data": "POST /v1/chat HTTP/1.1\r\nHost: api\r\nContent-Length: %d\r\n\r\n{\"q\":%d}" % (rnd.randint(10, 99), seq)}))
        elif k == 1:
            lines.append(ev(seq, "socket_call", {"op": "recv", "conn": "0.%d" % (seq % 7), "proto": "tcp",
                                                  "fn": "recv", "n": 200,
                                                  "data": "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"answer\":\"%x\"}" % rnd.getrandbits(64)}))
        elif k == 2:
            lines.append(ev(seq, "file_open", {"fn": "openat", "path": "/srv/agent/data/%d.json" % (seq % 50),
                                                "flags": "O_RDONLY", "fd": 3 + seq % 20}))
        else:
            lines.append(ev(seq, "time", {"clock": "CLOCK_REALTIME", "ns": 1795321020000000000 + seq * 1000}))
    lines.append(ev(n - 1, "agent_complete", {"how": "main", "status": 0}))
    text = ("\n".join(lines) + "\n").encode()
    return subprocess.run(["zstd", "-q", "-c", "-3"], input=text, stdout=subprocess.PIPE, check=True).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--uploads", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--cpu-collector", default="0")
    ap.add_argument("--cpu-client", type=int, default=1)
    ap.add_argument("--resend", action="store_true",
                    help="then send every upload again and time the (idempotent, 200) repeats")
    ap.add_argument("--clickhouse", action="store_true",
                    help="also forward to a private clickhouse-server and time the forwarding")
    a = ap.parse_args()

    print("generating %d traces of %d events..." % (a.uploads, a.events), file=sys.stderr)
    base = make_trace("0" * 32, a.events)
    template = subprocess.run(["zstd", "-q", "-d", "-c"], input=base, stdout=subprocess.PIPE, check=True).stdout
    bodies = []
    for i in range(a.uploads):
        text = template.replace(b"0" * 32, b"%032x" % (i + 1), 1)
        bodies.append(subprocess.run(["zstd", "-q", "-c", "-3"], input=text, stdout=subprocess.PIPE,
                                     check=True).stdout)
    total_bytes = sum(len(b) for b in bodies)

    tmp = tempfile.mkdtemp(prefix="attrace-bench-")
    portfile = os.path.join(tmp, "port")
    extra, chpid = [], None
    if a.clickhouse:
        here = os.path.dirname(os.path.abspath(__file__))
        out = subprocess.run([os.path.join(here, "..", "clickhouse-test-server"), os.path.join(tmp, "ch")],
                             stdout=subprocess.PIPE, check=True, text=True).stdout
        info = dict(l.split() for l in out.splitlines())
        chport, chpid = int(info["PORT"]), int(info["PID"])
        extra = ["--clickhouse", "http://127.0.0.1:%d/?database=attrace" % chport]
    # BENCH_WRAP: a command to run the collector under, e.g. "perf record -g -o perf.data --".
    wrap = os.environ.get("BENCH_WRAP", "").split()
    coll = subprocess.Popen(wrap + ["taskset", "-c", a.cpu_collector,
                             os.path.join(a.build, "collector", "attrace-collector"),
                             "--listen", "127.0.0.1:0", "--data", os.path.join(tmp, "data"),
                             "--port-file", portfile, "--log-level", "warn",
                             "--max-connections", str(a.clients + 16)] + extra)
    try:
        for _ in range(200):
            if os.path.exists(portfile):
                break
            time.sleep(0.05)
        port = int(open(portfile).read())
        try:
            os.sched_setaffinity(0, {a.cpu_client})
        except OSError:
            pass
        def run_pass(want):
            work = queue.Queue()
            for b in bodies:
                work.put(b)
            lat = []
            errors = []
            lock = threading.Lock()

            def client():
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                mine = []
                while True:
                    try:
                        body = work.get_nowait()
                    except queue.Empty:
                        break
                    t0 = time.perf_counter()
                    c.request("POST", "/api/v1/traces", body=body,
                              headers={"Content-Encoding": "zstd", "Content-Type": "application/x-ndjson"})
                    r = c.getresponse()
                    r.read()
                    mine.append(time.perf_counter() - t0)
                    if r.status != want:
                        with lock:
                            errors.append(r.status)
                with lock:
                    lat.extend(mine)

            threads = [threading.Thread(target=client) for _ in range(a.clients)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            el = time.perf_counter() - t0
            lat.sort()
            return el, lat, errors

        t_first = time.perf_counter()
        el, lat, errors = run_pass(201)
        pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
        c = http.client.HTTPConnection("127.0.0.1", port)
        c.request("GET", "/api/v1/stats")
        st = json.loads(c.getresponse().read())
        print("uploads: %d of %d events (%d clients), %.2f s, errors: %d" %
              (a.uploads, a.events, a.clients, el, len(errors)))
        print("ingest: %.0f events/s, %.0f uploads/s, %.1f MB/s compressed (collector on CPU %s)" %
              (a.uploads * a.events / el, a.uploads / el, total_bytes / el / 1e6, a.cpu_collector))
        print("latency ms: p50 %.1f, p90 %.1f, p99 %.1f, max %.1f" % (pct(0.5), pct(0.9), pct(0.99), lat[-1] * 1000))
        try:
            # user + system CPU of the collector (without BENCH_WRAP, taskset has exec'd it)
            f = open("/proc/%d/stat" % coll.pid).read().rsplit(")", 1)[1].split()
            cpu = (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
            print("collector CPU: %.2f s user+sys, %.2f us per event, %.0f%% of the run" %
                  (cpu, cpu / (a.uploads * a.events) * 1e6, 100 * cpu / el))
        except (OSError, IndexError, ValueError):
            pass
        if a.resend:
            # The same uploads again: every answer a 200 repeat, nothing stored.
            rel, rlat, rerr = run_pass(200)
            errors += rerr
            rp = lambda p: rlat[min(len(rlat) - 1, int(p * len(rlat)))] * 1000
            print("re-sends: %.0f events/s, %.0f uploads/s, p50 %.1f ms, p99 %.1f ms, errors: %d" %
                  (a.uploads * a.events / rel, a.uploads / rel, rp(0.5), rp(0.99), len(rerr)))
            c.request("GET", "/api/v1/stats")
            st = json.loads(c.getresponse().read())
        ok = st["events"] == a.uploads * a.events and st["traces"] == a.uploads
        print("stored: %d traces, %d events: %s" % (st["traces"], st["events"], "all there" if ok else "MISSING"))
        if a.clickhouse:
            while True:
                c.request("GET", "/api/v1/stats")
                st = json.loads(c.getresponse().read())
                if st["forward"]["clickhouse"]["outbox_depth"] == 0:
                    break
                time.sleep(0.05)
            fel = time.perf_counter() - t_first
            print("clickhouse: every event forwarded %.2f s after the first upload: %.0f rows/s end to end"
                  % (fel, a.uploads * a.events / fel))
        return 0 if ok and not errors else 1
    finally:
        if chpid:
            os.kill(chpid, 15)
        coll.terminate()
        coll.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
