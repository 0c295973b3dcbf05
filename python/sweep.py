"""Many independent trainings (a grid sweep) as tasks on Dask distributed.

    import sweep
    results = sweep.run(train_one, configs, scheduler=None, workers=2)   # a list, in configs' order

Each config is passed to fn(config) on a worker, which returns a dict; a progress line per
finished run (which run, its result summary, runs done, time left) goes to log. scheduler None
starts a LocalCluster on this machine (`workers` processes, one thread each, so runs do not share
a core); an address ("tcp://host:8786") uses an existing cluster started with dask-scheduler and
dask-worker, whose workers must import fn's module (the repository's python/ on their PYTHONPATH).
A failed run raises here with its config named; the runs already finished are in the error.
"""

import os
import time

PYTHON_DIR = os.path.dirname(os.path.abspath(__file__))


class SweepError(RuntimeError):
    """A run of the sweep failed; .done holds the results that finished before it."""

    def __init__(self, message, done):
        super().__init__(message)
        self.done = done


def local_cluster(workers):
    """A LocalCluster of `workers` single-threaded processes that import python/'s modules."""
    from distributed import LocalCluster

    path = os.environ.get("PYTHONPATH", "")
    if PYTHON_DIR not in path.split(os.pathsep):  # the worker processes inherit the environment
        os.environ["PYTHONPATH"] = PYTHON_DIR + (os.pathsep + path if path else "")
    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                        dashboard_address=None, silence_logs=40)


def run(fn, configs, scheduler=None, workers=2, describe=str, summarize=str,
        log=lambda s: print(s, flush=True)):
    """fn(config) for every config, on Dask; returns the results in configs' order.
    describe(config) and summarize(result) make the progress line's two parts."""
    from distributed import Client, as_completed

    cluster = None if scheduler else local_cluster(workers)
    client = Client(scheduler) if scheduler else Client(cluster)
    try:
        where = scheduler or f"a local cluster of {workers} worker process(es)"
        log(f"sweep: {len(configs)} runs on {where}")
        futures = [client.submit(fn, c, pure=False, key=f"run-{i}") for i, c in enumerate(configs)]
        index = {f.key: i for i, f in enumerate(futures)}
        results, t0, done = [None] * len(configs), time.perf_counter(), 0
        for fut in as_completed(futures):
            i = index[fut.key]
            if fut.status != "finished":
                why = fut.exception()  # before the cancel below, which forgets it
                for f in futures:
                    f.cancel()
                finished = [r for r in results if r is not None]
                raise SweepError(f"run {i + 1} ({describe(configs[i])}) failed: {why!r}", finished)
            results[i], done = fut.result(), done + 1
            elapsed = time.perf_counter() - t0
            left = elapsed / done * (len(configs) - done)
            log(f"[{done}/{len(configs)}] {describe(configs[i])}: {summarize(results[i])}  "
                f"({elapsed:.0f} s so far, about {left:.0f} s left)")
        return results
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
