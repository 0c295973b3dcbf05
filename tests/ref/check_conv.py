#!/usr/bin/python3
"""Check `pelkc conv` (one peripheral depthwise conv layer) against a float64 reference.

  check_conv.py --pelkc PATH [--seed S] [--suite small|large ...] [--workdir DIR] [--tol T] [--backend c|llvm]
                [--ref auto|direct|fft] [--list] [CASE ...]

A CASE is a YAML flow mapping; only kernel and size are required, e.g.
  '{kernel: 13, grid: {center: 5, base: 2}, channels: 2, size: 16x9, batch: 2, kpe: border, periph: dense}'
  '{kernel: 7, grid: {rows: [1, 2, 4], cols: {center: 3, base: 2}}, size: 5x5, offset: 100}'
keys (defaults): kernel, size (HxW: H rows, W cols), grid ({center: 5, base: 2}; any spec grid
form: a rule, a list, or {rows: ..., cols: ...}), channels (2), batch (1), kpe (none | constant |
border), periph (lowered | dense), offset (0: the input is offset + N(0,1)), omit_defaults (false:
when true, --periph / --kpe are left out of the command line if they equal pelkc's defaults
lowered / none, which checks those defaults).

For each case: random compact weights `weight` [C, 1, k'_rows, k'_cols] (std 1/k, so the k x k
dense kernel has fan-in scaling and outputs are O(1)), `bias` [C] (std 0.3) and, for kpe constant
/ border, `kpe` [C, K, K] (std 0.3), all float32 in a safetensors file; a float32 input
[N, C, H, W] = offset + N(0,1) in a .npy; then
  pelkc conv --kernel K --grid GRID --channels C --size HxW --weights W.safetensors
             --input X.npy --output Y.npy --periph P --kpe KPE
and the float64 reference on the same (float32) values: the compact kernel expanded by the grid
(paper Eq. 1) and a dense depthwise conv (stride 1, zero padding K//2, bias); kpe constant adds h
at every tap (padding included), border only at taps inside the image (as in pelk_ref.py). The
dense conv is F.conv2d in float64 when its im2col buffer is small, else float64 FFTs
(pelk_ref.peripheral_conv_fft, checked against F.conv2d in test_reference.py); --ref forces one.

One line per case with rel_l2 = ||y - ref||_2 / ||ref||_2. Exit status 0 if every case has
rel_l2 < tol (1e-5), 1 if some case does not (or its output has the wrong shape / is not finite),
2 if pelkc fails on some case (its stderr is printed). The seed is fresh from os.urandom unless
--seed is given, and printed; each case's data depend only on the seed and the case itself, so a
failing case can be rerun alone with the printed --seed and CASE.

Suites (--suite, repeatable; --list prints them):
  small: maps 7x7, 13x9, 16x16, 33x20; kernels 3, 5, 13, 31, 51 (many larger than the map); rule
         grids base 2 and 3, centre wider than the kernel (dense), symmetric and asymmetric lists,
         rows != cols of different lengths, a rule on one axis and a list on the other; kpe
         none / constant / border; batch 1 and 2; periph lowered and dense; input offset 100.
  large: 512x128 (segmentation size) with K = 51 and 151 and input offset 100; 56x56 with
         K = 101 and 151, C = 4; both periph modes.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np
import torch
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pelk_ref  # noqa: E402

KEYS = ("kernel", "grid", "channels", "size", "batch", "kpe", "periph", "offset", "omit_defaults")
DEFAULTS = {"grid": {"center": 5, "base": 2}, "channels": 2, "batch": 1, "kpe": "none",
            "periph": "lowered", "offset": 0, "omit_defaults": False}
PERIPH_MODES = ("lowered", "dense")
# Above this many im2col entries (K*K*H*W doubles per channel) the reference uses float64 FFTs.
DIRECT_MAX = 2.5e7


def C(kernel, grid, size, channels=2, batch=1, kpe="none", periph="lowered", offset=0, omit_defaults=False):
    return {"kernel": kernel, "grid": grid, "channels": channels, "size": size, "batch": batch, "kpe": kpe,
            "periph": periph, "offset": offset, "omit_defaults": omit_defaults}


R2 = {"center": 5, "base": 2}
SUITES = {
    "small": [
        # kernel 3
        C(3, R2, "7x7", kpe="none"),                                     # rule: centre 5 > kernel 3 -> dense
        C(3, [2, 1], "13x9", channels=1, batch=2, kpe="border", periph="dense"),  # asymmetric list, k' = 2
        C(3, [1, 1, 1], "16x16", channels=3, kpe="constant"),
        # kernel 5
        C(5, {"center": 7, "base": 2}, "7x7", batch=2, kpe="border"),  # centre wider than the kernel
        C(5, [1, 3, 1], "13x9", kpe="constant"),                        # wide central region
        C(5, {"rows": [2, 1, 2], "cols": [1, 4]}, "33x20", kpe="border", periph="dense"),
        # kernel 13
        C(13, R2, "7x7", batch=2, kpe="border"),                         # kernel > map
        C(13, R2, "16x16", channels=3, kpe="constant", periph="dense"),
        C(13, {"center": 3, "base": 3}, "13x9", kpe="none"),             # base 3: 2 3 1 1 1 3 2
        C(13, [3, 2, 1, 1, 1, 2, 3], "16x16", batch=2, kpe="border"),   # symmetric list
        C(13, [4, 1, 1, 3, 2, 2], "13x9", kpe="constant"),              # asymmetric list, even k'
        C(13, {"rows": {"center": 3, "base": 3}, "cols": [6, 1, 6]}, "33x20", channels=1, batch=2, kpe="border"),
        C(13, {"rows": [1, 2, 1, 1, 1, 2, 5], "cols": R2}, "13x9", kpe="constant", periph="dense"),
        C(13, {"center": 15, "base": 2}, "16x16", kpe="border"),         # centre wider than the kernel
        # kernel 31
        C(31, R2, "33x20", kpe="border"),
        C(31, R2, "13x9", channels=3, batch=2, kpe="constant"),          # kernel > map
        C(31, {"center": 3, "base": 3}, "16x16", kpe="border", periph="dense"),  # 2 9 3 1 1 1 3 9 2
        C(31, [10, 5, 3, 1, 1, 1, 2, 8], "33x20", kpe="none", offset=100),  # large common offset
        C(31, {"rows": [7, 4, 2, 1, 1, 1, 1, 1, 2, 4, 7], "cols": [15, 1, 15]}, "7x7", kpe="border"),
        # kernel 51 (larger than every map)
        C(51, R2, "16x16", kpe="border"),
        C(51, {"center": 1, "base": 3}, "33x20", batch=2, kpe="constant"),  # 12 9 3 1 1 1 3 9 12
        C(51, {"rows": {"center": 7, "base": 2}, "cols": [20, 5, 1, 1, 1, 23]}, "13x9", kpe="border", periph="dense"),
        C(51, R2, "7x7", channels=1, kpe="none", omit_defaults=True),    # pelkc's defaults: lowered, none
        C(51, [9, 8, 4, 2, 1, 1, 1, 1, 1, 2, 4, 8, 9], "33x20", kpe="constant", offset=100),
        C(51, R2, "33x20", kpe="border", periph="dense", offset=100),
    ],
    "large": [
        C(51, R2, "512x128", channels=3, kpe="border", periph="lowered", offset=100),
        C(51, R2, "512x128", channels=3, kpe="constant", periph="dense", offset=100),
        C(151, {"center": 7, "base": 2}, "512x128", channels=2, kpe="constant", periph="lowered", offset=100),
        C(151, {"center": 7, "base": 2}, "512x128", channels=2, kpe="border", periph="dense", offset=100),
        C(101, {"center": 7, "base": 2}, "56x56", channels=4, kpe="border", periph="lowered"),
        C(101, {"center": 7, "base": 2}, "56x56", channels=4, kpe="constant", periph="dense"),
        C(151, R2, "56x56", channels=4, kpe="constant", periph="lowered"),
        C(151, R2, "56x56", channels=4, kpe="border", periph="dense"),
    ],
}


# ----------------------------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------------------------

def parse_size(size):
    try:
        h, w = (int(v) for v in str(size).lower().split("x"))
    except ValueError:
        raise ValueError(f"size must be HxW, got {size!r}")
    if h < 1 or w < 1:
        raise ValueError(f"size must be positive, got {size!r}")
    return h, w


def normalise_case(case):
    """A case dict (from a suite or a CASE string) with defaults filled in and values checked."""
    if isinstance(case, str):
        case = yaml.safe_load(case)
    if not isinstance(case, dict):
        raise ValueError(f"a case must be a YAML mapping, got {case!r}")
    unknown = set(case) - set(KEYS)
    if unknown:
        raise ValueError(f"unknown case keys {sorted(unknown)} (known: {', '.join(KEYS)})")
    for need in ("kernel", "size"):
        if need not in case:
            raise ValueError(f"case {case} needs '{need}'")
    c = dict(DEFAULTS)
    c.update(case)
    c["kernel"], c["channels"], c["batch"] = int(c["kernel"]), int(c["channels"]), int(c["batch"])
    c["size"] = "x".join(map(str, parse_size(c["size"])))
    off = float(c["offset"])
    c["offset"] = int(off) if off.is_integer() else off
    c["omit_defaults"] = bool(c["omit_defaults"])
    if c["kpe"] not in pelk_ref.KPE_MODES:
        raise ValueError(f"kpe must be one of {pelk_ref.KPE_MODES}, got {c['kpe']!r}")
    if c["periph"] not in PERIPH_MODES:
        raise ValueError(f"periph must be one of {PERIPH_MODES}, got {c['periph']!r}")
    if c["channels"] < 1 or c["batch"] < 1:
        raise ValueError("channels and batch must be >= 1")
    pelk_ref.resolve_grid(c["kernel"], c["grid"])  # raises on a bad grid
    return c


def fmt_grid(g):
    """A grid in the spec's YAML flow syntax: {center: 5, base: 2}, [9,8,4,...], {rows: ..., cols: ...}."""
    if isinstance(g, dict) and ("rows" in g or "cols" in g):
        return "{rows: %s, cols: %s}" % (fmt_grid(g["rows"]), fmt_grid(g["cols"]))
    if isinstance(g, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in g.items()) + "}"
    return "[" + ",".join(str(int(v)) for v in g) + "]"


