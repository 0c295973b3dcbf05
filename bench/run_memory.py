#!/usr/bin/python3
"""Peak resident memory of `pelkc run` against the bound 1.5 x (weights + largest two activations).

Compiles SPEC with random weights into a temporary .so, runs `pelkc run M.so --batch N --threads T`
(a random input, output to a temporary .npy) and reads the child's peak RSS from wait4(). The
weights are the spec's parameters in float32 (`pelkc check` prints the count); the activations are
the values in `pelkc emit ir` (the IR after every pass: what the compiled model materialises), per
image, times the batch. A measurement, not a test.

Usage (from the repo root):
  /usr/bin/python3 bench/run_memory.py examples/pelk_t.yaml [--batch 1] [--threads 2]
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

VALUE_RE = re.compile(r"^\s*%(\S+): f32\[N,(\d+)(?:,(\d+),(\d+))?\]", re.M)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"run_memory: {' '.join(cmd)} failed: {p.stderr.strip()}")
    return p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("spec")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pelkc", default=os.path.join(os.path.dirname(__file__), "..", "build", "pelkc"))
    a = ap.parse_args()

    params = int(re.search(r"^parameters: (\d+)", run([a.pelkc, "check", a.spec]), re.M).group(1))
    sizes = []
    for m in VALUE_RE.finditer(run([a.pelkc, "emit", "ir", a.spec])):
        c, h, w = int(m.group(2)), int(m.group(3) or 1), int(m.group(4) or 1)
        sizes.append((c * h * w * 4 * a.batch, m.group(1)))
    sizes.sort(reverse=True)
    weights = params * 4
    two = sizes[0][0] + sizes[1][0]
    bound = 1.5 * (weights + two)

    with tempfile.TemporaryDirectory() as tmp:
        so, out = os.path.join(tmp, "m.so"), os.path.join(tmp, "y.npy")
        run([a.pelkc, "compile", a.spec, "--random-weights", "1", "-o", so])
        cmd = [a.pelkc, "run", so, "--batch", str(a.batch), "--threads", str(a.threads), "--output", out]
        child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(child.pid, 0)
        if status != 0:
            sys.exit(f"run_memory: {' '.join(cmd)} failed: {child.stderr.read().decode().strip()}")
        rss = usage.ru_maxrss * 1024  # Linux reports kilobytes

    mb = 1 / 1e6
    print(f"spec {a.spec}, batch {a.batch}, threads {a.threads}")
    print(f"weights: {params} parameters, {weights * mb:.1f} MB as float32")
    print(f"largest two activations: %{sizes[0][1]} {sizes[0][0] * mb:.2f} MB, "
          f"%{sizes[1][1]} {sizes[1][0] * mb:.2f} MB")
    print(f"bound 1.5 x (weights + two activations): {bound * mb:.1f} MB")
    print(f"peak RSS of pelkc run: {rss * mb:.1f} MB = {rss / bound:.2f} of the bound, "
          f"{rss / (weights + two):.2f} x (weights + two activations)")


if __name__ == "__main__":
    main()
