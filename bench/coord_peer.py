"""redis-py peer for bench/coord.sh: lock + read-modify-write of a plain
key + unlock with redis-py's Lock, in CLIENTS processes for SECONDS.
Prints cycles per second (and checks the final value)."""

import multiprocessing
import sys
import time

import redis


def worker(url, seconds, start_at, out):
    r = redis.Redis.from_url(url)
    lock = r.lock("pybench:lock", timeout=30, blocking_timeout=60)
    while time.time() < start_at:
        time.sleep(0.001)
    end = start_at + seconds
    n = 0
    while time.time() < end:
        if not lock.acquire():
            raise SystemExit("could not take the lock")
        value = int(r.get("pybench:value") or 0)
        r.set("pybench:value", value + 1)
        lock.release()
        n += 1
    out.put(n)


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
    total = sum(out.get() for _ in procs)
    elapsed = time.time() - start_at
    for p in procs:
        p.join()
    if int(r.get("pybench:value")) != total:
        raise SystemExit("redis-py run lost updates")
    print(f"{total / elapsed:.0f}")


if __name__ == "__main__":
    main()
