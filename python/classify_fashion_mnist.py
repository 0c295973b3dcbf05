#!/usr/bin/python3
"""Classify the 10,000 Fashion-MNIST test images with a compiled pelkc model and with PyTorch.

  classify_fashion_mnist.py [--pelkc build/pelkc] [--spec examples/fashion_mnist.yaml]
                            [--weights examples/fashion_mnist.safetensors] [--so M.so]
                            [--threads 2] [--batch 100] [--check]

Compiles SPEC with WEIGHTS (`pelkc compile ... -o M.so`, into a temporary directory unless --so
names a file to write), runs the test set through the .so with the Python binding
(python/pelkc.py) and through the PyTorch module (python/pelk_torch.py, float32, eval mode) on the
same threads and batch, and prints each one's accuracy and images per second, the fraction of
images on which the two predict the same class, and how many times faster pelkc is. PyTorch runs
in its fastest form measured for this model (eager under torch.inference_mode(); NCHW vs
channels_last input and torch.jit.trace + freeze were no faster, docs/PERF.md), with the AVX-512
kernels of ATen and OpenBLAS where the CPU has them; the BLAS and ISA it runs on are printed, and on
the reference BLAS (netlib) no ratio is printed, only a warning (python/torch_peer.py). Images per second are wall-clock over the whole
test set (one pass, after one warm-up batch) on a shared machine: a rough figure, not a benchmark.
--check: exit 1 unless both accuracies are >= 90% and the agreement is >= 99.9%.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_peer  # noqa: E402

torch_peer.prefer_avx512()  # before numpy and torch load OpenBLAS and ATen
import numpy as np  # noqa: E402
import torch  # noqa: E402

import fashion_mnist  # noqa: E402
import pelk_torch  # noqa: E402
import pelkc  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def classify(run, x, batch):
    """(predicted classes, images per second) of run(x_batch) -> logits over x."""
    run(x[:batch])  # warm-up
    preds = []
    t0 = time.perf_counter()
    for i in range(0, len(x), batch):
        preds.append(np.asarray(run(x[i:i + batch])).argmax(axis=1))
    return np.concatenate(preds), len(x) / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pelkc", default=os.path.join(ROOT, "build", "pelkc"))
    ap.add_argument("--spec", default=os.path.join(ROOT, "examples", "fashion_mnist.yaml"))
    ap.add_argument("--weights", default=os.path.join(ROOT, "examples", "fashion_mnist.safetensors"))
    ap.add_argument("--so", default=None, help="write the compiled model here (default: a temporary file)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--check", action="store_true", help="fail unless accuracy >= 90%% and agreement >= 99.9%%")
    a = ap.parse_args()

    _, _, x, y = fashion_mnist.load()
    with tempfile.TemporaryDirectory(prefix="pelkc_fmnist_") as d:
        so = a.so or os.path.join(d, "fashion_mnist.so")
        cmd = [a.pelkc, "compile", a.spec, "--weights", a.weights, "-o", so]
        print("$ " + " ".join(cmd), flush=True)
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            sys.stderr.write(p.stderr)
            return 2
        print(f"compiled in {time.perf_counter() - t0:.1f} s")
        model = pelkc.Model(so, threads=a.threads)
        pred_c, ips_c = classify(model.run, x, a.batch)
        model.close()

    torch_peer.set_threads(a.threads)
    peer = torch_peer.describe()
    module = pelk_torch.PeLK.from_safetensors(a.spec, a.weights, impl="dense")  # PyTorch as it is
    with torch.inference_mode():
        pred_t, ips_t = classify(lambda xb: module(torch.from_numpy(xb)).numpy(), x, a.batch)

    acc_c, acc_t = float((pred_c == y).mean()), float((pred_t == y).mean())
    agree = float((pred_c == pred_t).mean())
    print(f"Fashion-MNIST test set: {len(y)} images, batch {a.batch}, {a.threads} thread(s)")
    print(f"  pelkc .so        accuracy {acc_c * 100:6.2f}%   {ips_c:8.0f} images/s")
    print(f"  PyTorch (float32) accuracy {acc_t * 100:6.2f}%   {ips_t:8.0f} images/s"
          "   (eager, inference_mode, NCHW input)")
    print(f"  same class on {np.sum(pred_c == pred_t)} of {len(y)} images ({agree * 100:.2f}%)")
    for line in torch_peer.describe_lines(peer):
        print(f"  {line}")
    refused = torch_peer.refusal(peer)
    print(f"  WARNING: {refused}" if refused else f"  pelkc is {ips_c / ips_t:.2f}x PyTorch's images/s")
    if a.check:
        ok = acc_c >= 0.90 and acc_t >= 0.90 and agree >= 0.999
        print("PASS" if ok else "FAIL: need accuracy >= 90% for both and agreement >= 99.9%")
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
