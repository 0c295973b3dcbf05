#!/usr/bin/python3
"""The grid sweep on Dask distributed (python/sweep.py, python/grid_ablation.py; issue 15 step 5).

  test_grid_sweep.py --pelkc PELKC [--seed S]

  * grid_ablation.main() on a tiny setting (2 grids x 2 seeds, a few steps each) on its default
    local cluster of 2 worker processes: one result per (grid, seed), a progress line per finished
    run, the JSON, the markdown table (a row per grid) and the plot written;
  * each Dask run equals the same run done here in this process (train_one: the trained weights'
    SHA-256, accuracy, parameters, weights per channel): the workers compute what a local run
    computes, bit for bit;
  * --scheduler ADDRESS: the same sweep through an existing scheduler (a LocalCluster started
    here), same results; --report-only rewrites the report from the JSON alone;
  * a run that fails (a spec pelkc rejects) stops the sweep with SweepError naming the run, with
    the runs already finished kept; bad --grids, --seeds, --workers stop with a clear message;
  * python/fashion_pairs.py's tasks: labels as defined (the distance task's centre distances in
    their bands, the same task's classes), every item inside the canvas and drawn where its place
    says, the same seed giving the same canvases; a bad task or canvas refused.
The seed (of the data and the training seeds) is fresh unless given and is printed.
"""

import argparse
import contextlib
import io
import json
import os
import random
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
import grid_ablation  # noqa: E402
import sweep  # noqa: E402

failures = 0


def expect(ok, what):
    global failures
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    failures += 0 if ok else 1


