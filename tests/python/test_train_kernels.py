#!/usr/bin/python3
"""The generated training kernels (pelkc compile-train, python/pelkc_train.py) on their own.

  test_train_kernels.py --pelkc PELKC [--seed S]

  * gradcheck in float64 through pelkc_train.PeripheralConvFunction (forward, dX, dtheta, dbias,
    dkpe against finite differences) on configurations covering rule grids, explicit asymmetric
    lists, rows != cols, kernels larger than the map, odd maps, K = 101 on a small map, constant
    and border KPE, g < C and a grid too wide to unroll; each on both of the kernels' paths (one
    image per vector loop, and the lane path that interleaves 8 images: PELKC_TRAIN_LANES=0 / 1),
    with batches of 1 to 9 images (a partial lane block, a full one and one more);
  * the same configurations against autograd through the dense expansion in float64 (an
    independent formula written here, F.conv2d on the repeated theta), rel L2 < 1e-12;
  * bad input: stride 2, dilation 2, a non-CPU tensor, wrong shapes, dtypes and modes raise the
    errors that name them; the command line's usage errors.
The seed is fresh unless given and is printed.
"""

import argparse
import os
import subprocess
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
import pelk_torch  # noqa: E402
import pelkc_train  # noqa: E402

failures = []


def expect(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def rule(k, c, m):
    return pelk_torch.rule_grid(k, c, m)


# (name, kernel, rows, cols, kpe mode, (n, C, g, h, w), kpe in the gradcheck)
CASES = [
    ("rule k13 g<C", 13, rule(13, 5, 2), rule(13, 5, 2), "none", (2, 5, 3, 9, 11), True),
    ("asym list k7 constant", 7, [3, 1, 2, 1], [3, 1, 2, 1], "constant", (2, 4, 4, 6, 5), True),
    ("rows!=cols k11 border", 11, rule(11, 3, 2), [4, 7], "border", (3, 3, 2, 5, 8), True),
    ("kernel > map k21 border", 21, [10, 1, 10], [1, 19, 1], "border", (2, 2, 2, 4, 3), True),
    ("odd map k9 g<C", 9, [2, 5, 2], [1, 1, 3, 3, 1], "none", (3, 4, 1, 7, 5), True),
    ("k101 small map border", 101, rule(101, 7, 2), rule(101, 7, 2), "border", (1, 2, 2, 5, 6), False),
    ("k101 small map constant", 101, rule(101, 5, 2), [50, 1, 50], "constant", (2, 1, 1, 4, 3), False),
    ("one region per axis k15", 15, [15], [15], "constant", (2, 2, 2, 6, 7), True),
    ("wide grid k31 (loop form)", 31, [15, 1, 15], [1] * 31, "border", (1, 3, 2, 5, 9), False),
    ("dense k3 g<C", 3, [1, 1, 1], [1, 1, 1], "constant", (2, 6, 2, 3, 4), True),
    ("k1", 1, [1], [1], "border", (2, 2, 2, 3, 3), True),
    ("two lane blocks k13 border", 13, rule(13, 5, 2), [3, 1, 1, 1, 1, 3, 3], "border", (9, 3, 2, 6, 7), True),
]
PATHS = (("0", "rows"), ("1", "lanes"))  # PELKC_TRAIN_LANES: force each path


def make(case, dtype, gen, kpe_grad=True):
    _, k, rows, cols, mode, (n, c, g, h, w), _ = case
    x = torch.randn(n, c, h, w, dtype=dtype, generator=gen, requires_grad=True)
    theta = torch.randn(g, 1, len(rows), len(cols), dtype=dtype, generator=gen, requires_grad=True)
    bias = torch.randn(g, dtype=dtype, generator=gen, requires_grad=True)
    kpe = None
    if mode != "none":
        kpe = torch.randn(g, k, k, dtype=dtype, generator=gen).requires_grad_(kpe_grad)
    return x, theta, bias, kpe


def dense(x, theta, bias, kpe, k, rows, cols, mode):
    """The conv through the dense kernel (spec/SPEC.md): W = theta repeated over the regions."""
    g = theta.shape[0]
    wd = theta.repeat_interleave(torch.tensor(rows), 2).repeat_interleave(torch.tensor(cols), 3)
    y = F.conv2d(x[:, :g], wd, bias, padding=k // 2, groups=g)
    if mode == "constant":  # h at every tap: sum_ij W h per channel
        y = y + (wd[:, 0] * kpe).sum(dim=(1, 2))[None, :, None, None]
    elif mode == "border":  # h only at taps inside the image: conv of ones with W h
        ones = torch.ones_like(x[:1, :g])
        y = y + F.conv2d(ones, wd * kpe[:, None], None, padding=k // 2, groups=g)
    return torch.cat([y, x[:, g:]], 1)


def rel(a, b):
    return float((a - b).norm() / b.norm()) if b.norm() > 0 else float(a.norm())


def check_case(case, gen, path):
    name, k, rows, cols, mode = case[:5]
    name = f"{name} [{path}]"

    def f(x, theta, bias, kpe):
        return pelkc_train.peripheral_conv(x, theta, bias, kpe, k, rows, cols, mode)

    x, theta, bias, kpe = make(case, torch.float64, gen, kpe_grad=case[6])
    ok = torch.autograd.gradcheck(f, (x, theta, bias, kpe), eps=1e-6, atol=1e-7, rtol=1e-5,
                                  raise_exception=False)
    expect(ok, f"gradcheck float64: {name}")
    x, theta, bias, kpe = make(case, torch.float64, gen)
    ins = [t for t in (x, theta, bias, kpe) if t is not None]
    y1 = f(x, theta, bias, kpe)
    y2 = dense(x, theta, bias, kpe, k, rows, cols, mode)
    dy = torch.randn(y1.shape, dtype=torch.float64, generator=gen)
    g1 = torch.autograd.grad(y1, ins, dy)
    g2 = torch.autograd.grad(y2, ins, dy)
    errs = [rel(y1, y2)] + [rel(a, b) for a, b in zip(g1, g2)]
    expect(max(errs) < 1e-12, f"against the dense expansion, float64: {name}: rel L2 "
           + " ".join(f"{e:.1e}" for e in errs) + " (y, dx, dtheta, dbias[, dkpe])")


def expect_raises(fn, kind, needle, what):
    try:
        fn()
    except kind as e:
        expect(needle in str(e), f"{what}: {type(e).__name__} '{e}' names '{needle}'")
        return
    except Exception as e:
        expect(False, f"{what}: raised {type(e).__name__}: {e}, expected {kind.__name__}")
        return
    expect(False, f"{what}: no exception")


def check_errors(pelkc, gen):
    k, rows = 13, rule(13, 5, 2)
    x = torch.randn(2, 3, 8, 8, generator=gen)
    th = torch.randn(3, 1, len(rows), len(rows), generator=gen)
    b = torch.zeros(3)
    call = pelkc_train.peripheral_conv
    U = pelkc_train.UnsupportedError
    expect_raises(lambda: call(x, th, b, None, k, rows, rows, stride=2), U, "stride", "stride 2")
    expect_raises(lambda: call(x, th, b, None, k, rows, rows, dilation=2), U, "dilation", "dilation 2")
    xm = torch.empty(2, 3, 8, 8, device="meta")
    expect_raises(lambda: call(xm, th, b, None, k, rows, rows), U, "CPU", "a meta-device tensor")
    if torch.cuda.is_available():
        expect_raises(lambda: call(x.cuda(), th, b, None, k, rows, rows), U, "cuda", "a CUDA tensor")
    else:
        print("skip CUDA tensor: no CUDA here (the same device check raised for the meta tensor)")
    expect_raises(lambda: call(x.half(), th, b, None, k, rows, rows), U, "float16", "float16")
    expect_raises(lambda: call(x[0], th, b, None, k, rows, rows), ValueError, "NCHW", "3-D x")
    expect_raises(lambda: call(x[:, :2], th, b, None, k, rows, rows), ValueError, "fewer", "x with C < g")
    expect_raises(lambda: call(x, th[:, :, :5], b, None, k, rows, rows), ValueError, "theta must be",
                  "theta of the wrong grid")
    expect_raises(lambda: call(x, th, b[:2], None, k, rows, rows), ValueError, "bias must be", "short bias")
    expect_raises(lambda: call(x, th, b, torch.zeros(3, 11, 11), k, rows, rows, "border"), ValueError,
                  "kpe must be", "kpe of the wrong kernel")
    expect_raises(lambda: call(x, th, b, None, k, rows, rows, "border"), ValueError, "kpe mode",
                  "border mode without kpe")
    expect_raises(lambda: call(x, th.double(), b, None, k, rows, rows), ValueError, "theta is",
                  "float64 theta with float32 x")
    expect_raises(lambda: call(x, th, b, None, k, rows, [13], "none"), ValueError, "theta must be",
                  "theta for other grids")
    expect_raises(lambda: call(x, th, b, None, k, rows, rows[:-1], "none"), ValueError, "sum",
                  "a grid that does not sum to the kernel")

    def cli(*args):
        return subprocess.run([pelkc] + list(args), capture_output=True, text=True)

    p = cli("emit", "train", "--kernel", "13", "--grid", "{center: 5, base: 2}", "--channels", "4",
            "--kpe", "border")
    expect(p.returncode == 0 and "static const int P_FWD[10]" in p.stdout
           and "pelkc_train_dparams_f64" in p.stdout and "kpe border" in p.stdout,
           "emit train prints the specialised C (literal corners, both types, the config)")
    for args, needle in ((["emit", "train", "--kernel", "13", "--grid", "[13]"], "--channels"),
                         (["emit", "train", "--kernel", "5", "--grid", "[1,3]", "--channels", "2"], "sums to 4"),
                         (["emit", "train", "--kernel", "5", "--grid", "[5]", "--channels", "2", "--kpe", "x"], "--kpe"),
                         (["compile-train", "--kernel", "5", "--grid", "[5]", "--channels", "2"], "-o")):
        p = cli(*args)
        expect(p.returncode == 1 and needle in p.stderr and not p.stdout,
               f"pelkc {' '.join(args)}: exit 1, '{needle}' in '{p.stderr.strip()}'")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pelkc", required=True)
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    os.environ["PELKC_BIN"] = os.path.abspath(a.pelkc)
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "little")
    print(f"seed: {seed}  (reproduce with --seed {seed}); cache: {pelkc_train.cache_dir()}")
    gen = torch.Generator().manual_seed(seed)
    for force, path in PATHS:
        os.environ["PELKC_TRAIN_LANES"] = force  # read by the kernels at every call
        for case in CASES:
            check_case(case, gen, path)
    del os.environ["PELKC_TRAIN_LANES"]
    check_errors(a.pelkc, gen)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
