#!/usr/bin/python3
"""`pelkc stats SPEC` against figures computed here from the spec alone, and
`pelkc stats SPEC --weights W` against the non-zero count numpy finds in W.

  check_stats.py PELKC SPEC...

Independent of pelkc's C code: the spec is read by tests/ref/pelk_ref.py; parameters are its
weight_shapes; multiply-adds, shapes and bytes come from the network's formulas (spec/SPEC.md) and
the lowered conv's cost from the live-region rule (ir/box_plan.h), re-derived below. Checks
every box_gather and pointwise row, the totals and every peripheral conv's saving line.
For the specs under 2 M parameters also: random weights (pelk_ref.random_weights; with the
BatchNorms on the second run) with known zeros (every third value 0, every seventh -0.0) written
to a temporary file; the "weights W: V values, non-zero N" line must match numpy's count over the
file, and "constants stored after the folds" must count the table's params.
"""
import math
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ref"))
import pelk_ref  # noqa: E402


def live(grid, extent):
    """Regions of one axis whose box can touch a map of `extent` pixels."""
    r, p, n = sum(grid) // 2, 0, 0
    for s in grid:
        lo = p - r
        n += lo <= extent - 1 and lo + s >= 2 - extent
        p += s
    return n


def expected(spec):
    """Rows by layer name: (kind, shape, params, macs, macs_dense, act_bytes); totals."""
    rows, total_macs, total_dense = {}, 0, 0
    cin, sk, ss = spec["input"]["channels"], spec["stem"]["kernel"], spec["stem"]["stride"]
    st0 = spec["stages"][0]
    stem = st0["dim"] * cin * sk * sk * st0["height"] * st0["width"]
    total_macs += stem
    total_dense += stem
    prev = st0["dim"]
    for i, st in enumerate(spec["stages"]):
        c, g, hid, k, h, w = st["dim"], st["g"], st["hidden"], st["kernel"], st["height"], st["width"]
        if i > 0:
            down = c * prev * 4 * h * w
            total_macs += down
            total_dense += down
        for j in range(st["depth"]):
            if g > 0:
                gm = g * live(st["rows"], h) * live(st["cols"], w) * h * w
                dm = g * k * k * h * w
                bias_map = g * h * w if spec["block"]["kpe"] == "border" else 0
                rows[f"s{i}.b{j}.conv"] = ("box_gather", f"{c}x{h}x{w}",
                                           g * len(st["rows"]) * len(st["cols"]) + g + bias_map,
                                           gm, dm, c * h * w * 4)
                total_macs += gm
                total_dense += dm
            rows[f"s{i}.b{j}.gelu"] = ("pointwise", f"{hid}x{h}x{w}", hid * c + hid,
                                       hid * c * h * w, hid * c * h * w, hid * h * w * 4)
            rows[f"s{i}.b{j}"] = ("pointwise", f"{c}x{h}x{w}", c * hid + c,
                                  c * hid * h * w, c * hid * h * w, c * h * w * 4)
            total_macs += 2 * hid * c * h * w
            total_dense += 2 * hid * c * h * w
        prev = c
    head = spec["head"]["classes"] * prev
    return rows, total_macs + head, total_dense + head


