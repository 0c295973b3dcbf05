#!/usr/bin/python3
"""A/B timing of compiled models (.so files from `pelkc compile`) in one process.

On a shared machine two benchmark commands minutes apart can differ by 25%, so comparing two builds
of the same model needs them interleaved: each round runs every model once, and a round starts only
after both CPUs have been idle for --idle-wait seconds (other processes' load is what is waited for;
rounds that never get a quiet moment are not run). Prints each model's median and min and the
ratio of medians of the others to the first.

    /usr/bin/python3 bench/ab_models.py OLD.so NEW.so --batch 8 --threads 2 --rounds 10
"""
import argparse
import os
import sys
import time

import numpy as np

import benchlib  # bench/benchlib.py (puts python/ on sys.path): cpu_busy, the idle gate's sample
import pelkc  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+", help="compiled models (.so), the first is the baseline")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=10, help="timed runs per model (default 10)")
    ap.add_argument("--idle", type=float, default=0.9,
                    help="idle fraction of the CPUs needed to start a round (default 0.9; 0: never wait)")
    ap.add_argument("--idle-wait", type=float, default=0.3, help="seconds the idleness is measured over")
    ap.add_argument("--max-time", type=float, default=600, help="give up waiting after this many seconds")
    a = ap.parse_args()
    if len(a.models) < 2:
        ap.error("give at least two models")
    models = [pelkc.Model(p, threads=a.threads) for p in a.models]
    shape = tuple(models[0].input_shape)
    for p, m in zip(a.models, models):
        if tuple(m.input_shape) != shape:
            sys.exit(f"ab_models: {p} takes input {m.input_shape}, {a.models[0]} takes {shape}")
    x = np.random.default_rng(1).standard_normal((a.batch, *shape)).astype(np.float32)
    for m in models:  # warm-ups
        m.run(x)
        m.run(x)
    times = [[] for _ in models]
    waited, deadline = 0, time.time() + a.max_time
    while len(times[0]) < a.rounds and time.time() < deadline:
        if a.idle > 0 and 1.0 - (benchlib.cpu_busy(a.idle_wait) or 0.0) < a.idle:
            waited += 1
            continue
        for t, m in zip(times, models):
            t0 = time.perf_counter()
            m.run(x)
            t.append(time.perf_counter() - t0)
    if not times[0]:
        sys.exit("ab_models: the CPUs were never idle enough; rerun later or pass --idle 0")
    base = np.median(times[0])
    for p, t in zip(a.models, times):
        print(f"{os.path.basename(p):24s} rounds {len(t):3d}  median {1e3 * np.median(t):9.2f} ms"
              f"  min {1e3 * min(t):9.2f} ms  ratio {np.median(t) / base:.3f}")
    print(f"rounds skipped while the CPUs were busy: {waited}")


if __name__ == "__main__":
    main()
