#!/usr/bin/python3
"""`pelkc scaling --model convnext-t`: every CSV figure against counts made here.

  check_scaling.py PELKC

Dense and peripheral model sizes come from tests/ref/pelk_ref.py's weight_shapes of ConvNeXt-T
(dims 96-192-384-768, depths 3-3-9-3) with kernel K in every stage; K = 7 dense must be
ConvNeXt-T's published 28,589,128 parameters. Stripe (K x 5 + 5 x K, a bias each) is the dense
count with K*K + 1 per channel and block replaced by 10 K + 2. Timings: tiny shape, --cc tcc,
checked to be present exactly where asked and positive.
"""
import csv
import math
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ref"))
import pelk_ref  # noqa: E402

PELKC = sys.argv[1]
DIMS, DEPTHS = [96, 192, 384, 768], [3, 3, 9, 3]
failures = []


def expect(cond, what):
    if not cond:
        print("FAIL: " + what)
        failures.append(what)


def model_params(k, center):
    raw = {"name": "convnext_t", "input": {"channels": 3, "height": 224, "width": 224},
           "stem": {"kernel": 4, "stride": 4},
           "stages": [{"dim": c, "depth": d, "kernel": k, "grid": {"center": center, "base": 2}}
                      for c, d in zip(DIMS, DEPTHS)],
           "block": {"partial": 1, "mlp_ratio": 4, "kpe": "none"}, "head": {"classes": 1000}}
    spec = pelk_ref.load_spec(raw)
    shapes = pelk_ref.weight_shapes(spec)
    per_stage = [d * c * (len(st["rows"]) * len(st["cols"]) + 1)
                 for c, d, st in zip(DIMS, DEPTHS, spec["stages"])]
    return sum(math.prod(s) for s in shapes.values()), per_stage


with tempfile.TemporaryDirectory() as t:
    c, p = os.path.join(t, "s.csv"), os.path.join(t, "s.png")
    out = subprocess.run([PELKC, "scaling", "--model", "convnext-t", "--csv", c, "--png", p,
                          "--kernel", "7", "--kernel", "13", "--kernel", "31", "--dense-max", "13",
                          "--channels", "4", "--size", "12x10", "--iters", "2", "--cc", "tcc"],
                         capture_output=True, text=True)
    expect(out.returncode == 0, f"scaling ran: {out.stderr}")
    expect("timed code built by libtcc in process" in out.stdout, "says which compiler built the code")
    rows = list(csv.DictReader(open(c)))
    expect(len(rows) == 73 * 3, f"73 kernel sizes x 3 forms, got {len(rows)} rows")
    timed = {(7, "dense"), (7, "peripheral"), (13, "dense"), (13, "peripheral"), (31, "peripheral")}
    for r in rows:
        k, form = int(r["kernel"]), r["form"]
        dense, dense_stage = model_params(k, k)
        if form == "dense":
            want, stage = dense, dense_stage
        elif form == "peripheral":
            want, stage = model_params(k, 5)
        else:
            stage = [d * ch * (10 * k + 2) for ch, d in zip(DIMS, DEPTHS)]
            want = dense - sum(dense_stage) + sum(stage)
        got_stage = [int(r[f"conv_params_stage{i}"]) for i in range(4)]
        expect(int(r["params"]) == want and got_stage == stage,
               f"K={k} {form}: params {r['params']} {got_stage}, want {want} {stage}")
        expect(((k, form) in timed) == (r["conv_ms"] != ""), f"K={k} {form}: conv_ms present iff timed")
        if r["conv_ms"]:
            expect(float(r["conv_ms"]) > 0, f"K={k} {form}: positive time")
    expect(rows[0]["kernel"] == "7" and rows[0]["form"] == "dense" and rows[0]["params"] == "28589128",
           "K=7 dense is ConvNeXt-T's 28,589,128 parameters")
    with open(p, "rb") as f:
        head = f.read(24)
    expect(head[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", head[16:24]) == (1200, 440),
           "PNG 1200x440")

for args, want in [(["--model", "resnet"], "scaling needs --model convnext-t"),
                   (["--model", "convnext-t", "--kernel", "8", "--channels", "2", "--size", "4x4"],
                    "--kernel 8: scaling covers odd sizes 7 to 151")]:
    out = subprocess.run([PELKC, "scaling", *args], capture_output=True, text=True)
    expect(out.returncode == 1 and out.stderr.count("\n") == 1 and want in out.stderr,
           f"error for {args}: {out.stderr}")

print(f"check_scaling: {len(failures)} failures")
sys.exit(1 if failures else 0)
