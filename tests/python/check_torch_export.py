#!/usr/bin/python3
"""python/pelk_torch.py's export, compiled by pelkc, against the module's own float32 output.

  check_torch_export.py --pelkc PELKC SPEC [--bn] [--small S] [--batch N] [--seed S] [--tol T]

Builds the PyTorch PeLK for SPEC (with the training-time parts if asked), gives every parameter
and buffer random values (BatchNorm running statistics included, so eval mode's use of them is
visible), puts it in eval mode, exports it with PeLK.export, compiles it with
`pelkc compile SPEC --weights W -o M.so`, runs `pelkc run` on a random float32 input and compares
with the module's float32 output on the same input: rel L2 = ||y - y_torch|| / ||y_torch|| must be
below tol (1e-5). Prints the seed (fresh unless --seed is given) so a failure can be reproduced.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import pelk_torch  # noqa: E402


def randomize(model, gen):
    """Random values with magnitudes that make every part matter (O(1) activations)."""
    def normal(t, std):
        return torch.randn(t.shape, generator=gen) * std

    def uniform(t, lo, hi):
        return lo + (hi - lo) * torch.rand(t.shape, generator=gen)

    with torch.no_grad():
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            leaf = name.rsplit(".", 1)[-1]
            is_bn = ".bn." in name or ".small_bn." in name
            if is_bn and leaf == "weight":
                v = uniform(t, 0.5, 1.5)
            elif is_bn and leaf == "running_mean":
                v = normal(t, 0.5)
            elif is_bn and leaf == "running_var":
                v = uniform(t, 0.5, 2.0)
            elif leaf == "gamma":
                v = uniform(t, 0.5, 1.0) * torch.sign(normal(t, 1.0))
            elif leaf == "kpe":
                v = normal(t, 0.3)
            elif leaf == "bias" or (leaf == "weight" and t.dim() == 1):  # norms' affine
                v = (1.0 if leaf == "weight" else 0.0) + normal(t, 0.2)
            elif name.endswith("conv.weight") and ".blocks." in name:  # theta: fan-in of k x k
                v = normal(t, 1.0 / model.spec["stages"][int(name.split(".")[1])]["kernel"])
            elif leaf == "weight":
                v = normal(t, 1.0 / np.sqrt(np.prod(t.shape[1:])))
            elif leaf in ("rows", "cols"):
                continue
            else:
                raise AssertionError(name)
            t.copy_(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pelkc", required=True)
    ap.add_argument("spec")
    ap.add_argument("--bn", action="store_true", help="BatchNorm after the peripheral conv (and the small one)")
    ap.add_argument("--small", type=int, default=None, metavar="S", help="a parallel S x S kernel")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--tol", type=float, default=1e-5)
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "little")
    print(f"spec: {a.spec}  bn: {a.bn}  small: {a.small}  seed: {seed}  (reproduce with --seed {seed})")
    torch.set_num_threads(2)
    gen = torch.Generator().manual_seed(seed)

    model = pelk_torch.PeLK(a.spec, bn=a.bn, small=a.small, impl="dense")  # PyTorch alone: the independent side
    randomize(model, gen)
    model.eval()
    sp = model.spec
    x = torch.randn((a.batch, sp["input"]["channels"], sp["input"]["height"], sp["input"]["width"]), generator=gen)
    with torch.no_grad():
        want = model(x).numpy()

    with tempfile.TemporaryDirectory(prefix="pelk_export_") as d:
        w, so = os.path.join(d, "w.safetensors"), os.path.join(d, "m.so")
        xin, yout = os.path.join(d, "x.npy"), os.path.join(d, "y.npy")
        model.export(w)
        np.save(xin, x.numpy())
        for cmd in ([a.pelkc, "compile", a.spec, "--weights", w, "-o", so],
                    [a.pelkc, "run", so, "--input", xin, "--output", yout]):
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                print(f"FAIL: {' '.join(cmd)}: exit {p.returncode}\n{p.stderr}")
                return 2
        y = np.load(yout)
    if y.shape != want.shape or not np.all(np.isfinite(y)):
        print(f"FAIL: output shape {y.shape} (want {want.shape}) or non-finite values")
        return 1
    rel = float(np.linalg.norm(y.astype(np.float64) - want) / np.linalg.norm(want.astype(np.float64)))
    print(f"rel_l2: {rel:.3e}  (tolerance {a.tol:g})")
    ok = rel < a.tol
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
