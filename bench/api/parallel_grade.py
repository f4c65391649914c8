#!/usr/bin/env python3
"""`gauntlet grade` in C parallel closed loops for S seconds: the peer of the API's
throughput mode at the same concurrency (bench/api/run.sh).

    parallel_grade.py C S -- gauntlet grade --exercise DIR --files DIR

Prints one JSON line: finished grades, per second, p50 and p99 latency (ms)."""

import json
import subprocess
import sys
import threading
import time


def main():
    c, secs = int(sys.argv[1]), float(sys.argv[2])
    cmd = sys.argv[sys.argv.index("--") + 1:]
    lat, failed, lock = [], [0], threading.Lock()
    end = time.monotonic() + secs

    def loop():
        while time.monotonic() < end:
            t = time.monotonic()
            ok = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
            d = (time.monotonic() - t) * 1000
            with lock:
                if ok:
                    lat.append(d)
                else:
                    failed[0] += 1

    start = time.monotonic()
    threads = [threading.Thread(target=loop) for _ in range(c)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    lat.sort()
    pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] if lat else 0.0
    print(json.dumps({"concurrency": c, "finished": len(lat), "failed": failed[0],
                      "per_second": len(lat) / elapsed, "p50_ms": pct(0.5), "p99_ms": pct(0.99)}))


if __name__ == "__main__":
    main()
