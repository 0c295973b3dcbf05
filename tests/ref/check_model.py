#!/usr/bin/python3
"""Compile a spec with pelkc and compare its output against the float64 reference.

  check_model.py --pelkc PATH_TO_PELKC SPEC [--batch N] [--seed S] [--workdir DIR] [--tol T]
                 [--bn] [--small S] [--compiler cc|clang|tcc] [--backend c|llvm] [--march ARCH]
                 [--target c|cuda-emulate|cuda] [--periph lowered|dense] [--fake-driver LIB]

Steps: random weights (safetensors) and a random std-normal float32 input [N, C, H, W] from one
seed, `pelkc compile SPEC --weights W -o DIR/model.so --target T --periph P`, `pelkc run DIR/model.so --input X.npy
--output Y.npy`, then the float64 reference (pelk_ref.forward) on the same weights and input.
--compiler clang builds the .so with `--cc clang`; --compiler tcc skips the .so and runs
`pelkc run SPEC --weights W --input X.npy --output Y.npy` (compiled in process by libtcc).
With --backend llvm the .so is compiled with `--backend llvm`, and the same weights and input also
go through the in-process JIT (`pelkc run SPEC --backend llvm --weights W --input X.npy --output
Y_jit.npy`); both outputs are checked against the reference with the same tolerance. --march is
passed to pelkc as is.

Prints the seed (fresh from os.urandom unless --seed is given, so any failure can be reproduced),
the time of each step and `rel_l2: <value>` = ||y - ref||_2 / ||ref||_2.
Exit status: 0 if rel_l2 < tol (1e-5), 1 if not (or the output has the wrong shape or is not
finite), 2 if pelkc fails (its stderr is printed).
If --batch is not given, a `# batch: N` comment line in the spec is used, else batch 1.
--bn and --small S add the training-time parts of a checkpoint to every block with a conv: a
BatchNorm after the peripheral conv (--bn), a parallel S x S small kernel (--small S), and with
both a BatchNorm after the small kernel (pelk_ref.random_weights / weight_shapes). The base weights
are the same as without the flags for the same seed; the input differs.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pelk_ref  # noqa: E402


def spec_batch(path):
    """The batch named by a `# batch: N` comment line of a spec, or None."""
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*#\s*batch\s*:\s*(\d+)\s*$", line)
            if m:
                return int(m.group(1))
    return None


class Step:
    """Context manager that prints how long a step took."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        print(f"time {self.name}: {time.perf_counter() - self.t0:.3f} s", flush=True)
        return False


def run_pelkc(cmd, env=None):
    """Run one pelkc command; return None on success, else a failure description."""
    print("$ " + " ".join(cmd), flush=True)
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    except OSError as e:
        return f"cannot run {cmd[0]}: {e}"
    if p.stdout:
        sys.stdout.write(p.stdout.decode(errors="replace"))
    if p.returncode != 0:
        return f"exit status {p.returncode}\n--- stderr ---\n{p.stderr.decode(errors='replace')}"
    if p.stderr:  # warnings are worth seeing even on success
        sys.stderr.write(p.stderr.decode(errors="replace"))
    return None


def compare(y, ref, want, tol, label):
    """Check one pelkc output against the reference; 0 pass, 1 fail."""
    print(f"-- {label}")
    if y.shape != want:
        print(f"FAIL: pelkc output shape {y.shape} (dtype {y.dtype}), expected {want}")
        return 1
    if y.dtype != np.float32:
        print(f"note: pelkc output dtype is {y.dtype}, expected float32")
    if not np.all(np.isfinite(y)):
        print(f"FAIL: pelkc output has {np.sum(~np.isfinite(y))} non-finite values")
        return 1
    y = y.astype(np.float64)
    rel = float(np.linalg.norm(y - ref) / np.linalg.norm(ref))
    print(f"max_abs_err: {np.max(np.abs(y - ref)):.3e}  ref_rms: {np.sqrt(np.mean(ref ** 2)):.3e}")
    if want[0] > 1:  # a per-sample error helps to spot batch-indexing bugs
        per = np.linalg.norm(y - ref, axis=1) / np.linalg.norm(ref, axis=1)
        print("rel_l2 per sample: " + " ".join(f"{v:.3e}" for v in per))
    print(f"rel_l2: {rel:.6e}")
    ok = rel < tol
    print(("PASS" if ok else "FAIL") + f" (tolerance {tol:g})")
    return 0 if ok else 1


