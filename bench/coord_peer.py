"""redis-py peer for bench/coord.sh, in CLIENTS processes for SECONDS:

  coord_peer.py URL CLIENTS SECONDS       lock + get + set of a plain key +
      unlock with redis-py's Lock (four round trips); checks the final value;
  coord_peer.py bank URL CLIENTS SECONDS  transfers between 10 accounts as
      redis-py does optimistic transactions (WATCH both, GET both, then
      MULTI/SET/SET/EXEC, again on WatchError); checks money is preserved.

Prints cycles (or transfers) per second and their count. With
SHOAL_BENCH_LATENCIES=FILE, the lock mode also writes each cycle's latency
in µs to FILE, one a line."""

import multiprocessing
import os
import random
import sys
import time

import redis

ACCOUNTS = 10


def wait_until(start_at):
    while time.time() < start_at:
        time.sleep(0.001)


def lock_worker(url, seconds, start_at, out):
    r = redis.Redis.from_url(url)
    lock = r.lock("pybench:lock", timeout=30, blocking_timeout=60)
    wait_until(start_at)
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


def transfer(pipe, source, target, amount):
    while True:
        try:
            pipe.watch(source, target)
            a = int(pipe.get(source))
            b = int(pipe.get(target))
            pipe.multi()
            if a >= amount:
                pipe.set(source, a - amount)
                pipe.set(target, b + amount)
            pipe.execute()
            return
        except redis.WatchError:
            continue


def bank_worker(url, seconds, start_at, out):
    r = redis.Redis.from_url(url)
    rng = random.Random(os.getpid())
    done = 0
    wait_until(start_at)
    end = start_at + seconds
    with r.pipeline() as pipe:
        while time.time() < end:
            source = rng.randrange(ACCOUNTS)
            target = (source + 1 + rng.randrange(ACCOUNTS - 1)) % ACCOUNTS
            transfer(pipe, f"pybench:acct:{source}", f"pybench:acct:{target}",
                     1 + rng.randrange(100))
            done += 1
    out.put([0] * done)


def main():
    args = sys.argv[1:]
    bank = args[0] == "bank"
    if bank:
        args = args[1:]
    url, clients, seconds = args[0], int(args[1]), float(args[2])
    r = redis.Redis.from_url(url)
    if bank:
        for i in range(ACCOUNTS):
            r.set(f"pybench:acct:{i}", 1000)
    else:
        r.set("pybench:value", 0)
    out = multiprocessing.Queue()
    start_at = time.time() + 0.5
    worker = bank_worker if bank else lock_worker
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
    if bank:
        money = sum(int(r.get(f"pybench:acct:{i}")) for i in range(ACCOUNTS))
        if money != 1000 * ACCOUNTS:
            raise SystemExit(f"redis-py bank run lost money: {money}")
    else:
        if int(r.get("pybench:value")) != total:
            raise SystemExit("redis-py run lost updates")
        path = os.environ.get("SHOAL_BENCH_LATENCIES")
        if path:
            with open(path, "w") as f:
                f.writelines(f"{us}\n" for us in latencies)
    print(f"{total / elapsed:.0f} {total}")


if __name__ == "__main__":
    main()
