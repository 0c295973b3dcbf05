#!/usr/bin/python3
"""Sharing-grid ablation on a task where a large kernel matters (like the PeLK paper's Table 5).

  grid_ablation.py [--task same|distance] [--epochs 4] [--pairs 8000] [--test-pairs 2000]
                   [--batch 32] [--lr 2e-3] [--seeds 0,1,2] [--grids all|N,N,...] [--workers 2] [--scheduler ADDRESS]
                   [--time-steps 6] [-o docs/GRID_ABLATION.md] [--report-only JSON]

Task (python/fashion_pairs.py, --task): "same" (the default), two Fashion-MNIST items in opposite
quadrants of a 112x112 canvas, 40 to 119 pixels apart, the label whether they are of the same
class; "distance", two items 44-56 or 72-84 pixels apart, the label which (balanced so that the
borders say little); or "distance-uniform", its unbalanced control. Neither "same" nor "distance"
is learned above chance by this network at the budgets a 2-core machine affords
(docs/GRID_ABLATION.md, python/task_probe.py): the sweep runs, the grids are not told apart.
Network:
examples/fashion_pairs.yaml (stem 4x4 stride 4 to 28x28; stage 0 dim 32, depth 2, K = 51; stage
1 dim 64 at 14x14, depth 2, K = 27; partial 1.0, mlp_ratio 2, kpe constant), where only the
sharing grid (or, for the small-kernel row, the kernel) changes. Each (grid, seed) is one run of
python/train_fashion_mnist.py's recipe (AdamW, warm-up + cosine, flips) on the peripheral convs of
pelkc (impl "pelkc"), evaluated on the test pairs; the runs are tasks on Dask distributed
(python/sweep.py: a local cluster of --workers single-threaded processes, or --scheduler for an
existing one), a progress line per finished run.

Then, in this process on --threads threads with nothing else running, each grid's time per
training step is measured for both paths, impl "pelkc" and impl "dense" (the kernel expanded,
PyTorch's conv), as the median of --time-steps steps after one warm-up: time per epoch = that
times the steps per epoch. The report (markdown, a plot of accuracy against parameters, and the
raw results as JSON beside it) is written to -o; --report-only JSON rewrites it from the JSON.

Grids (stage 0 K = 51 / stage 1 K = 27):
  0 dense          every tap its own weight: 51x51 / 27x27
  1 paper rule     {center: 5, base: 2} (paper Eq. 2): 13x13 / 11x11
  2 finer centre   {center: 7, base: 2}: 15x15 / 13x13
  3 coarser rule   {center: 3, base: 4}: 9x9 / 7x7
  4 rows != cols   rows {center: 5, base: 2}, cols {center: 3, base: 4}: 13x9 / 11x7
  5 small kernel   K = 7 on both stages, dense: 7x7
"""

import argparse
import hashlib
import json
import os
import platform
import statistics
import sys
import time

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_pairs  # noqa: E402
import sweep  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BASE_SPEC = os.path.join(ROOT, "examples", "fashion_pairs.yaml")
PAPER, COARSE = {"center": 5, "base": 2}, {"center": 3, "base": 4}

# (label, per-stage kernel or None for the spec's, grid as a function of the stage's kernel)
GRIDS = [
    ("dense", None, lambda k: {"center": k, "base": 2}),
    ("paper rule {center: 5, base: 2}", None, lambda k: PAPER),
    ("finer centre {center: 7, base: 2}", None, lambda k: {"center": 7, "base": 2}),
    ("coarser rule {center: 3, base: 4}", None, lambda k: COARSE),
    ("rows != cols: rows {center: 5, base: 2}, cols {center: 3, base: 4}", None,
     lambda k: {"rows": PAPER, "cols": COARSE}),
    ("small 7x7 kernel, dense", 7, lambda k: {"center": 7, "base": 2}),
]


def spec_for(grid_index, base=BASE_SPEC):
    """The spec (a dict) of examples/fashion_pairs.yaml with grid GRIDS[grid_index]."""
    with open(base) as f:
        spec = yaml.safe_load(f)
    _, kernel, grid = GRIDS[grid_index]
    for st in spec["stages"]:
        st["kernel"] = kernel or st["kernel"]
        st["grid"] = grid(st["kernel"])
    return spec