def fmt_case(c):
    """A case as a CASE string (YAML flow mapping) that normalise_case reads back."""
    parts = [f"kernel: {c['kernel']}", f"grid: {fmt_grid(c['grid'])}", f"channels: {c['channels']}",
             f"size: {c['size']}", f"batch: {c['batch']}", f"kpe: {c['kpe']}", f"periph: {c['periph']}"]
    if c["offset"]:
        parts.append(f"offset: {c['offset']}")
    if c["omit_defaults"]:
        parts.append("omit_defaults: true")
    return "{" + ", ".join(parts) + "}"


def case_rng(seed, c):
    """The case's random generator: depends on the seed and the case only (not on its position)."""
    key = json.dumps(c, sort_keys=True)
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def make_data(seed, c):
    """(weights dict of float32 arrays, float32 input) for a normalised case."""
    rng = case_rng(seed, c)
    k, ch = c["kernel"], c["channels"]
    rows, cols = pelk_ref.resolve_grid(k, c["grid"])
    H, W = parse_size(c["size"])
    w = {"weight": (rng.standard_normal((ch, 1, len(rows), len(cols))) / k).astype(np.float32),
         "bias": (rng.standard_normal(ch) * 0.3).astype(np.float32)}
    if c["kpe"] != "none":
        w["kpe"] = (rng.standard_normal((ch, k, k)) * 0.3).astype(np.float32)
    x = (c["offset"] + rng.standard_normal((c["batch"], ch, H, W))).astype(np.float32)
    return w, x


