"""docs/GRID_ABLATION.md and its plot from python/grid_ablation.py's results (the JSON beside it).

    grid_ablation_report.write("docs/GRID_ABLATION.md", results, grid_ablation.GRIDS)

Per grid: test accuracy mean and sample standard deviation over the seeds, parameters, weights
per channel of each stage's peripheral conv, the time per epoch of both training paths (timed
steps times steps per epoch) and their ratio; a plot of accuracy against parameters
(docs/img/grid_ablation.png, matplotlib); and a reading that says which differences exceed the
seed-to-seed spread.
"""

import os
import statistics


TASK_TEXT = {
    "same": "two Fashion-MNIST items in opposite quadrants of a 112x112 canvas, their centres 40 to 119 "
            "pixels apart; the label says whether they are of the same class (half the pairs are).",
    "distance": "two Fashion-MNIST items on a 112x112 canvas, their centres 44 to 56 (label 0) or 72 to 84 "
                "pixels apart (label 1), in a random direction, near and far pairs balanced over the items' "
                "distances to the borders.",
    "distance-uniform": "two Fashion-MNIST items on a 112x112 canvas, their centres 44 to 56 (label 0) or 72 to "
                        "84 pixels apart (label 1), drawn uniformly (the borders give much of the label away).",
}


def grid_rows(results, grids):
    """One dict per grid, in the order the runs were configured."""
    by_grid = {}
    for r in results["runs"]:
        by_grid.setdefault(r["grid"], []).append(r)
    s = results["settings"]
    steps_per_epoch = s["pairs"] // s["batch"]
    rows = []
    for g, runs in by_grid.items():
        accs = [r["accuracy"] for r in sorted(runs, key=lambda r: r["seed"])]
        t = results["timing"].get(str(g))
        rows.append({"grid": g, "label": grids[g][0], "accs": accs, "mean": statistics.mean(accs),
                     "std": statistics.stdev(accs) if len(accs) > 1 else 0.0, "params": runs[0]["params"],
                     "theta": runs[0]["theta"], "kernels": runs[0]["kernels"], "rows": runs[0]["rows"],
                     "cols": runs[0]["cols"], "wall_s": statistics.mean(r["wall_s"] for r in runs),
                     "epoch_pelkc": t["pelkc"] * steps_per_epoch if t else None,
                     "epoch_dense": t["dense"] * steps_per_epoch if t else None})
    return rows


