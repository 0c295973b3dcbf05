#!/usr/bin/python3
"""Sparse training (python/sparsity.py, train_fashion_mnist.py --sparsity): the masks survive
training, export and compile (issue 15 step 3).

  test_train_sparse.py --pelkc PELKC [--seed S] [--no-pelk-t]

  * training: train_fashion_mnist.train() with sparsity 0.4 on random data, prune and regrow every 2
    steps: examples/fashion_mnist.yaml (SNIP masks, random growth) and the PeLK-T-shaped mini spec
    (tests/specs/v13) with BatchNorm and a 3x3 small kernel (uniform masks, gradient growth).
    After every step each masked tensor is exactly zero off its mask, and so is the optimizer
    state there; every layer keeps its number of active weights through the prune/regrow
    cycles, and the topology did move; the masked weights start at density 0.6 (SNIP: at most
    one weight off, plus the layers it leaves dense);
  * export: the file has those zeros and the sparsity in its metadata; `pelkc stats SPEC --weights
    W` reports the values and non-zero values numpy counts in the file;
  * compile: `pelkc compile SPEC --weights W` then `pelkc run` against the module's float32 output
    and the float64 reference (tests/ref/pelk_ref.py), rel L2 < 1e-5 each;
  * PeLK-T (examples/pelk_t.yaml): the module with its initial 40% uniform masks (no training;
    every value made non-zero first, as a trained model's are: biases start at 0),
    exported: `pelkc stats` must count exactly the kept weights plus the dense parameters, which
    is about 29.2 M of 48.65 M (the paper's PeLK-T: 29 M). The masked tensors are every weight with
    >= 2 dimensions, the kpe included (python/sparsity.py says why); with the kpe left dense the
    count would be 0.33 M higher;
  * train_fashion_mnist.py's main() on random images: the export's metadata (sparsity, settings,
    non-zero count); --sparse-init resume takes the file's non-zeros as the masks;
  * errors: --sparsity 1.5, -0.1 or x, --update-every 0, --prune-rate 2 and resume without --init
    stop train_fashion_mnist.py with a clear message; Masking refuses a bad sparsity, growth or init.
The seed is fresh unless given and is printed.
"""

import argparse
import contextlib
import io
import os
import re
import subprocess
import sys
import tempfile
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "tests", "ref"))
import pelk_ref  # noqa: E402
import pelk_torch  # noqa: E402
import safetensors_io  # noqa: E402
import sparsity  # noqa: E402
import train_fashion_mnist  # noqa: E402

TOL = 1e-5
failures = []