def run_main(argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = grid_ablation.main(argv)
    return rc, out.getvalue()


def boom(cfg):
    """A sweep task that fails for one config (a Dask task must be importable: this module is)."""
    if cfg == 2:
        raise ValueError("run two refuses")
    return {"value": cfg}


def check_pairs(seed):
    import numpy as np

    import fashion_mnist
    import fashion_pairs as fp

    x, y, _, _ = fashion_mnist.load()
    for task in fp.TASKS:
        p = fp.PairSet(x, y, 300, seed, task)
        room = fp.CANVAS - fp.ITEM
        inside = all(((q >= 0) & (q <= room)).all() for q in (p.pos_a, p.pos_b))
        frac = float(p.y.mean())
        expect(inside and 0.35 < frac < 0.65, f"{task}: items inside the canvas, label 1 on {frac:.2f} of the pairs")
        if task.startswith("distance"):
            d = np.hypot(*(p.pos_a - p.pos_b).T.astype(float))
            tol = 2 ** 0.5  # places are rounded to whole pixels
            near = (d >= fp.NEAR[0] - tol) & (d <= fp.NEAR[1] + tol)
            far = (d >= fp.FAR[0] - tol) & (d <= fp.FAR[1] + tol)
            expect(bool(np.all(np.where(p.y == 1, far, near))),
                   f"distance: centre distances {d[p.y == 0].min():.1f}-{d[p.y == 0].max():.1f} (near), "
                   f"{d[p.y == 1].min():.1f}-{d[p.y == 1].max():.1f} (far)")
        else:
            expect(bool(np.all(p.y == (p.classes[:, 0] == p.classes[:, 1]))), "same: label 1 exactly when the classes match")
        idx = np.arange(0, 300, 37)
        canv = p.x[idx]
        drawn = all(np.array_equal(canv[k, 0, r:r + fp.ITEM, c:c + fp.ITEM], x[item, 0] + 0.5)
                    for k, i in enumerate(idx) for item, (r, c) in ((p.a[i], p.pos_a[i]), (p.b[i], p.pos_b[i])))
        ink = all(abs(float(canv[k].sum()) - float((x[p.a[i], 0] + 0.5).sum() + (x[p.b[i], 0] + 0.5).sum())) < 1e-2
                  for k, i in enumerate(idx))
        expect(drawn and ink, f"{task}: each canvas holds its two items where their places say, nothing else")
        again = fp.PairSet(x, y, 300, seed, task)
        expect(np.array_equal(again.x[idx], canv) and np.array_equal(again.y, p.y), f"{task}: the same seed, the same pairs")
    for kw, msg in (({"task": "xor"}, "task must be one of"), ({"canvas": 60, "task": "distance"}, "too small")):
        try:
            fp.PairSet(x, y, 10, seed, **kw)
            expect(False, f"PairSet({kw}) raises")
        except ValueError as e:
            expect(msg in str(e), f"PairSet({kw}): {e}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pelkc", required=True)
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.randrange(1 << 20)
    print(f"seed {seed}")
    os.environ["PELKC_BIN"] = os.path.abspath(a.pelkc)  # the workers inherit it
    os.environ["PYTHONPATH"] = HERE + os.pathsep + os.environ.get("PYTHONPATH", "")  # for boom
    seeds = f"{seed},{seed + 1}"
    check_pairs(seed)
    with tempfile.TemporaryDirectory(prefix="grid_sweep_") as d:
        out = os.path.join(d, "GA.md")
        argv = ["--pairs", "48", "--test-pairs", "24", "--epochs", "1", "--batch", "16", "--seeds", seeds,
                "--grids", "1,4", "--workers", "2", "--time-steps", "1", "-o", out]
        rc, text = run_main(argv)
        expect(rc == 0, "grid_ablation.main on the local cluster returns 0")
        progress = [ln for ln in text.splitlines() if ln.startswith("[") and "/4]" in ln]
        expect(len(progress) == 4 and all("test accuracy" in ln and "left" in ln for ln in progress),
               f"a progress line per finished run ({len(progress)} of 4)")
        with open(out + ".json") as f:
            res = json.load(f)
        got = {(r["grid"], r["seed"]) for r in res["runs"]}
        expect(got == {(g, s) for g in (1, 4) for s in (seed, seed + 1)}, "one result per (grid, seed)")
        expect(set(res["timing"]) == {"1", "4"} and all(v["pelkc"] > 0 and v["dense"] > 0
                                                       for v in res["timing"].values()),
               "each grid's step timed on both paths")
        with open(out) as f:
            md = f.read()
        rows = [ln for ln in md.splitlines() if ln.startswith("| ") and "(K " in ln]
        expect(len(rows) == 2 and "paper rule" in rows[0] and "rows != cols" in rows[1],
               "the report has a row per grid")
        expect(os.path.getsize(os.path.join(d, "img", "grid_ablation.png")) > 1000, "the plot is written")
        r4 = next(r for r in res["runs"] if r["grid"] == 4)
        expect(r4["theta"] == [[13, 9], [11, 7]], f"rows != cols: weights per channel {r4['theta']}")

        for r in res["runs"]:  # the Dask runs against the same runs here
            cfg = {"grid": r["grid"], "seed": r["seed"], "epochs": 1, "pairs": 48, "test_pairs": 24,
                   "batch": 16, "lr": 2e-3}
            here = grid_ablation.train_one(cfg)
            same = all(here[k] == r[k] for k in ("weights_sha256", "accuracy", "params", "theta", "rows", "cols"))
            expect(same, f"grid {r['grid']} seed {r['seed']}: the Dask run equals a run here "
                         f"({r['accuracy']:.3f}% vs {here['accuracy']:.3f}%)")

        from distributed import LocalCluster

        with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None, silence_logs=40) as c:
            out2 = os.path.join(d, "GA2.md")
            argv2 = argv[:-1] + [out2] + ["--scheduler", c.scheduler_address, "--time-steps", "0"]
            rc, text = run_main(argv2)
            expect(rc == 0 and c.scheduler_address in text, f"--scheduler {c.scheduler_address} runs the sweep")
            with open(out2 + ".json") as f:
                res2 = json.load(f)
            key = lambda r: (r["grid"], r["seed"])  # noqa: E731
            expect([(key(r), r["weights_sha256"]) for r in res2["runs"]] == [(key(r), r["weights_sha256"]) for r in res["runs"]],
                   "the existing scheduler's results equal the local cluster's")
            try:
                sweep.run(boom, [1, 2, 3], scheduler=c.scheduler_address, log=lambda s: None)
                expect(False, "a failing run raises SweepError")
            except sweep.SweepError as e:
                expect("run 2 (2) failed" in str(e) and "run two refuses" in str(e),
                       f"a failing run raises SweepError naming it: {e}")

        out3 = os.path.join(d, "GA3.md")
        rc, _ = run_main(["--report-only", out + ".json", "-o", out3])
        with open(out3) as f:
            expect(rc == 0 and f.read() == md, "--report-only rewrites the same report from the JSON")

    for bad, msg in ((["--grids", "9"], "--grids takes"), (["--grids", "x"], "--grids takes"),
                     (["--seeds", "a"], "--seeds takes"), (["--workers", "0"], "--workers must be >= 1"),
                     (["--pairs", "8", "--batch", "16"], "must be at least --batch")):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            try:
                grid_ablation.parse_args(bad)
                code = 0
            except SystemExit as e:
                code = e.code
        expect(code == 2 and msg in err.getvalue(), f"{' '.join(bad)}: {err.getvalue().strip().splitlines()[-1]}")
    print("FAILED" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
