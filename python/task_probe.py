#!/usr/bin/python3
"""How fast does the grid ablation's network start to learn a task? A probe, not an ablation.

  task_probe.py [--task single|distance|distance-uniform|same] [--canvas 112] [--scale 1] [--fixed] [--grid 1]
                [--steps 200] [--batch 32] [--lr 1e-3] [--threads 2] [--seed 0]
  task_probe.py --border-cue [--pairs 400000] [--seed 0]

Trains examples/fashion_pairs.yaml (with grid_ablation.py's grid --grid, the input resized to
--canvas) with AdamW at a constant --lr on fresh batches, impl "pelkc", and prints the mean
training loss and accuracy of every 25 steps (chance: loss 0.693, 50%). Tasks:
  single    one Fashion-MNIST item, --scale times its 28 pixels (nearest), at a random place (or
            the centre with --fixed); label: a top (T-shirt, pullover, dress, coat, shirt) or not.
            The easiest task there is: it shows how the share of the canvas an item covers sets
            the learning speed of a network that averages its features over the map.
  distance  python/fashion_pairs.py's: two items 44-56 or 72-84 pixels apart, balanced so that
            the items' distances to the borders say little of the label;
  distance-uniform  the same drawn uniformly: the borders then give the label away.
  same      python/fashion_pairs.py's: two items in opposite quadrants, the same class or not.
--border-cue trains nothing: for the two distance tasks it measures how much of the label the
items' places alone give away. Per pair, each item's distances to the nearest border on each
axis, capped at r pixels (what a network sees within r pixels of an item) and binned; the
majority label per bin value, fitted on half of --pairs pairs, is scored on the other half.
docs/GRID_ABLATION.md records what it measured.
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_pairs  # noqa: E402

TOPS = (0, 2, 3, 4, 6)


def single_batches(x, y, batch, canvas, scale, fixed, rng):
    size = fashion_pairs.ITEM * scale
    if size > canvas:
        raise SystemExit(f"task_probe: a {size}-pixel item does not fit a {canvas}-pixel canvas")
    while True:
        idx = rng.integers(0, len(y), batch)
        out = np.zeros((batch, 1, canvas, canvas), np.float32)
        for k, i in enumerate(idx):
            r, c = ((canvas - size) // 2,) * 2 if fixed else rng.integers(0, canvas - size + 1, 2)
            out[k, 0, r:r + size, c:c + size] = np.kron(x[i, 0] + 0.5, np.ones((scale, scale), np.float32))
        yield out, np.isin(y[idx], TOPS).astype(np.int64)


def pair_batches(x, y, batch, steps, task, seed):
    pairs = fashion_pairs.PairSet(x, y, batch * steps, seed, task)
    for s in range(steps):
        sl = slice(s * batch, (s + 1) * batch)
        yield pairs.x[sl], pairs.y[sl]


def border_cue(pairs, seed):
    """Held-out accuracy of predicting the label from the items' per-axis border distances."""
    rng = np.random.default_rng(seed)
    room = fashion_pairs.CANVAS - fashion_pairs.ITEM
    print("task             | within 8 px | 16 px | 28 px | 42 px   (accuracy on held-out pairs)")
    for task in ("distance-uniform", "distance"):
        if task == "distance":
            far, a, b = fashion_pairs._balanced_distance_pairs(rng, pairs, fashion_pairs.CANVAS)
        else:
            far = rng.random(pairs) < 0.5
            a, b = fashion_pairs._distance_places(rng, pairs, fashion_pairs.CANVAS, far)
        cells = []
        for r, width in ((8, 1), (16, 2), (28, 2), (42, 3)):
            ka, kb = (np.minimum(np.minimum(p, room - p), r) // width for p in (a, b))
            ia, ib = ka[:, 0] * 100 + ka[:, 1], kb[:, 0] * 100 + kb[:, 1]
            _, key = np.unique(np.minimum(ia, ib) * 10000 + np.maximum(ia, ib), return_inverse=True)
            h = pairs // 2
            ones = np.bincount(key[:h], far[:h], minlength=key.max() + 1)
            zeros = np.bincount(key[:h], ~far[:h], minlength=key.max() + 1)
            cells.append(f"{((ones > zeros)[key[h:]] == far[h:]).mean() * 100:.1f}%")
        print(f"{task:16s} | {' | '.join(cells)}")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", choices=("single",) + fashion_pairs.TASKS, default="single")
    ap.add_argument("--canvas", type=int, default=112, help="single: canvas size (pairs: always 112)")
    ap.add_argument("--scale", type=int, default=1, help="single: the item's magnification (integer)")
    ap.add_argument("--fixed", action="store_true", help="single: the item at the centre")
    ap.add_argument("--grid", type=int, default=1, help="grid_ablation.py's grid index (default 1, the paper rule)")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--border-cue", action="store_true", help="measure the distance tasks' border shortcut")
    ap.add_argument("--pairs", type=int, default=400000, help="--border-cue: pairs drawn (default 400000)")
    a = ap.parse_args(argv)
    if a.border_cue:
        if a.pairs < 1000:
            ap.error("--pairs must be >= 1000")
        return border_cue(a.pairs, a.seed)
    for name in ("canvas", "scale", "steps", "batch", "threads"):
        if getattr(a, name) < 1:
            ap.error(f"--{name} must be >= 1")
    if a.task != "single" and a.canvas != fashion_pairs.CANVAS:
        ap.error(f"--canvas applies to --task single only (the pair tasks use {fashion_pairs.CANVAS})")

    import torch
    import torch.nn.functional as F

    import fashion_mnist
    import grid_ablation
    import pelk_torch
    import torch_peer

    if not 0 <= a.grid < len(grid_ablation.GRIDS):
        ap.error(f"--grid must be in 0..{len(grid_ablation.GRIDS) - 1}")
    torch_peer.set_threads(a.threads)
    torch.manual_seed(a.seed)
    x, y, _, _ = fashion_mnist.load()
    spec = grid_ablation.spec_for(a.grid)
    spec["input"]["height"] = spec["input"]["width"] = a.canvas
    with tempfile.TemporaryDirectory(prefix="task_probe_") as d:
        model = pelk_torch.PeLK(grid_ablation.write_spec(spec, d), impl="pelkc")
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr)
    rng = np.random.default_rng(a.seed)
    batches = (single_batches(x, y, a.batch, a.canvas, a.scale, a.fixed, rng) if a.task == "single"
               else pair_batches(x, y, a.batch, a.steps, a.task, a.seed))
    print(f"task {a.task}, canvas {a.canvas}, grid {grid_ablation.GRIDS[a.grid][0]}, batch {a.batch}, "
          f"lr {a.lr:g}", flush=True)
    losses, hits, t0 = [], [], time.perf_counter()
    for step in range(1, a.steps + 1):
        xb, yb = (torch.from_numpy(v) for v in next(batches))
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        hits.append(float((logits.argmax(1) == yb).float().mean()))
        if step % 25 == 0 or step == a.steps:
            n = (step - 1) % 25 + 1
            print(f"step {step}: loss {np.mean(losses[-n:]):.4f}, accuracy {np.mean(hits[-n:]) * 100:.1f}% "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