def expect(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def stats_counts(pelkc, spec, w):
    """(values, non-zero) from `pelkc stats SPEC --weights W`, or None with the failure said."""
    p = subprocess.run([pelkc, "stats", spec, "--weights", w], capture_output=True, text=True)
    m = re.search(r"^weights .*: (\d+) values, non-zero (\d+) ", p.stdout, re.M)
    if p.returncode or not m:
        expect(False, f"pelkc stats --weights: exit {p.returncode}: {p.stderr.strip()}")
        return None
    return int(m.group(1)), int(m.group(2))


def numpy_counts(w):
    arrays = safetensors_io.load(w).values()
    return sum(a.size for a in arrays), sum(int(np.count_nonzero(a)) for a in arrays)


class Watch:
    """on_step for train(): checks the masks, the weights and the optimizer state after every step."""

    def __init__(self):
        self.counts, self.first, self.bad = None, None, []

    def __call__(self, step, model, masking):
        if self.counts is None:
            self.counts = {n: int(m.sum()) for n, m in masking.masks.items()}
            self.first = {n: m.clone() for n, m in masking.masks.items()}
        opt_state = masking.optimizer.state
        for n, m in masking.masks.items():
            p = masking.params[n]
            if int(m.sum()) != self.counts[n]:
                self.bad.append(f"step {step}: {n} has {int(m.sum())} active, not {self.counts[n]}")
            if torch.count_nonzero(p.detach()[~m]):
                self.bad.append(f"step {step}: {n} is non-zero off its mask")
            for k, v in opt_state.get(p, {}).items():
                if torch.is_tensor(v) and v.shape == p.shape and torch.count_nonzero(v[~m]):
                    self.bad.append(f"step {step}: {n}'s optimizer state {k} is non-zero off its mask")

    def moved(self, masking):
        return sum(int((self.first[n] != m).sum()) for n, m in masking.masks.items())


def check_training(pelkc, spec, seed, bn=False, small=None, growth="random", init="snip"):
    name = os.path.basename(spec)
    rng = np.random.default_rng(seed)
    sp = pelk_torch.load_spec(spec)
    c, h, w = sp["input"]["channels"], sp["input"]["height"], sp["input"]["width"]
    x = rng.standard_normal((16, c, h, w)).astype(np.float32)
    y = rng.integers(0, sp["classes"], 16).astype(np.int64)
    watch = Watch()
    model, _, _ = train_fashion_mnist.train(spec, (x, y), epochs=2, batch=4, seed=seed, bn=bn, small=small,
                                            impl="dense", sparsity=0.4, update_every=2, growth=growth,
                                            sparse_init=init, on_step=watch, log=lambda s: None)
    mk = model.masking
    tag = f"{name} ({init} masks, {growth} growth{', bn' if bn else ''}{f', small {small}' if small else ''})"
    expect(mk.updates == 4 and mk.steps == 8, f"{tag}: 8 steps, 4 prune/regrow updates (got {mk.steps}, {mk.updates})")
    expect(not watch.bad, f"{tag}: after every step, masked weights and optimizer state are zero off the "
                          f"mask and each layer keeps its active count" + "".join("\n     " + b for b in watch.bad[:5]))
    expect(watch.moved(mk) > 0, f"{tag}: the prune/regrow cycles moved {watch.moved(mk)} mask entries")
    eligible = {n: p for n, p in model.named_parameters() if sparsity.is_sparse(n, p)}
    n_all = sum(p.numel() for p in eligible.values())
    n_dense = sum(p.numel() for n, p in eligible.items() if n not in mk.masks)
    active = sum(watch.counts.values()) + n_dense
    lo = int(0.6 * n_all) - 1 if init == "snip" else sum(round(0.6 * p.numel()) for p in eligible.values())
    expect(lo <= active <= lo + n_dense, f"{tag}: {active} of {n_all} weights active at the start "
                                         f"({len(mk.masks)} masked, {len(eligible) - len(mk.masks)} left dense)")

    with tempfile.TemporaryDirectory(prefix="pelk_sparse_") as d:
        wpath, so = os.path.join(d, "w.safetensors"), os.path.join(d, "m.so")
        xin, yout = os.path.join(d, "x.npy"), os.path.join(d, "y.npy")
        args = types.SimpleNamespace(sparsity=0.4, update_every=2, prune_rate=0.3, growth=growth, sparse_init=init)
        nonzero, _ = sparsity.count_nonzero(model)
        model.export(wpath, train_fashion_mnist.sparse_metadata(args, mk, nonzero))
        weights, meta = safetensors_io.load(wpath, with_metadata=True)
        off = [n for n, m in mk.masks.items() if np.count_nonzero(weights[n][~m.numpy()])]
        expect(not off and meta.get("sparsity") == "0.4" and meta.get("nonzero") == str(nonzero),
               f"{tag}: the export is zero off every mask ({off[:3]}), metadata sparsity "
               f"{meta.get('sparsity')}, non-zero {meta.get('nonzero')}")
        got, want = stats_counts(pelkc, spec, wpath), numpy_counts(wpath)
        expect(got == want and want[1] == nonzero,
               f"{tag}: pelkc stats --weights: {got} (values, non-zero); numpy on the file: {want}")

        xb = rng.standard_normal((2, c, h, w)).astype(np.float32)
        with torch.no_grad():
            ref32 = model(torch.from_numpy(xb)).numpy()
        ref64 = pelk_ref.forward(spec, {n: a.astype(np.float64) for n, a in weights.items()},
                                 xb.astype(np.float64)).numpy()
        np.save(xin, xb)
        for cmd in ([pelkc, "compile", spec, "--weights", wpath, "-o", so],
                    [pelkc, "run", so, "--input", xin, "--output", yout]):
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode:
                expect(False, f"{tag}: {' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()}")
                return
        out = np.load(yout).astype(np.float64)
    r32 = np.linalg.norm(out - ref32) / np.linalg.norm(ref32)
    r64 = np.linalg.norm(out - ref64) / np.linalg.norm(ref64)
    expect(r32 < TOL and r64 < TOL, f"{tag}: compiled sparse export vs the module (float32) rel L2 "
                                    f"{r32:.2e}, vs the float64 reference {r64:.2e} (< {TOL:g})")


def check_main(seed):
    """train_fashion_mnist.py's main() (Fashion-MNIST replaced by 24 random images): --sparsity
    0.4 --update-every 2 writes masked weights with the settings in the metadata; a resumed mask
    (--sparse-init resume) is the file's non-zeros."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((24, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 24).astype(np.int64)
    real_load, real_argv = train_fashion_mnist.fashion_mnist.load, sys.argv
    train_fashion_mnist.fashion_mnist.load = lambda: (x[:16], y[:16], x[16:], y[16:])
    try:
        with tempfile.TemporaryDirectory(prefix="pelk_sparse_main_") as d:
            w = os.path.join(d, "w.safetensors")
            sys.argv = ["train_fashion_mnist.py", "--epochs", "2", "--batch", "4", "--impl", "dense", "--seed",
                        str(seed % 1000), "--sparsity", "0.4", "--update-every", "2", "-o", w]
            train_fashion_mnist.main()
            weights, meta = safetensors_io.load(w, with_metadata=True)
            nz = numpy_counts(w)[1]
            expect(meta.get("sparsity") == "0.4" and meta.get("update_every") == "2" and meta.get("nonzero") == str(nz)
                   and meta.get("sparse_updates") == "4" and meta.get("growth") == "random",
                   f"train_fashion_mnist.py --sparsity 0.4: metadata {meta.get('sparsity')}, non-zero "
                   f"{meta.get('nonzero')} (numpy: {nz}), {meta.get('sparse_updates')} updates")
            model = pelk_torch.PeLK.from_safetensors(os.path.join(ROOT, "examples", "fashion_mnist.yaml"), w,
                                                      impl="dense")
            mk = sparsity.Masking(model, None, 0.4).init("resume")
            same = all(np.array_equal(mk.masks[n].numpy(), weights[n] != 0) for n in mk.masks)
            expect(same and mk.masks, f"resume: {len(mk.masks)} masks, each the file's non-zeros")
    finally:
        train_fashion_mnist.fashion_mnist.load, sys.argv = real_load, real_argv


def check_pelk_t(pelkc, seed):
    """PeLK-T's 40%-sparse parameter count, through export and pelkc stats."""
    spec = os.path.join(ROOT, "examples", "pelk_t.yaml")
    torch.manual_seed(seed)
    model = pelk_torch.PeLK(spec, impl="dense")
    with torch.no_grad():  # every value non-zero before masking, as after training (biases start at
        for p in model.parameters():  # 0, and a few of the 48 M random weights are exactly 0)
            p.masked_fill_(p == 0, 1e-3)
    mk = sparsity.Masking(model, None, 0.4).init("uniform")
    kept = sum(round(0.6 * mk.params[n].numel()) for n in mk.masks)
    dense = sum(p.numel() for n, p in model.named_parameters() if n not in mk.masks)
    kpe = sum(p.numel() for n, p in model.named_parameters() if n.endswith(".kpe"))
    with tempfile.TemporaryDirectory(prefix="pelk_t_sparse_") as d:
        w = os.path.join(d, "w.safetensors")
        model.export(w)
        got, want = stats_counts(pelkc, spec, w), numpy_counts(w)
    print(f"     PeLK-T at sparsity 0.4: pelkc stats counts {got and got[1]} non-zero of {got and got[0]} "
          f"({got and got[1] / 1e6:.2f} M; with the kpe dense it would be {(kept + dense + 0.4 * kpe) / 1e6:.2f} M)")
    expect(got == want and got[1] == kept + dense and abs(got[1] - 29.2e6) < 0.1e6,
           f"pelk_t: stats {got}, numpy {want}, kept + dense parameters {kept + dense}, about 29.2 M")


def check_errors():
    for argv, want in ((["--sparsity", "1.5"], "sparsity must be in [0, 1)"),
                       (["--sparsity", "-0.1"], "sparsity must be in [0, 1)"),
                       (["--sparsity", "x"], "sparsity must be a number"),
                       (["--update-every", "0"], "must be an integer >= 1"),
                       (["--sparsity", "0.4", "--prune-rate", "2"], "--prune-rate must be in [0, 1]"),
                       (["--sparsity", "0.4", "--sparse-init", "resume"], "give --init")):
        err, code, real_argv = io.StringIO(), None, sys.argv
        sys.argv = ["train_fashion_mnist.py"] + argv + ["-o", os.devnull]
        try:  # argparse and the option checks stop main() before it loads any data
            with contextlib.redirect_stderr(err):
                train_fashion_mnist.main()
        except SystemExit as e:
            code = e.code
        finally:
            sys.argv = real_argv
        expect(code == 2 and want in err.getvalue(),
               f"train_fashion_mnist.py {' '.join(argv)}: exit {code}, '{(err.getvalue().strip().splitlines() or [''])[-1]}'")
    model = pelk_torch.PeLK(os.path.join(ROOT, "examples", "fashion_mnist.yaml"), impl="dense")
    for kw, want in (({"sparsity": 1.0}, "sparsity must be in [0, 1)"), ({"sparsity": 0.4, "growth": "x"}, "growth"),
                     ({"sparsity": 0.4, "update_every": 0}, "update_every")):
        try:
            sparsity.Masking(model, None, **kw)
            expect(False, f"Masking({kw}) raises")
        except ValueError as e:
            expect(want in str(e), f"Masking({kw}): {e}")
    try:
        sparsity.Masking(model, None, 0.4).init("erk")
        expect(False, "init('erk') raises")
    except ValueError as e:
        expect("sparse init must be one of" in str(e), f"init('erk'): {e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pelkc", required=True)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--no-pelk-t", action="store_true", help="skip the PeLK-T count (a 195 MB file)")
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "little")
    print(f"seed {seed} (reproduce with --seed {seed})")
    torch.set_num_threads(2)
    check_errors()
    check_main(seed)
    check_training(a.pelkc, os.path.join(ROOT, "examples", "fashion_mnist.yaml"), seed)
    check_training(a.pelkc, os.path.join(ROOT, "tests", "specs", "v13_pelk_t_mini_default_grid.yaml"), seed + 1,
                   bn=True, small=3, growth="gradient", init="uniform")
    if not a.no_pelk_t:
        check_pelk_t(a.pelkc, seed)
    print(f"{len(failures)} failed" if failures else "PASS")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