def reference(c, w, x, method="auto"):
    """Float64 reference output [N, C, H, W] and the method used ('direct' = F.conv2d, 'fft')."""
    rows, cols = pelk_ref.resolve_grid(c["kernel"], c["grid"])
    H, W = parse_size(c["size"])
    if method == "auto":
        method = "direct" if c["kernel"] ** 2 * H * W <= DIRECT_MAX else "fft"
    fn = {"direct": pelk_ref.peripheral_conv, "fft": pelk_ref.peripheral_conv_fft}[method]
    t = {n: torch.as_tensor(v, dtype=torch.float64) for n, v in w.items()}
    with torch.no_grad():
        y = fn(torch.as_tensor(x, dtype=torch.float64), t["weight"], t["bias"], rows, cols, t.get("kpe"), c["kpe"])
    return y.numpy(), method


PELKC_EXTRA = []  # e.g. ["--cc", "tcc"] (main's --cc)


def pelkc_command(pelkc, c, wpath, xpath, ypath, backend="c"):
    cmd = [pelkc, "conv", "--kernel", str(c["kernel"]), "--grid", fmt_grid(c["grid"]),
           "--channels", str(c["channels"]), "--size", c["size"],
           "--weights", wpath, "--input", xpath, "--output", ypath]
    if not (c["omit_defaults"] and c["periph"] == "lowered"):
        cmd += ["--periph", c["periph"]]
    if not (c["omit_defaults"] and c["kpe"] == "none"):
        cmd += ["--kpe", c["kpe"]]
    if backend != "c":
        cmd += ["--backend", backend]
    return cmd + PELKC_EXTRA


