#!/usr/bin/python3
"""`pelkc sweep`: its CSV against figures computed here, a failing variant reported while the
sweep goes on, the PNG's size, and the all-failed case.

  check_sweep.py PELKC SOURCE_DIR

Parameters (g * k'_rows * k'_cols) and multiply-adds (g * live rows * live cols * H * W, live
regions re-derived from the grid) come from tests/ref/pelk_ref.py's grid rule, not from pelkc.
Timings are only checked to be positive: tiny sizes, --iters 2 (benchmarks are not tests).
"""
import csv
import os
import struct
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ref"))
import pelk_ref  # noqa: E402

PELKC, SRC = sys.argv[1], sys.argv[2]
SPEC = os.path.join(SRC, "tests/specs/v12_one_stage_mlp2p5_nokpe.yaml")
failures = []


def expect(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def live(grid, extent):
    r, p, n = sum(grid) // 2, 0, 0
    for s in grid:
        n += p - r <= extent - 1 and p - r + s >= 2 - extent
        p += s
    return n


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


spec = pelk_ref.load_spec(SPEC)
st = spec["stages"][0]
g, h, w = st["g"], st["height"], st["width"]
grids = ["{center: 5, base: 2}", "[1, 2, 3]", "{rows: {center: 3, base: 2}, cols: [5, 1, 5]}"]
kernels = [19, 11]

with tempfile.TemporaryDirectory() as t:
    csv_path, png_path = os.path.join(t, "s.csv"), os.path.join(t, "s.png")
    args = [PELKC, "sweep", SPEC, "--stage", "0", "--iters", "2", "--cc", "tcc", "--csv", csv_path,
            "--png", png_path]
    for gr in grids:
        args += ["--grid", gr]
    for k in kernels:
        args += ["--kernel", str(k)]
    out = subprocess.run(args, capture_output=True, text=True)
    expect(out.returncode == 0, f"sweep with one bad grid exits 0 (got {out.returncode}: {out.stderr})")
    err_lines = out.stderr.splitlines()
    # [1, 2, 3] fails for both kernels; [5, 1, 5] fits 11 but not 19
    expect(len(err_lines) == 3 and all("pelkc: sweep: variant" in l for l in err_lines),
           f"three failing variants reported on stderr, one line each: {err_lines}")
    expect("timed code built by libtcc in process" in out.stdout, "says which compiler built the code")
    rows = list(csv.DictReader(open(csv_path)))
    expect(len(rows) == 6, f"6 CSV rows (2 kernels x 3 grids), got {len(rows)}")
    n_ok = 0
    for i, row in enumerate(rows):
        k, gr = kernels[i // 3], grids[i % 3]
        expect(row["variant"] == str(i + 1) and row["grid"] == gr and row["kernel"] == str(k),
               f"row {i + 1} names its variant")
        try:
            rg, cg = pelk_ref.resolve_grid(k, yaml.safe_load(gr))
        except ValueError:
            expect(row["status"] != "ok" and "sums to" in row["status"] and row["params"] == "",
                   f"row {i + 1} (kernel {k}, {gr}) failed with the reason: {row['status']}")
            continue
        n_ok += 1
        want = dict(kprime_rows=len(rg), kprime_cols=len(cg), params=g * len(rg) * len(cg),
                    macs=g * live(rg, h) * live(cg, w) * h * w, macs_dense=g * k * k * h * w)
        got = {key: int(row[key]) for key in want}
        expect(got == want and row["status"] == "ok" and row["compiler"] == "tcc",
               f"row {i + 1} (kernel {k}, {gr}): {got} == {want}")
        expect(float(row["median_ms"]) > 0, f"row {i + 1} has a positive median")
    expect(n_ok == 3, "three variants ran")
    expect(png_size(png_path) == (1120, 420), f"PNG is 1120x420, got {png_size(png_path)}")

    # the optimising backend is the default, and the CSV says so
    csv2 = os.path.join(t, "cc.csv")
    out = subprocess.run([PELKC, "sweep", SPEC, "--stage", "0", "--iters", "1", "--grid", grids[0],
                          "--csv", csv2], capture_output=True, text=True)
    row = list(csv.DictReader(open(csv2)))[0] if out.returncode == 0 else {}
    expect(row.get("compiler") == "cc" and "timed code built by cc -O3" in out.stdout,
           f"default compiler is cc: {row.get('compiler')}")

    # every variant failing: exit 1, one line, nothing written
    csv3 = os.path.join(t, "none.csv")
    out = subprocess.run([PELKC, "sweep", SPEC, "--stage", "0", "--grid", "[1, 2]", "--cc", "tcc",
                          "--csv", csv3], capture_output=True, text=True)
    expect(out.returncode == 1 and not os.path.exists(csv3) and
           out.stderr.splitlines()[-1].startswith("pelkc: sweep: every variant failed"),
           "all variants failing: exit 1, no CSV")
    out = subprocess.run([PELKC, "sweep", SPEC, "--stage", "1", "--grid", grids[0]],
                         capture_output=True, text=True)
    expect(out.returncode == 1 and out.stderr.count("\n") == 1 and "0..0" in out.stderr,
           "--stage out of range refused")

sys.exit(1 if failures else 0)