def reading(rows):
    """Sentences on which differences exceed twice the larger of the two grids' seed spreads."""
    best = max(rows, key=lambda r: r["mean"])
    out = [f"The best grid here is {best['label']} ({best['mean']:.2f}% ± {best['std']:.2f})."]
    clear, unclear = [], []
    for r in rows:
        if r is best:
            continue
        gap, spread = best["mean"] - r["mean"], 2 * max(best["std"], r["std"])
        (clear if gap > spread else unclear).append(f"{r['label']} ({gap:.2f} points lower)")
    if clear:
        out.append("Behind it by more than twice the larger seed-to-seed standard deviation: " + "; ".join(clear) + ".")
    if unclear:
        out.append("Within that spread of it (not told apart by these runs): " + "; ".join(unclear) + ".")
    return " ".join(out)


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for r in rows:
        ax.errorbar(r["params"], r["mean"], yerr=r["std"], fmt="o", capsize=4)
        ax.annotate(r["label"].split(":")[0], (r["params"], r["mean"]), textcoords="offset points",
                    xytext=(6, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("parameters (log scale)")
    ax.set_ylabel("test accuracy % (mean ± std over seeds)")
    ax.set_title("Sharing grids on Fashion-MNIST pairs (112x112, K = 51 / 27)")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fmt_s(v):
    return "-" if v is None else f"{v:.0f}"


def write(path, results, grids):
    rows = grid_rows(results, grids)
    img_rel = os.path.join("img", "grid_ablation.png")
    os.makedirs(os.path.join(os.path.dirname(os.path.abspath(path)), "img"), exist_ok=True)
    plot(rows, os.path.join(os.path.dirname(os.path.abspath(path)), img_rel))
    s = results["settings"]
    out = ["# Sharing-grid ablation (Fashion-MNIST pairs on a 112x112 canvas)", "",
           "Written by `python/grid_ablation.py` (the command is below; `--report-only "
           "docs/GRID_ABLATION.md.json` rewrites this page from the raw results). Like the PeLK paper's "
           "Table 5, at a scale a 2-core machine can train.", "",
           f"**Task** (python/fashion_pairs.py, task \"{s.get('task', 'same')}\"): "
           + TASK_TEXT[s.get("task", "same")] + " A network that pools globally before a linear head cannot "
           "relate two far-apart items unless its convolutions brought one item's features to the other, so "
           "the kernel's reach matters. **Network**: examples/fashion_pairs.yaml: stem 4x4 stride 4 to 28x28; stage 0 dim 32, "
           "depth 2, K = 51; stage 1 dim 64 at 14x14, depth 2, K = 27 (both cover their whole map); partial 1.0, "
           "mlp_ratio 2, kpe constant. Only the sharing grid changes (and, in the last row, the kernel).", "",
           f"**Training**: python/train_fashion_mnist.py's recipe (AdamW, weight decay 0.05, warm-up + cosine, "
           f"random flips, batch {s['batch']}, lr {s['lr']:g}) for {s['epochs']} epochs of {s['pairs']} training "
           f"pairs, seeds {', '.join(map(str, s['seeds']))}, on pelkc's training kernels (impl \"pelkc\"); "
           f"accuracy on {s['test_pairs']} test pairs (from the 10,000 test images; the same pairs for every run). "
           f"The {len(results['runs'])} runs were tasks on Dask distributed ({s['scheduler'] or 'a local cluster of ' + str(s['workers']) + ' single-threaded workers'}), "
           f"{results['sweep_s'] / 60:.0f} minutes in all.", "",
           "| grid (stage 0 K / stage 1 K) | weights per channel | parameters | accuracy % (mean ± std) | runs | "
           "epoch, pelkc (s) | epoch, dense (s) | dense / pelkc |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        theta = " / ".join(f"{a}x{b}" for a, b in r["theta"])
        ks = " / ".join(map(str, r["kernels"]))
        ratio = f"{r['epoch_dense'] / r['epoch_pelkc']:.2f}x" if r["epoch_pelkc"] else "-"
        out.append(f"| {r['label']} (K {ks}) | {theta} | {r['params']} | {r['mean']:.2f} ± {r['std']:.2f} | "
                   f"{', '.join(f'{v:.2f}' for v in r['accs'])} | {fmt_s(r['epoch_pelkc'])} | "
                   f"{fmt_s(r['epoch_dense'])} | {ratio} |")
    out += ["", f"![accuracy against parameters]({img_rel})", "",
            "- std is the sample standard deviation over the seeds; chance is 50%. Parameters count every "
            "tensor of the export (kpe included).",
            f"- Time per epoch: the median of {s['time_steps']} training steps (forward, loss, backward, AdamW; "
            f"batch {s['batch']}, {s['threads']} thread(s), after the sweep, nothing else running) times "
            f"{s['pairs'] // s['batch']} steps; \"pelkc\" runs the peripheral convs on pelkc's generated kernels "
            "(O(k'^2) per pixel), \"dense\" expands the kernel and runs PyTorch's conv (O(k^2)); the rest of "
            "the step is the same PyTorch code on both paths. Runs' mean wall time (2 runs at a time on 2 cores): "
            + "; ".join(f"{r['label'].split(':')[0]} {r['wall_s']:.0f} s" for r in rows) + ".",
            f"- Machine: {results['machine']}. PyTorch: {'; '.join(results['peer'])}.",
            f"- Run on {results['started']}: `{results['command']}`.", "",
            "## Reading", "", reading(rows), ""]
    with open(path, "w") as f:
        f.write("\n".join(out))