def write_spec(spec, directory):
    path = os.path.join(directory, "spec.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(spec, f, default_flow_style=None)
    return path


def train_one(cfg):
    """One run (a Dask task): trains GRIDS[cfg["grid"]] with cfg["seed"], returns its results."""
    import tempfile

    import torch_peer
    from train_fashion_mnist import evaluate, train

    torch_peer.set_threads(cfg.get("threads", 1))  # torch's and OpenBLAS's pools: a core per worker
    data = fashion_pairs.load(cfg["pairs"], cfg["test_pairs"], task=cfg.get("task", "same"))
    with tempfile.TemporaryDirectory(prefix="grid_ablation_") as d:
        model, wall, cpu = train(write_spec(spec_for(cfg["grid"]), d), data, epochs=cfg["epochs"],
                                 batch=cfg["batch"], lr=cfg["lr"], seed=cfg["seed"], impl="pelkc",
                                 log=lambda s: None)
    acc, _ = evaluate(model, data[2], data[3])
    digest = hashlib.sha256()  # of the trained weights: the same run on another worker gives the same
    for name, t in sorted(model.state_dict().items()):
        digest.update(name.encode() + t.detach().numpy().tobytes())
    convs = [st.blocks[0].conv for st in model.stages]
    return {"grid": cfg["grid"], "seed": cfg["seed"], "accuracy": acc * 100, "wall_s": wall, "cpu_s": cpu,
            "weights_sha256": digest.hexdigest(), "params": sum(t.numel() for t in model.state_dict().values()),
            "theta": [list(c.weight.shape[2:]) for c in convs],
            "rows": [st["rows"] for st in model.spec["stages"]],
            "cols": [st["cols"] for st in model.spec["stages"]],
            "kernels": [st["kernel"] for st in model.spec["stages"]]}


def time_step(grid_index, impl, batch, steps, threads):
    """Median seconds of one training step (forward, loss, backward, AdamW) of the grid's
    network with impl, on random canvases, after one warm-up step."""
    import tempfile

    import torch
    import torch.nn.functional as F

    import pelk_torch
    import torch_peer

    torch_peer.set_threads(threads)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory(prefix="grid_ablation_") as d:
        model = pelk_torch.PeLK(write_spec(spec_for(grid_index), d), impl=impl)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 1, fashion_pairs.CANVAS, fashion_pairs.CANVAS)
    y = torch.randint(0, 2, (batch,))
    times = []
    for i in range(steps + 1):
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def parse_grids(text):
    if text == "all":
        return list(range(len(GRIDS)))
    try:
        grids = [int(g) for g in text.split(",")]
    except ValueError:
        grids = [-1]
    if not grids or any(g < 0 or g >= len(GRIDS) for g in grids):
        raise argparse.ArgumentTypeError(f"--grids takes 'all' or indices 0..{len(GRIDS) - 1} separated by commas, got {text!r}")
    return grids


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", choices=fashion_pairs.TASKS, default="same", help="python/fashion_pairs.py's task")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--pairs", type=int, default=8000, help="training pairs (default 8000)")
    ap.add_argument("--test-pairs", type=int, default=2000, help="test pairs (default 2000)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--grids", type=parse_grids, default="all", help="'all' or indices into the list above")
    ap.add_argument("--workers", type=int, default=2, help="local cluster: worker processes, 1 thread each")
    ap.add_argument("--scheduler", default=None, metavar="ADDRESS", help="an existing Dask scheduler instead")
    ap.add_argument("--threads", type=int, default=1, help="threads of the timed steps (default 1, as a worker)")
    ap.add_argument("--time-steps", type=int, default=6, help="timed steps per grid and impl (0: no timing)")
    ap.add_argument("-o", "--output", default=os.path.join(ROOT, "docs", "GRID_ABLATION.md"))
    ap.add_argument("--report-only", default=None, metavar="JSON", help="rewrite the report from these results")
    a = ap.parse_args(argv)
    if isinstance(a.grids, str):
        a.grids = parse_grids(a.grids)
    try:
        a.seed_list = [int(s) for s in a.seeds.split(",")]
    except ValueError:
        ap.error(f"--seeds takes integers separated by commas, got {a.seeds!r}")
    for name in ("epochs", "pairs", "test_pairs", "batch", "workers", "threads"):
        if getattr(a, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(a, name)}")
    if a.pairs < a.batch:
        ap.error(f"--pairs ({a.pairs}) must be at least --batch ({a.batch})")
    return a


def describe(cfg):
    return f"{GRIDS[cfg['grid']][0]}, seed {cfg['seed']}"


def summarize(r):
    return f"test accuracy {r['accuracy']:.2f}%, {r['wall_s']:.0f} s, {r['cpu_s']:.0f} CPU s"


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    if a.report_only:
        with open(a.report_only) as f:
            results = json.load(f)
        write_report(a.output, results)
        print(f"wrote {a.output}")
        return 0
    import torch_peer

    peer = torch_peer.describe_lines(torch_peer.describe())
    print("\n".join(peer), flush=True)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    configs = [{"grid": g, "seed": s, "task": a.task, "epochs": a.epochs, "pairs": a.pairs, "test_pairs": a.test_pairs,
                "batch": a.batch, "lr": a.lr} for g in a.grids for s in a.seed_list]
    t0 = time.perf_counter()
    runs = sweep.run(train_one, configs, scheduler=a.scheduler, workers=a.workers,
                     describe=describe, summarize=summarize)
    sweep_s = time.perf_counter() - t0
    timing = {}
    for g in a.grids if a.time_steps else []:
        timing[g] = {impl: time_step(g, impl, a.batch, a.time_steps, a.threads) for impl in ("pelkc", "dense")}
        print(f"{GRIDS[g][0]}: a training step takes {timing[g]['pelkc'] * 1e3:.0f} ms with pelkc, "
              f"{timing[g]['dense'] * 1e3:.0f} ms dense (batch {a.batch}, {a.threads} thread(s))", flush=True)
    command = "/usr/bin/python3 python/grid_ablation.py " + " ".join(sys.argv[1:] if argv is None else argv)
    results = {"runs": runs, "timing": {str(g): t for g, t in timing.items()}, "settings": {
        "task": a.task, "epochs": a.epochs, "pairs": a.pairs, "test_pairs": a.test_pairs, "batch": a.batch,
        "lr": a.lr, "seeds": a.seed_list, "grids": a.grids, "workers": a.workers, "scheduler": a.scheduler,
        "threads": a.threads, "time_steps": a.time_steps},
        "started": started, "sweep_s": sweep_s, "command": command.strip(), "peer": peer,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores ({platform.processor() or 'cpu'})"}
    with open(a.output + ".json", "w") as f:
        json.dump(results, f, indent=1)
    write_report(a.output, results)
    print(f"wrote {a.output} and {a.output}.json")
    return 0


def write_report(path, results):
    import grid_ablation_report

    grid_ablation_report.write(path, results, GRIDS)


if __name__ == "__main__":
    sys.exit(main())
