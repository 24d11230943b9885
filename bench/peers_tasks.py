"""No-op task throughput of Ray and Dask distributed on this machine, for
side-by-side comparison with `shoal run noop` (see bench/cluster.sh).

Usage: python peers_tasks.py TASKS
Prints one line per peer: `<peer> <tasks> tasks in <s>s = <rate> tasks/s`.
"""
import sys
import time


def dask_rate(tasks):
    from dask.distributed import Client, LocalCluster

    def noop(i):
        return None

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        client.gather(client.map(noop, range(100), pure=False))  # warm up
        start = time.perf_counter()
        client.gather(client.map(noop, range(tasks), pure=False))
        return time.perf_counter() - start


def ray_rate(tasks):
    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")

    @ray.remote
    def noop():
        return None

    ray.get([noop.remote() for _ in range(100)])  # warm up
    start = time.perf_counter()
    ray.get([noop.remote() for _ in range(tasks)])
    elapsed = time.perf_counter() - start
    ray.shutdown()
    return elapsed


def main():
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    for name, fn in (("dask", dask_rate), ("ray", ray_rate)):
        try:
            secs = fn(tasks)
            print(f"{name} {tasks} tasks in {secs:.3f}s = {tasks / secs:,.0f} tasks/s", flush=True)
        except ImportError as err:
            print(f"{name} not installed ({err})", flush=True)


if __name__ == "__main__":
    main()
