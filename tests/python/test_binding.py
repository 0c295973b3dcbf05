#!/usr/bin/python3
"""python/pelkc.py (the ctypes binding) on models compiled by pelkc.

  test_binding.py --pelkc PELKC [--seed S]

Two PyTorch PeLKs (tests/specs/v12 and v01, the second with BatchNorms and a small kernel) get
random weights, are exported and compiled (the second with --prefix), and loaded at once:
  * round trip: each model's output through the binding against the module's float32 output and
    the float64 reference (tests/ref/pelk_ref.py), rel L2 < 1e-5; runs of the two models are
    interleaved, and a third Model on the first .so runs with a different thread count;
  * zero copy: a C-contiguous float32 input and a given `out` are used in place; a strided view
    (no copy in Python, pelkc reads the strides) and a float64 input give the same result;
  * errors: a wrong-shape input, a wrong rank, an empty batch, bad threads and a wrong `out` raise
    PelkcError with pelkc's own message; a missing prefix names the missing symbol.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "ref"))
sys.path.insert(0, HERE)
import pelk_ref  # noqa: E402
import pelk_torch  # noqa: E402
import pelkc  # noqa: E402
from check_torch_export import randomize  # noqa: E402

SPECS = os.path.join(HERE, "..", "specs")
failures = []


def expect(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def rel_l2(y, ref):
    y, ref = np.asarray(y, np.float64), np.asarray(ref, np.float64)
    return float(np.linalg.norm(y - ref) / np.linalg.norm(ref))


def expect_error(fn, needle, what):
    try:
        fn()
    except pelkc.PelkcError as e:
        expect(needle in str(e), f"{what}: PelkcError '{e}' contains '{needle}'")
        return
    except Exception as e:  # the wrong exception type is a failure too
        expect(False, f"{what}: raised {type(e).__name__}: {e}, expected PelkcError")
        return
    expect(False, f"{what}: no exception")


def build(pelkc_bin, spec, d, tag, gen, prefix=None, **parts):
    model = pelk_torch.PeLK(spec, impl="dense", **parts)
    randomize(model, gen)
    model.eval()
    w, so = os.path.join(d, tag + ".safetensors"), os.path.join(d, tag + ".so")
    model.export(w)
    cmd = [pelkc_bin, "compile", spec, "--weights", w, "-o", so] + (["--prefix", prefix] if prefix else [])
    subprocess.run(cmd, check=True)
    return model, pelk_ref.load_safetensors(w), so


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pelkc", required=True)
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "little")
    print(f"seed: {seed}  (reproduce with --seed {seed})")
    torch.set_num_threads(2)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    spec_a = os.path.join(SPECS, "v12_one_stage_mlp2p5_nokpe.yaml")
    spec_b = os.path.join(SPECS, "v01_list_grid_border.yaml")

    with tempfile.TemporaryDirectory(prefix="pelkc_binding_") as d:
        mod_a, w_a, so_a = build(a.pelkc, spec_a, d, "a", gen)
        mod_b, w_b, so_b = build(a.pelkc, spec_b, d, "b", gen, prefix="mb_", bn=True, small=3)

        A = pelkc.Model(so_a)
        B = pelkc.Model(so_b, prefix="mb_", threads=2)
        A2 = pelkc.Model(so_a, threads=2)  # a second model from the same .so
        sa, sb = mod_a.spec["input"], mod_b.spec["input"]
        expect(A.input_shape == (sa["channels"], sa["height"], sa["width"]), f"A.input_shape {A.input_shape}")
        expect(B.output_shape == (10,), f"B.output_shape {B.output_shape}")
        expect(A.name == "v12_one_stage_mlp2p5_nokpe" and B.name == "v01_list_grid_border", "model names")
        expect(B.threads == 2 and A.threads == 1, "thread counts are per model")

        xa = rng.standard_normal((3,) + A.input_shape).astype(np.float32)
        xb = rng.standard_normal((2,) + B.input_shape).astype(np.float32)
        with torch.no_grad():
            ta, tb = mod_a(torch.from_numpy(xa)).numpy(), mod_b(torch.from_numpy(xb)).numpy()
        ra = pelk_ref.forward(spec_a, w_a, xa).numpy()
        rb = pelk_ref.forward(spec_b, w_b, xb).numpy()

        ya = A.run(xa)
        yb = B.run(xb)
        ya2 = A2.run(xa)
        yb_again = B(xb)
        for tag, y, t, r in (("A", ya, ta, ra), ("B", yb, tb, rb), ("A2", ya2, ta, ra), ("B again", yb_again, tb, rb)):
            e1, e2 = rel_l2(y, t), rel_l2(y, r)
            expect(y.dtype == np.float32 and y.shape == t.shape, f"{tag}: output {y.dtype} {y.shape}")
            expect(e1 < 1e-5 and e2 < 1e-5, f"{tag}: rel L2 vs module {e1:.2e}, vs float64 reference {e2:.2e}")

        out = np.zeros((3, A.output_shape[0]), np.float32)
        res = A.run(xa, out=out)
        expect(res is out and np.array_equal(out, ya), "out= is filled in place")
        expect(np.array_equal(A.run(xa[1]), ya[1:2]), "a single [C, H, W] image is a batch of 1")
        big = np.zeros((3, A.input_shape[0], A.input_shape[1] + 3, A.input_shape[2] * 2), np.float32)
        view = big[:, :, 1:1 + A.input_shape[1], ::2]
        view[...] = xa
        expect(not view.flags.c_contiguous, "strided view is not contiguous")
        expect(np.array_equal(A.run(view), ya), "strided view (pelkc_run with numpy's strides) = contiguous")
        expect(np.array_equal(A.run(xa.astype(np.float64)), ya), "float64 input converted")

        c, h, w = A.input_shape
        expect_error(lambda: A.run(np.zeros((2, c, h + 1, w), np.float32)),
                     f"input extents (W,H,C,N) = ({w},{h + 1},{c},2), expected ({w},{h},{c},N>=1)", "wrong shape")
        expect_error(lambda: A.run(np.zeros((c, h, w + 1), np.float32)),
                     "input buffer must have 4 dimensions, got 3", "wrong rank")
        expect_error(lambda: A.run(np.zeros((0, c, h, w), np.float32)), "N>=1", "empty batch")
        expect_error(lambda: A.set_threads(0), "threads must be in [1, 1024], got 0", "bad thread count")
        expect_error(lambda: A.run(xa, out=np.zeros((3, 7), np.float32)), "out must be", "wrong out")
        expect_error(lambda: pelkc.Model(so_b), "no symbol pelkc_api_version", "prefixed .so without prefix")
        expect(rel_l2(B.run(xb), tb) < 1e-5, "B still right after A's errors")
        A.close()
        expect_error(lambda: A.run(xa), "closed", "closed model")
        expect(rel_l2(A2.run(xa), ta) < 1e-5, "A2 still right after A is freed")

    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
