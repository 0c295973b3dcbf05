#!/usr/bin/python3
"""python/torch_peer.py: which BLAS PyTorch calls, and the refusal to print a ratio on the reference.

  test_torch_peer.py

  * this machine, after scripts/setup.sh: the BLAS torch's sgemm_ binds to is a real, optimised
    library (not the reference), and refusal() lets a ratio through;
  * the same detection in a child process whose libblas.so.3 is forced to Debian's reference
    BLAS (LD_LIBRARY_PATH=.../blas, where libblas3 is installed): it names the reference and
    refusal() gives the reason; bench/conv_vs_torch.py then prints torch's times, the word
    `refused` instead of its ratio and the warning, and exits with status 2;
  * the decision and the naming on given descriptions (no library loaded): reference, OpenBLAS,
    BLIS's Debian copy, an unknown file;
  * prefer_avx512() after torch is imported is an error (OpenBLAS and ATen have chosen already).
No timing is checked: the benchmark runs one tiny layer only to reach its refusal.
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
import torch_peer  # noqa: E402

REFERENCE_DIR = "/usr/lib/x86_64-linux-gnu/blas"
failures = []


def expect(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def peer_with(blas):
    return {"torch": "1.13", "blas": blas, "capability": "AVX512", "onednn": "on", "env": {}}


def check_this_machine():
    import torch  # noqa: F401  (loads libtorch_cpu and its BLAS)
    peer = torch_peer.describe()
    b = peer["blas"]
    print("  " + "\n  ".join(torch_peer.describe_lines(peer)))
    expect(os.path.isfile(b["path"]), f"torch's sgemm_ comes from a file: {b['path']}")
    expect(b["name"] not in (torch_peer.REFERENCE, "unknown BLAS"), f"an optimised BLAS: {b['name']}")
    expect(torch_peer.refusal(peer) is None, "refusal() lets the ratio through")
    expect(peer["capability"] != "?", f"ATen reports its CPU capability: {peer['capability']}")
    try:
        torch_peer.prefer_avx512()
        expect(False, "prefer_avx512() after importing torch raises")
    except RuntimeError as e:
        expect("before" in str(e), f"prefer_avx512() after importing torch raises: {e}")


def check_forced_reference():
    if not os.path.isfile(os.path.join(REFERENCE_DIR, "libblas.so.3")):
        print(f"skip the forced-reference checks: no {REFERENCE_DIR}/libblas.so.3 (libblas3 not installed)")
        return
    env = dict(os.environ, LD_LIBRARY_PATH=REFERENCE_DIR)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import torch_peer, torch; p = torch_peer.describe();"
            " print(p['blas']['name']); print(p['blas']['path']); print(torch_peer.refusal(p))")
    out = subprocess.run([sys.executable, "-c", code, os.path.join(ROOT, "python")], env=env,
                         capture_output=True, text=True)
    lines = out.stdout.splitlines()
    expect(out.returncode == 0 and len(lines) == 3, f"the child describes its peer ({out.stderr.strip()[-200:]})")
    if len(lines) == 3:
        expect(lines[0] == torch_peer.REFERENCE, f"forced libblas3 is named the reference: {lines[0]}")
        expect(lines[1].startswith(REFERENCE_DIR), f"and its path is the reference's: {lines[1]}")
        expect("no pelkc/PyTorch ratio" in lines[2], f"refusal() refuses: {lines[2][:80]}...")
    cmd = [sys.executable, os.path.join(ROOT, "bench", "conv_vs_torch.py"), "--torch-only", "--kernels", "3",
           "--channels", "2", "--size", "8x8", "--iters", "1", "--min-time", "0", "--rounds", "1",
           "--markdown", "", "--svg", ""]
    bench = subprocess.run(cmd, env=env, capture_output=True, text=True)
    table = [ln.split() for ln in bench.stdout.splitlines() if ln.lstrip().startswith("3 ")]
    expect(bench.returncode == 2, f"conv_vs_torch.py on the reference BLAS exits 2 (got {bench.returncode})")
    expect(len(table) == 1 and all(is_number(c) for c in table[0][4:7]) and table[0][-2] == "refused",
           f"its row has torch's three times and 'refused' for the ratio: {table}")
    expect(bench.stdout.count("WARNING: PyTorch's BLAS is the reference") == 2,
           "the warning is printed before the measurements and after the table")


def check_decisions():
    ref = torch_peer._by_name("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0")
    expect(ref["name"] == torch_peer.REFERENCE and ref["version"] == "3.11.0", f"Debian's libblas3: {ref}")
    expect(torch_peer._by_name("/opt/netlib/lib/librefblas.so")["name"] == torch_peer.REFERENCE,
           "a librefblas elsewhere is the reference")
    blis = torch_peer._by_name("/usr/lib/x86_64-linux-gnu/blis-pthread/libblas.so.3")
    expect(blis["name"] == "BLIS" and blis["threading"] == "pthread", f"BLIS's Debian copy: {blis}")
    expect(torch_peer._by_name("/opt/vendor/libvblas.so.2")["name"] == "unknown BLAS", "an unknown file")
    why = torch_peer.refusal(peer_with(dict(ref, path="/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0")))
    expect(why is not None and "libopenblas0-pthread" in why, "a reference description is refused, with the fix")
    openblas = {"name": "OpenBLAS", "version": "0.3.21", "threading": "pthreads", "kernels": "SkylakeX",
                "threads": 2, "path": "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3"}
    expect(torch_peer.refusal(peer_with(openblas)) is None, "an OpenBLAS description is not refused")
    line = torch_peer.describe_lines(peer_with(openblas))[0]
    expect("OpenBLAS 0.3.21 (pthreads, 2 threads, kernels SkylakeX)" in line, f"the BLAS line: {line}")


def main():
    check_decisions()
    check_forced_reference()
    check_this_machine()
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
