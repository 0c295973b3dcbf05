#!/usr/bin/python3
"""Where the training kernels' lane path pays: one configuration, both paths, side by side.

  train_lanes.py [--pelkc build/pelkc] [--kernel 51] [--channels 32] [--sizes 14,28,56,112]
                 [--batches 1,2,4,8,16] [--threads 2] [--runs 7]

Times forward + dx + dparams (the three pelkc_train_*_f32 calls, directly through ctypes) of the
paper-rule grid, kpe constant, for every map size and batch, with PELKC_TRAIN_LANES=0 (one image
per vector loop) and =1 (8 images interleaved, spec/TRAIN.md "Two paths"), alternating, and
prints the medians and rows / lanes (> 1: the lane path is faster), and the multiply-adds per
second of the faster path: the gathers counted as the kernels do them (per output row, one per
column corner for each distinct, non-zero clamped table row; forward, dx on the mirrored grid and
dparams). The generated kernels' own choice, use_lanes(n, w), comes from this table
(docs/PERF.md).
"""

import argparse
import os
import statistics
import time

import benchlib  # bench/benchlib.py: the machine header; puts python/ on sys.path


def int_list(text):
    try:
        v = [int(t) for t in text.split(",")]
    except ValueError:
        v = []
    if not v or min(v) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas, got {text!r}")
    return v


def gathers(grid, k, h, w):
    """Multiply-adds of one plane's forward on this grid: distinct clamped non-zero rows x corners."""
    corners = [0]
    for size in grid:
        corners.append(corners[-1] + size)
    rows = sum(len({min(max(x - k // 2 + p, 0), h) for p in corners} - {0}) for x in range(h))
    return rows * len(corners) * w


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pelkc", default=os.path.join(benchlib.REPO_ROOT, "build", "pelkc"))
    ap.add_argument("--kernel", type=int, default=51)
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--sizes", type=int_list, default=[14, 28, 56, 112])
    ap.add_argument("--batches", type=int_list, default=[1, 2, 4, 8, 16])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=7)
    a = ap.parse_args()
    if a.kernel < 1 or a.kernel % 2 == 0:
        ap.error(f"--kernel must be odd and >= 1, got {a.kernel}")
    if a.channels < 1 or a.threads < 1 or a.runs < 1:
        ap.error("--channels, --threads and --runs must be >= 1")
    os.environ["PELKC_BIN"] = os.path.abspath(a.pelkc)
    benchlib.torch_peer.prefer_avx512()
    import torch

    import pelk_torch
    import pelkc_train

    torch.set_num_threads(a.threads)
    print("\n".join(benchlib.machine_info(a.threads, benchlib.torch_peer.describe())))
    k, g = a.kernel, a.channels
    grid = pelk_torch.rule_grid(k, 5, 2)
    lib = pelkc_train.kernels(k, grid, grid, g, "constant")
    print(f"K = {k}, grid {grid}, {g} channels, kpe constant, {a.threads} threads, median of {a.runs}")
    print("| w = h | n | rows ms | lanes ms | rows / lanes | G multiply-adds/s, faster path |\n"
          "|---:|---:|---:|---:|---:|---:|")
    for hw in a.sizes:
        for n in a.batches:
            x = torch.randn(n, g, hw, hw)
            theta, bias = torch.randn(g, 1, len(grid), len(grid)), torch.randn(g)
            kpe = torch.randn(g, k, k)
            y, dtheta, dbias, dkpe = torch.empty_like(x), torch.empty_like(theta), torch.empty_like(bias), torch.empty_like(kpe)

            def step():
                lib.call("forward", x.dtype, x, theta, bias, kpe, n, g, hw, hw, y, a.threads)
                lib.call("dx", x.dtype, x, theta, n, g, hw, hw, y, a.threads)
                lib.call("dparams", x.dtype, x, x, theta, kpe, n, g, hw, hw, dtheta, dbias, dkpe, a.threads)

            times = {"0": [], "1": []}
            for force in times:  # warm-up
                os.environ["PELKC_TRAIN_LANES"] = force
                step()
            for _ in range(a.runs):
                for force in times:
                    os.environ["PELKC_TRAIN_LANES"] = force
                    t0 = time.perf_counter()
                    step()
                    times[force].append((time.perf_counter() - t0) * 1e3)
            rows, lanes = statistics.median(times["0"]), statistics.median(times["1"])
            work = n * g * (2 * gathers(grid, k, hw, hw) + gathers(grid[::-1], k, hw, hw))
            print(f"| {hw} | {n} | {rows:.2f} | {lanes:.2f} | {rows / lanes:.2f} | "
                  f"{work / min(rows, lanes) / 1e6:.1f} |", flush=True)
    os.environ.pop("PELKC_TRAIN_LANES", None)
    print(f"load average at the end: {benchlib.load_text()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
