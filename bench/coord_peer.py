"""redis-py peer for bench/coord.sh: lock + get + set of a plain key +
unlock with redis-py's Lock (four round trips), in CLIENTS processes for
SECONDS. Prints cycles per second (and checks the final value). With
SHOAL_BENCH_LATENCIES=FILE, also writes each cycle's latency in µs to FILE,
one a line."""

import multiprocessing
import os
import sys
import time

import redis


def worker(url, seconds, start_at, out):
    r = redis.Redis.from_url(url)
    lock = r.lock("pybench:lock", timeout=30, blocking_timeout=60)
    while time.time() < start_at:
        time.sleep(0.001)
    end = start_at + seconds
    latencies = []
    while time.time() < end:
        began = time.perf_counter()
        if not lock.acquire():
            raise SystemExit("could not take the lock")
        value = int(r.get("pybench:value") or 0)
        r.set("pybench:value", value + 1)
        lock.release()
        latencies.append(int((time.perf_counter() - began) * 1e6))
    out.put(latencies)


def main():
    url, clients, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    r = redis.Redis.from_url(url)
    r.set("pybench:value", 0)
    out = multiprocessing.Queue()
    start_at = time.time() + 0.5
    procs = [
        multiprocessing.Process(target=worker, args=(url, seconds, start_at, out))
        for _ in range(clients)
    ]
    for p in procs:
        p.start()
    latencies = [us for _ in procs for us in out.get()]
    elapsed = time.time() - start_at
    for p in procs:
        p.join()
    total = len(latencies)
    if int(r.get("pybench:value")) != total:
        raise SystemExit("redis-py run lost updates")
    path = os.environ.get("SHOAL_BENCH_LATENCIES")
    if path:
        with open(path, "w") as f:
            f.writelines(f"{us}\n" for us in latencies)
    print(f"{total / elapsed:.0f}")


if __name__ == "__main__":
    main()