def check(pelkc, spec_path, batch, seed, workdir, tol, bn=False, small=None, compiler="cc", target="c",
          periph="lowered", fake_driver=None, backend="c", march=None):
    print(f"spec: {spec_path}  compiler: {compiler}  backend: {backend}  target: {target}  periph: {periph}"
          + (f"  march: {march}" if march else ""))
    extra = (" --bn" if bn else "") + (f" --small {small}" if small is not None else "")
    if extra:
        print("training-time parts:" + (" BatchNorm" if bn else "") + (f" small {small}x{small}" if small is not None else "")
              + (" + small BatchNorm" if bn and small is not None else ""))
    print(f"seed: {seed}  (reproduce with --seed {seed} --batch {batch}{extra} --compiler {compiler}"
          f" --backend {backend} --target {target} --periph {periph}" + (f" --march {march})" if march else ")"))
    spec = pelk_ref.load_spec(spec_path)
    rng = np.random.default_rng(seed)
    wpath = os.path.join(workdir, "weights.safetensors")
    xpath = os.path.join(workdir, "input.npy")
    ypath = os.path.join(workdir, "output.npy")
    rpath = os.path.join(workdir, "reference.npy")
    so = os.path.join(workdir, "model.so")

    with Step("weights+input"):
        weights = pelk_ref.random_weights(spec, rng, bn=bn, small=small)
        meta = {"spec": spec["name"], "seed": seed}
        if extra:
            meta.update(bn=bn, small=small)
        pelk_ref.save_safetensors(wpath, weights, meta)
        shape = (batch, spec["input"]["channels"], spec["input"]["height"], spec["input"]["width"])
        x = rng.standard_normal(shape).astype(np.float32)
        np.save(xpath, x)

    err = None
    flags = ["--target", target, "--periph", periph, "--backend", backend] + (["--march", march] if march else [])
    if compiler != "tcc":
        with Step("pelkc compile"):
            err = run_pelkc([pelkc, "compile", spec_path, "--weights", wpath, "-o", so, "--cc", compiler] + flags)
    env = None
    if fake_driver and not err:  # the stand-in driver runs the emulated build's host kernels
        emu = os.path.join(workdir, "model_emulated.so")
        err = run_pelkc([pelkc, "compile", spec_path, "--weights", wpath, "-o", emu, "--target",
                         "cuda-emulate", "--periph", periph])
        env = dict(os.environ, PELKC_CUDA_LIBRARY=os.path.abspath(fake_driver),
                   PELKC_FAKE_CUDA_EMULATED=os.path.abspath(emu))
    if err:
        print(f"FAIL: pelkc compile: {err}")
        return 2
    with Step("pelkc run"):
        model = [so] if compiler != "tcc" else [spec_path, "--weights", wpath, "--periph", periph]
        err = run_pelkc([pelkc, "run", *model, "--input", xpath, "--output", ypath], env)
    if err is None and not os.path.exists(ypath):
        err = f"no output file {ypath}"
    if err:
        print(f"FAIL: pelkc run: {err}")
        return 2
    outputs = [("the .so", ypath)]
    if backend == "llvm":
        jpath = os.path.join(workdir, "output_jit.npy")
        with Step("pelkc run --backend llvm (JIT)"):
            err = run_pelkc([pelkc, "run", spec_path, "--backend", "llvm", "--weights", wpath,
                             "--input", xpath, "--output", jpath] + (["--march", march] if march else []))
        if err is None and not os.path.exists(jpath):
            err = f"no output file {jpath}"
        if err:
            print(f"FAIL: pelkc run --backend llvm: {err}")
            return 2
        outputs.append(("the JIT", jpath))

    with Step("reference (float64)"):
        pelk_ref.set_threads()
        ref = pelk_ref.forward(spec, weights, x).numpy()
        np.save(rpath, ref)

    want = (batch, spec["head"]["classes"])
    rc = 0
    for label, path in outputs:
        rc |= compare(np.load(path), ref, want, tol, f"{backend} backend, {label}")
    return rc


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pelkc", required=True, help="path to the pelkc executable")
    ap.add_argument("spec")
    ap.add_argument("--batch", type=int, default=None, help="default: the spec's '# batch: N' comment, else 1")
    ap.add_argument("--seed", type=int, default=None, help="default: fresh from os.urandom")
    ap.add_argument("--workdir", default=None, help="keep the files here (default: a temporary directory)")
    ap.add_argument("--tol", type=float, default=1e-5, help="relative L2 tolerance (default 1e-5)")
    ap.add_argument("--bn", action="store_true", help="weights with a BatchNorm after every conv (and small conv)")
    ap.add_argument("--small", type=int, default=None, metavar="S", help="weights with a parallel S x S kernel (S odd)")
    ap.add_argument("--compiler", choices=["cc", "clang", "tcc"], default="cc",
                    help="cc or clang: a .so by that compiler; tcc: in process by pelkc run SPEC")
    ap.add_argument("--target", default="c", choices=["c", "cuda-emulate", "cuda"],
                    help="pelkc compile --target: the C backend, the GPU kernels run on the CPU, or "
                         "the CUDA build (needs a GPU, or --fake-driver)")
    ap.add_argument("--fake-driver", default=None, metavar="LIB",
                    help="with --target cuda: run through this stand-in libcuda (tests/gpu/fake_libcuda.c), "
                         "which runs the kernels of an emulated build of the same weights")
    ap.add_argument("--periph", default="lowered", choices=["lowered", "dense"],
                    help="pelkc compile --periph: peripheral convs lowered (default) or dense")
    ap.add_argument("--backend", choices=["c", "llvm"], default="c", help="pelkc's backend (llvm: the .so and the JIT)")
    ap.add_argument("--march", default=None, help="pelkc's --march (default: pelkc's, native)")
    a = ap.parse_args(argv)

    batch = a.batch if a.batch is not None else (spec_batch(a.spec) or 1)
    if batch < 1:
        ap.error("--batch must be >= 1")
    if a.small is not None and (a.small < 1 or a.small % 2 == 0):
        ap.error("--small must be odd and >= 1")
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "little")
    pelkc = os.path.abspath(a.pelkc) if os.path.sep in a.pelkc else (shutil.which(a.pelkc) or a.pelkc)

    t0 = time.perf_counter()
    if a.workdir:
        os.makedirs(a.workdir, exist_ok=True)
        rc = check(pelkc, a.spec, batch, seed, a.workdir, a.tol, a.bn, a.small, a.compiler, a.target, a.periph,
                   a.fake_driver, a.backend, a.march)
    else:
        with tempfile.TemporaryDirectory(prefix="pelk_check_") as d:
            rc = check(pelkc, a.spec, batch, seed, d, a.tol, a.bn, a.small, a.compiler, a.target, a.periph,
                       a.fake_driver, a.backend, a.march)
    print(f"time total: {time.perf_counter() - t0:.3f} s")
    return rc


if __name__ == "__main__":
    sys.exit(main())