def shell_quote(a):
    return a if all(ch.isalnum() or ch in "-_./=:x" for ch in a) else "'" + a.replace("'", "'\\''") + "'"


# ----------------------------------------------------------------------------------------------
# Running
# ----------------------------------------------------------------------------------------------

def run_case(pelkc, seed, c, workdir, tol, method, verbose, backend="c"):
    """Run one case. Returns (status, rel, t_pelkc, t_ref): status 0 ok, 1 mismatch, 2 pelkc failed."""
    wpath = os.path.join(workdir, "weights.safetensors")
    xpath = os.path.join(workdir, "input.npy")
    ypath = os.path.join(workdir, "output.npy")
    if os.path.exists(ypath):
        os.remove(ypath)
    w, x = make_data(seed, c)
    pelk_ref.save_safetensors(wpath, w, {"case": fmt_case(c), "seed": seed})
    np.save(xpath, x)
    cmd = pelkc_command(pelkc, c, wpath, xpath, ypath, backend)
    if verbose:
        print("  $ " + " ".join(shell_quote(a) for a in cmd), flush=True)

    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        err = None if p.returncode == 0 else f"exit status {p.returncode}"
    except OSError as e:
        p, err = None, f"cannot run {pelkc}: {e}"
    t_pelkc = time.perf_counter() - t0
    if err is None and not os.path.exists(ypath):
        err = f"no output file {ypath}"

    t0 = time.perf_counter()
    ref, used = reference(c, w, x, method)
    t_ref = time.perf_counter() - t0

    head = f"{fmt_case(c)}  [pelkc {t_pelkc:.2f}s, ref {t_ref:.2f}s {used}]"
    if err:
        print(f"ERROR pelkc failed: {err}  {head}")
        print("  $ " + " ".join(shell_quote(a) for a in cmd))
        if p is not None:
            if p.stdout:
                print("  --- stdout ---\n" + p.stdout.decode(errors="replace").rstrip())
            print("  --- stderr ---\n" + p.stderr.decode(errors="replace").rstrip())
        return 2, None, t_pelkc, t_ref
    if p.stderr and verbose:
        sys.stdout.write(p.stderr.decode(errors="replace"))
    try:
        y = np.load(ypath)
    except Exception as e:  # noqa: BLE001 - any unreadable output is a failure of pelkc's output
        print(f"FAIL  cannot read output: {e}  {head}")
        return 1, None, t_pelkc, t_ref
    if y.shape != ref.shape:
        print(f"FAIL  output shape {y.shape} (dtype {y.dtype}), expected {ref.shape}  {head}")
        return 1, None, t_pelkc, t_ref
    note = "" if y.dtype == np.float32 else f"  (note: output dtype {y.dtype}, expected float32)"
    if not np.all(np.isfinite(y)):
        print(f"FAIL  {np.sum(~np.isfinite(y))} non-finite values  {head}")
        return 1, None, t_pelkc, t_ref
    y = y.astype(np.float64)
    rel = float(np.linalg.norm(y - ref) / np.linalg.norm(ref))
    mx = float(np.max(np.abs(y - ref)))
    ok = rel < tol
    print(f"{'PASS' if ok else 'FAIL'}  rel_l2={rel:.3e} max_abs={mx:.2e}  {head}{note}")
    if not ok and c["batch"] > 1:  # a per-sample error helps to spot batch-indexing bugs
        per = [np.linalg.norm(y[n] - ref[n]) / np.linalg.norm(ref[n]) for n in range(c["batch"])]
        print("  rel_l2 per sample: " + " ".join(f"{v:.3e}" for v in per))
    if not ok:
        per = [np.linalg.norm(y[:, i] - ref[:, i]) / np.linalg.norm(ref[:, i]) for i in range(c["channels"])]
        print("  rel_l2 per channel: " + " ".join(f"{v:.3e}" for v in per))
    return (0 if ok else 1), rel, t_pelkc, t_ref


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pelkc", help="path to the pelkc executable (not needed with --list)")
    ap.add_argument("cases", nargs="*", metavar="CASE", help="YAML mapping, e.g. '{kernel: 13, size: 16x16}'")
    ap.add_argument("--suite", action="append", default=[], choices=sorted(SUITES), help="a predefined list of cases")
    ap.add_argument("--seed", type=int, default=None, help="default: fresh from os.urandom")
    ap.add_argument("--tol", type=float, default=1e-5, help="relative L2 tolerance (default 1e-5)")
    ap.add_argument("--ref", choices=["auto", "direct", "fft"], default="auto",
                    help="float64 reference method (default: F.conv2d if its im2col is small, else FFT)")
    ap.add_argument("--workdir", default=None, help="keep each case's files in DIR/caseNN (default: a temporary directory)")
    ap.add_argument("--list", action="store_true", help="print the cases and exit")
    ap.add_argument("--backend", choices=["c", "llvm"], default="c",
                    help="pelkc's backend (llvm: `pelkc conv --backend llvm`, the in-process JIT)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print each pelkc command line")
    ap.add_argument("--cc", default=None, help="pass --cc CC to pelkc conv (tcc: compiled in process)")
    a = ap.parse_args(argv)
    if a.cc:
        PELKC_EXTRA[:] = ["--cc", a.cc]

    try:
        cases = [normalise_case(c) for s in a.suite for c in SUITES[s]] + [normalise_case(c) for c in a.cases]
    except (ValueError, yaml.YAMLError) as e:
        ap.error(str(e))
    if not cases:
        ap.error("no cases: give CASE arguments or --suite")
    if a.list:
        for c in cases:
            print(fmt_case(c))
        return 0
    if not a.pelkc:
        ap.error("--pelkc is required")
    pelkc = os.path.abspath(a.pelkc) if os.path.sep in a.pelkc else (shutil.which(a.pelkc) or a.pelkc)
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "little")
    print(f"backend: {a.backend}; seed: {seed}  (reproduce with --seed {seed} --backend {a.backend}; a single case with --seed {seed} 'CASE')", flush=True)
    pelk_ref.set_threads()

    t0 = time.perf_counter()
    worst, statuses, tp, tr = None, [], 0.0, 0.0
    tmp = None if a.workdir else tempfile.TemporaryDirectory(prefix="pelk_conv_")
    root = a.workdir or tmp.name
    try:
        for i, c in enumerate(cases):
            d = os.path.join(root, f"case{i:02d}")
            os.makedirs(d, exist_ok=True)
            sys.stdout.write(f"[{i + 1:2d}/{len(cases)}] ")
            st, rel, t1, t2 = run_case(pelkc, seed, c, d, a.tol, a.ref, a.verbose, a.backend)
            sys.stdout.flush()
            statuses.append(st)
            tp, tr = tp + t1, tr + t2
            if rel is not None:
                worst = rel if worst is None else max(worst, rel)
    finally:
        if tmp:
            tmp.cleanup()
    n_fail, n_err = statuses.count(1), statuses.count(2)
    print(f"{len(cases)} cases: {statuses.count(0)} passed, {n_fail} failed, {n_err} pelkc errors; "
          f"worst rel_l2 {'n/a' if worst is None else f'{worst:.3e}'} (tolerance {a.tol:g})")
    print(f"time: pelkc {tp:.2f} s, reference {tr:.2f} s, total {time.perf_counter() - t0:.2f} s")
    if n_err or n_fail:
        print(f"seed: {seed}")
    return 2 if n_err else (1 if n_fail else 0)


if __name__ == "__main__":
    sys.exit(main())