def check(pelkc, path):
    spec = pelk_ref.load_spec(path)
    out = subprocess.run([pelkc, "stats", path], capture_output=True, text=True)
    if out.returncode:
        return [f"pelkc stats failed: {out.stderr.strip()}"]
    text, bad = out.stdout, []
    spec_params = sum(math.prod(s) for s in pelk_ref.weight_shapes(spec).values())
    m = re.search(r"spec parameters (\d+)", text)
    if not m or int(m.group(1)) != spec_params:
        bad.append(f"spec parameters: got {m and m.group(1)}, want {spec_params}")
    want_rows, want_macs, want_dense = expected(spec)
    got = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) == 8 and f[0].isdigit():
            got[f[1]] = (f[2], f[3], int(f[4]), int(f[5]), int(f[6]), int(f[7]))
    for name, want in want_rows.items():
        if got.get(name) != want:
            bad.append(f"row {name}: got {got.get(name)}, want {want}")
    m = re.search(r"total: params (\d+), macs (\d+), macs_dense (\d+)", text)
    if not m or (int(m.group(2)), int(m.group(3))) != (want_macs, want_dense):
        bad.append(f"totals: got {m and m.groups()}, want macs {want_macs}, dense {want_dense}")
    if m and int(m.group(1)) != sum(r[2] for r in got.values()):
        bad.append("total params is not the sum of the rows")
    n_conv = 0
    for i, st in enumerate(spec["stages"]):
        for j in range(st["depth"] if st["g"] else 0):
            g, k = st["g"], st["kernel"]
            s, d = g * len(st["rows"]) * len(st["cols"]), g * k * k
            want = (f"s{i}.b{j}.conv +kernel {k}, grid {len(st['rows'])}x{len(st['cols'])}, "
                    f"{g} channels: {s} instead of {d} \\({d / s:.2f}x fewer")
            if not re.search(want, text):
                bad.append(f"saving line missing: {want}")
            n_conv += 1
    if n_conv and f"  all {n_conv}: " not in text:
        bad.append(f"no 'all {n_conv}' saving line")
    return bad


def with_known_zeros(weights):
    """The weights with every third value 0.0 and every seventh -0.0 (a zero too)."""
    out = {}
    for name, a in weights.items():
        z = np.array(a, dtype=np.float32).reshape(-1)
        z[::3] = 0.0
        z[1::7] = -0.0
        out[name] = z.reshape(np.shape(a))
    return out


def check_weights(pelkc, path, spec, bn):
    """`stats --weights` on a file with known zeros: its counts against numpy's."""
    weights = with_known_zeros(pelk_ref.random_weights(spec, np.random.default_rng(7), bn=bn))
    want_nz = sum(int(np.count_nonzero(a)) for a in weights.values())
    want_all = sum(a.size for a in weights.values())
    with tempfile.TemporaryDirectory(prefix="pelk_stats_") as d:
        w = os.path.join(d, "w.safetensors")
        pelk_ref.save_safetensors(w, weights)
        out = subprocess.run([pelkc, "stats", path, "--weights", w], capture_output=True, text=True)
    if out.returncode:
        return [f"pelkc stats --weights failed: {out.stderr.strip()}"]
    text, bad = out.stdout, []
    m = re.search(r"weights \S+( \(with the training-time parts it carries\))?: (\d+) values, non-zero (\d+) ", text)
    if not m or (int(m.group(2)), int(m.group(3))) != (want_all, want_nz):
        bad.append(f"weights line: got {m and m.groups()[1:]}, want {want_all} values, {want_nz} non-zero")
    elif bool(m.group(1)) != bn:
        bad.append(f"the training-time parts note is {'missing' if bn else 'unexpected'}")
    t = re.search(r"total: params (\d+)", text)
    f = re.search(r"constants stored after the folds: (\d+) values, non-zero (\d+) ", text)
    if not t or not f or int(f.group(1)) != int(t.group(1)) or int(f.group(2)) > int(f.group(1)):
        bad.append(f"after the folds: got {f and f.groups()}, want {t and t.group(1)} values")
    return bad


def main():
    pelkc, specs = sys.argv[1], sys.argv[2:]
    failed = 0
    for path in specs:
        bad = check(pelkc, path)
        spec = pelk_ref.load_spec(path)
        if sum(math.prod(s) for s in pelk_ref.weight_shapes(spec).values()) < 2_000_000:
            for bn in (False, True):
                bad += [f"--weights{' (bn)' if bn else ''}: {b}" for b in check_weights(pelkc, path, spec, bn)]
        print(f"{'FAIL' if bad else 'ok'}: {os.path.basename(path)}")
        for b in bad:
            print("  " + b)
        failed += bool(bad)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
