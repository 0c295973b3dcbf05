#!/usr/bin/python3
"""Self-checks of the float64 reference (pelk_ref.py) that do not involve the compiler.

Run: /usr/bin/python3 tests/ref/test_reference.py   (plain unittest; nonzero exit on failure)
"""

import bisect
import glob
import json
import os
import re
import struct
import sys
import tempfile
import unittest

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
SPECS = os.path.join(os.path.dirname(HERE), "specs")
sys.path.insert(0, HERE)
import pelk_ref as R  # noqa: E402


def naive_dense_kernel(theta, rows, cols):
    """Eq. 1 literally: W[x, y] = theta[a, b] where P_a <= x < P_{a+1} and Q_b <= y < Q_{b+1}."""
    P = np.concatenate([[0], np.cumsum(rows)])
    Q = np.concatenate([[0], np.cumsum(cols)])
    k = int(P[-1])
    w = np.zeros(theta.shape[:-2] + (k, k))
    for x in range(k):
        a = bisect.bisect_right(P, x) - 1
        assert P[a] <= x < P[a + 1]
        for y in range(k):
            b = bisect.bisect_right(Q, y) - 1
            w[..., x, y] = theta[..., a, b]
    return w


def naive_peripheral_conv(x, theta, bias, rows, cols, h, kpe):
    """Paper Eq. 3 with nested loops: Y = sum_ij W[i,j] * (X(x+i, y+j) + h[i,j]) + bias.

    X is zero outside the image; h is added at every tap for 'constant', only at taps inside the
    image for 'border', never for 'none'.
    """
    n_, g, H, Wd = x.shape
    w = naive_dense_kernel(theta[:, 0], rows, cols)
    k = w.shape[-1]
    r = k // 2
    out = np.zeros(x.shape)
    for n in range(n_):
        for c in range(g):
            for oy in range(H):
                for ox in range(Wd):
                    s = bias[c]
                    for i in range(k):
                        for j in range(k):
                            yy, xx = oy + i - r, ox + j - r
                            inside = 0 <= yy < H and 0 <= xx < Wd
                            v = x[n, c, yy, xx] if inside else 0.0
                            if kpe == "constant" or (kpe == "border" and inside):
                                v += h[c, i, j]
                            s += w[c, i, j] * v
                    out[n, c, oy, ox] = s
    return out


def numpy_forward(spec, w, x):
    """A second, structurally different float64 forward pass in numpy, written from the description.

    Convs are written as sums of shifted views of a zero-padded map (one term per kernel tap), the
    kpe is added to the padded map tap by tap (everywhere for 'constant', inside the image only for
    'border'), pointwise layers are einsums. It is only fast enough for small specs.
    """
    def ln(t, name):  # LayerNorm over channels of [N, C, ...]
        mu = t.mean(axis=1, keepdims=True)
        var = ((t - mu) ** 2).mean(axis=1, keepdims=True)
        shape = (1, -1) + (1,) * (t.ndim - 2)
        return (t - mu) / np.sqrt(var + 1e-6) * w[name + ".weight"].reshape(shape) + w[name + ".bias"].reshape(shape)

    def conv_nopad(t, wt, b, stride):  # dense conv, no padding, as a sum over taps
        n, c, H, W = t.shape
        kh, kw = wt.shape[2:]
        Ho, Wo = (H - kh) // stride + 1, (W - kw) // stride + 1
        out = np.zeros((n, wt.shape[0], Ho, Wo)) + b.reshape(1, -1, 1, 1)
        for i in range(kh):
            for j in range(kw):
                patch = t[:, :, i:i + stride * (Ho - 1) + 1:stride, j:j + stride * (Wo - 1) + 1:stride]
                out += np.einsum("oc,nchw->nohw", wt[:, :, i, j], patch)
        return out

    def gelu(t):
        from math import erf, sqrt
        return 0.5 * t * (1.0 + np.vectorize(erf)(t / sqrt(2.0)))

    w = {n: np.asarray(v, dtype=np.float64) for n, v in w.items()}
    t = ln(conv_nopad(np.asarray(x, np.float64), w["stem.weight"], w["stem.bias"], spec["stem"]["stride"]), "stem_norm")
    kpe = spec["block"]["kpe"]
    for si, st in enumerate(spec["stages"]):
        p = f"stages.{si}"
        if si > 0:
            t = conv_nopad(ln(t, p + ".downsample.norm"), w[p + ".downsample.conv.weight"], w[p + ".downsample.conv.bias"], 2)
        g, k = st["g"], st["kernel"]
        r = k // 2
        for j in range(st["depth"]):
            b = f"{p}.blocks.{j}"
            u = t.copy()
            if g > 0:
                dense = naive_dense_kernel(w[b + ".conv.weight"][:, 0], st["rows"], st["cols"])  # [g, k, k]
                n, _, H, W = t.shape
                xp = np.zeros((n, g, H + 2 * r, W + 2 * r))
                xp[:, :, r:r + H, r:r + W] = t[:, :g]
                inside = np.zeros((H + 2 * r, W + 2 * r))
                inside[r:r + H, r:r + W] = 1.0
                acc = np.zeros((n, g, H, W)) + w[b + ".conv.bias"].reshape(1, -1, 1, 1)
                for i in range(k):
                    for jj in range(k):
                        v = xp[:, :, i:i + H, jj:jj + W]
                        if kpe == "constant":
                            v = v + w[p + ".kpe"][:, i, jj].reshape(1, -1, 1, 1)
                        elif kpe == "border":
                            v = v + w[p + ".kpe"][:, i, jj].reshape(1, -1, 1, 1) * inside[i:i + H, jj:jj + W]
                        acc += dense[:, i, jj].reshape(1, -1, 1, 1) * v
                u[:, :g] = acc
            u = ln(u, b + ".norm")
            u = np.einsum("hc,ncyx->nhyx", w[b + ".fc1.weight"], u) + w[b + ".fc1.bias"].reshape(1, -1, 1, 1)
            u = gelu(u)
            u = np.einsum("ch,nhyx->ncyx", w[b + ".fc2.weight"], u) + w[b + ".fc2.bias"].reshape(1, -1, 1, 1)
            t = t + w[b + ".gamma"].reshape(1, -1, 1, 1) * u
    pooled = ln(t.mean(axis=(2, 3)), "head_norm")
    return pooled @ w["head.weight"].T + w["head.bias"]


def read_text(path):
    with open(path) as f:
        return f.read()


def rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.linalg.norm(a - b) / np.linalg.norm(b)


class GridTest(unittest.TestCase):
    # NOTES.md section 1, checked there against the paper's Tables 5-6.
    TABLE = [
        (31, 5, 2, "7 4 2 1 1 1 1 1 2 4 7"),
        (51, 1, 2, "11 8 4 2 1 2 4 8 11"),
        (51, 3, 2, "10 8 4 2 1 1 1 2 4 8 10"),
        (51, 5, 2, "9 8 4 2 1 1 1 1 1 2 4 8 9"),
        (51, 7, 2, "8 8 4 2 1 1 1 1 1 1 1 2 4 8 8"),
        (101, 7, 2, "17 16 8 4 2 1 1 1 1 1 1 1 2 4 8 16 17"),
        (13, 5, 2, "2 2 1 1 1 1 1 2 2"),
    ]

    def test_notes_table(self):
        for k, c, m, want in self.TABLE:
            with self.subTest(k=k, c=c, m=m):
                got = R.rule_grid(k, c, m)
                self.assertEqual(got, [int(s) for s in want.split()])
                self.assertEqual(sum(got), k)

    def test_other_rule_cases(self):
        # Hand-derived from the rule: remainder 0 (no cut ring), base 3, a cut ring smaller than the one before.
        self.assertEqual(R.rule_grid(13, 1, 2), [4, 2, 1, 2, 4])        # r=6 = 2+4 exactly
        self.assertEqual(R.rule_grid(5, 1, 2), [2, 1, 2])
        self.assertEqual(R.rule_grid(21, 3, 3), [6, 3, 1, 1, 1, 3, 6])  # r=10: 1, 3, then 9 cut to 6
        self.assertEqual(R.rule_grid(27, 1, 3), [1, 9, 3, 1, 3, 9, 1])  # r=13: 3, 9, then 27 cut to 1
        self.assertEqual(R.rule_grid(19, 5, 2), [1, 4, 2, 1, 1, 1, 1, 1, 2, 4, 1])
        self.assertEqual(R.rule_grid(1, 5, 2), [1])
        self.assertEqual(R.rule_grid(3, 1, 2), [1, 1, 1])  # r=1: the first ring (2) is cut to 1

    def test_center_wider_than_kernel_is_dense(self):
        for k, c in [(7, 9), (5, 7), (3, 51), (1, 3), (13, 13), (13, 15), (9, 9)]:
            with self.subTest(k=k, c=c):
                self.assertEqual(R.rule_grid(k, c, 2), [1] * k)
                self.assertEqual(R.rule_grid(k, c, 3), [1] * k)

    def test_grid_forms(self):
        rule = R.rule_grid(13, 5, 2)
        self.assertEqual(R.resolve_grid(13, None), (rule, rule))  # missing grid = {center: 5, base: 2}
        self.assertEqual(R.resolve_grid(13, {"center": 5, "base": 2}), (rule, rule))
        self.assertEqual(R.resolve_grid(7, [1, 2, 4]), ([1, 2, 4], [1, 2, 4]))
        self.assertEqual(R.resolve_grid(7, {"rows": [1, 2, 4], "cols": {"center": 3, "base": 2}}),
                         ([1, 2, 4], [2, 1, 1, 1, 2]))
        for bad in ([1, 2, 3], {"rows": [7]}, {"center": 5, "bse": 2}, [0, 7], "7"):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                R.resolve_grid(7, bad)
        with self.assertRaises(ValueError):
            R.resolve_grid(8, None)  # even kernel

    def test_cli_grid(self):
        import subprocess
        out = subprocess.run([sys.executable, os.path.join(HERE, "pelk_ref.py"), "grid", "51", "{center: 5, base: 2}"],
                             stdout=subprocess.PIPE, check=True).stdout.decode()
        self.assertEqual(out.strip(), "9 8 4 2 1 1 1 1 1 2 4 8 9")

    def test_expand_kernel_matches_eq1(self):
        rng = np.random.default_rng(0)
        for rows, cols in [([3, 1, 2], [1, 1, 4]), ([1, 1, 1], [1, 1, 1]), ([2, 2, 1, 1, 1, 1, 1, 2, 2], [3, 1, 1, 1, 1, 1, 1, 1, 3]),
                           (R.rule_grid(51, 5, 2), R.rule_grid(51, 1, 2))]:
            theta = rng.standard_normal((3, 1, len(rows), len(cols)))
            got = R.expand_kernel(torch.tensor(theta), rows, cols).numpy()
            np.testing.assert_array_equal(got[:, 0], naive_dense_kernel(theta[:, 0], rows, cols))


class PeripheralConvTest(unittest.TestCase):
    CASES = [
        # (name, N, g, H, W, rows, cols)
        ("square small k", 2, 2, 5, 4, [2, 1, 1, 1, 2], [2, 1, 1, 1, 2]),
        ("k > map, rows != cols", 1, 3, 3, 4, [4, 1, 1, 3, 2], [1, 2, 1, 1, 1, 5]),
        ("rule grid k 13 on 6x5", 2, 2, 6, 5, R.rule_grid(13, 5, 2), R.rule_grid(13, 1, 3)),
        ("1x1 map", 1, 2, 1, 1, [2, 1, 2], [1, 1, 3]),
        ("k = 1", 1, 2, 3, 3, [1], [1]),
    ]

    def test_against_naive_loops(self):
        rng = np.random.default_rng(1)
        for name, n, g, H, W, rows, cols in self.CASES:
            k = sum(rows)
            x = rng.standard_normal((n, g, H, W))
            theta = rng.standard_normal((g, 1, len(rows), len(cols)))
            bias = rng.standard_normal(g)
            h = rng.standard_normal((g, k, k))
            for kpe in ("none", "constant", "border"):
                with self.subTest(case=name, kpe=kpe):
                    got = R.peripheral_conv(torch.tensor(x), torch.tensor(theta), torch.tensor(bias),
                                            rows, cols, torch.tensor(h), kpe).numpy()
                    want = naive_peripheral_conv(x, theta, bias, rows, cols, h, kpe)
                    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)

    def test_kpe_modes_differ_only_where_expected(self):
        # constant and border agree far from the border (all taps inside) and differ near it.
        rng = np.random.default_rng(2)
        g, H, W, rows = 2, 9, 9, [1, 1, 1]
        args = [torch.tensor(rng.standard_normal(s)) for s in [(1, g, H, W), (g, 1, 3, 3), (g,), (g, 3, 3)]]
        c = R.peripheral_conv(args[0], args[1], args[2], rows, rows, args[3], "constant")
        b = R.peripheral_conv(args[0], args[1], args[2], rows, rows, args[3], "border")
        self.assertLess((c - b)[..., 1:-1, 1:-1].abs().max().item(), 1e-12)
        self.assertGreater((c - b)[..., 0, :].abs().max().item(), 1e-3)


class LayerNormTest(unittest.TestCase):
    def test_matches_torch_layer_norm(self):
        rng = np.random.default_rng(3)
        x = torch.tensor(rng.standard_normal((2, 7, 3, 4)) * 3 + 1)
        w, b = torch.tensor(rng.standard_normal(7)), torch.tensor(rng.standard_normal(7))
        want = F.layer_norm(x.permute(0, 2, 3, 1), (7,), w, b, eps=1e-6).permute(0, 3, 1, 2)
        torch.testing.assert_close(R.layer_norm_channels(x, w, b), want, rtol=1e-12, atol=1e-12)


class SafetensorsTest(unittest.TestCase):
    def test_round_trip_and_layout(self):
        spec = R.load_spec(os.path.join(SPECS, "v13_pelk_t_mini_default_grid.yaml"))
        w = R.random_weights(spec, np.random.default_rng(4))
        w["zz.f64"] = np.arange(6, dtype=np.float64).reshape(2, 3)
        w["aa.scalar"] = np.float32(2.5).reshape(())
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "w.safetensors")
            R.save_safetensors(p, w, {"seed": 4})
            back = R.load_safetensors(p)
            with open(p, "rb") as f:
                raw = f.read()
        self.assertEqual(sorted(back), sorted(w))
        for n in w:
            self.assertEqual(back[n].dtype, np.asarray(w[n]).dtype, n)
            np.testing.assert_array_equal(back[n], w[n])
        # Layout: u64 LE header length (multiple of 8), JSON header, tensors in name order, contiguous.
        (hl,) = struct.unpack("<Q", raw[:8])
        self.assertEqual(hl % 8, 0)
        header = json.loads(raw[8:8 + hl])
        self.assertEqual(header["__metadata__"], {"seed": "4"})
        names = [n for n in header if n != "__metadata__"]
        offs = [header[n]["data_offsets"] for n in sorted(names)]
        self.assertEqual(offs[0][0], 0)
        for (b0, e0), (b1, _) in zip(offs, offs[1:]):
            self.assertEqual(e0, b1)
        self.assertEqual(offs[-1][1], len(raw) - 8 - hl)
        self.assertEqual(header["stem.weight"]["dtype"], "F32")


class ModelTest(unittest.TestCase):
    SMALL = {
        "name": "sens",
        "input": {"channels": 3, "height": 24, "width": 20},
        "stem": {"kernel": 2, "stride": 2},
        "stages": [{"dim": 16, "depth": 2, "kernel": 15, "grid": {"center": 3, "base": 2}},
                   {"dim": 24, "depth": 2, "kernel": 9, "grid": {"rows": [3, 1, 1, 1, 3], "cols": [2, 5, 2]}}],
        "block": {"partial": 0.375, "mlp_ratio": 4, "kpe": "constant"},
        "head": {"classes": 10},
    }

    def _spec(self, kpe):
        raw = json.loads(json.dumps(self.SMALL))
        raw["block"]["kpe"] = kpe
        return R.load_spec(raw)

    def test_matches_independent_numpy_forward(self):
        """The whole model against numpy_forward (different code structure) on specs that between
        them cover every grid form, every kpe mode, g = 0, partial 1.0, odd maps and batch > 1."""
        names = ["v04_rows_cols_asym_lists_border", "v07_partial_full_border", "v09_partial_zero_stage",
                 "v10_four_stages_odd_maps", "v11_gray_stem_k5s3_border", "v12_one_stage_mlp2p5_nokpe",
                 "v02_rule_base3_constant"]
        for name in names:
            with self.subTest(spec=name):
                spec = R.load_spec(os.path.join(SPECS, name + ".yaml"))
                rng = np.random.default_rng(11)
                w = R.random_weights(spec, rng)
                i = spec["input"]
                x = rng.standard_normal((2, i["channels"], i["height"], i["width"])).astype(np.float32)
                np.testing.assert_allclose(R.forward(spec, w, x).numpy(), numpy_forward(spec, w, x), rtol=1e-10, atol=1e-10)

    def test_every_part_matters(self):
        """Zeroing any single tensor (each gamma, each kpe, each conv weight, ...) moves the output by > 1e-3."""
        for kpe in ("constant", "border"):
            spec = self._spec(kpe)
            rng = np.random.default_rng(5)
            w = R.random_weights(spec, rng)
            x = rng.standard_normal((2, 3, 24, 20)).astype(np.float32)
            y0 = R.forward(spec, w, x).numpy()
            names = list(w)
            for must in ["stages.0.kpe", "stages.1.kpe", "stages.0.blocks.1.conv.weight", "stages.1.blocks.0.gamma"]:
                self.assertIn(must, names)
            for n in names:
                w2 = dict(w)
                w2[n] = np.zeros_like(w[n])
                with self.subTest(kpe=kpe, zeroed=n):
                    self.assertGreater(rel(R.forward(spec, w2, x).numpy(), y0), 1e-3)

    def test_kpe_matters_in_every_stage(self):
        """Zeroing one stage's h moves the output by > 1e-2, although with kpe constant h only enters
        through the per-channel constants sum(W*h): the kpe scale is not negligible."""
        spec = self._spec("constant")
        rng = np.random.default_rng(6)
        w = R.random_weights(spec, rng)
        x = rng.standard_normal((1, 3, 24, 20)).astype(np.float32)
        y0 = R.forward(spec, w, x).numpy()
        for i in range(2):
            w2 = dict(w)
            w2[f"stages.{i}.kpe"] = np.zeros_like(w[f"stages.{i}.kpe"])
            self.assertGreater(rel(R.forward(spec, w2, x).numpy(), y0), 1e-2)

    def test_kpe_modes_give_different_models(self):
        rng = np.random.default_rng(7)
        spec_c = self._spec("constant")
        w = R.random_weights(spec_c, rng)
        x = rng.standard_normal((1, 3, 24, 20)).astype(np.float32)
        yc = R.forward(spec_c, w, x).numpy()
        yb = R.forward(self._spec("border"), w, x).numpy()
        wn = {n: v for n, v in w.items() if not n.endswith(".kpe")}
        yn = R.forward(self._spec("none"), wn, x).numpy()
        self.assertGreater(rel(yb, yc), 1e-3)
        self.assertGreater(rel(yn, yc), 1e-3)

    def test_batch_is_independent(self):
        spec = self._spec("border")
        rng = np.random.default_rng(8)
        w = R.random_weights(spec, rng)
        x = rng.standard_normal((3, 3, 24, 20)).astype(np.float32)
        y = R.forward(spec, w, x).numpy()
        for n in range(3):
            np.testing.assert_allclose(R.forward(spec, w, x[n:n + 1]).numpy()[0], y[n], rtol=1e-12, atol=1e-12)

    def test_weight_names_and_shapes(self):
        raw = json.loads(json.dumps(self.SMALL))
        raw["block"]["partial"] = 0.05  # g = 0 at dim 16, g = 1 at dim 24
        spec = R.load_spec(raw)
        shapes = R.weight_shapes(spec)
        self.assertNotIn("stages.0.kpe", shapes)
        self.assertNotIn("stages.0.blocks.0.conv.weight", shapes)
        self.assertEqual(shapes["stages.1.kpe"], (1, 9, 9))
        self.assertEqual(shapes["stages.1.blocks.1.conv.weight"], (1, 1, 5, 3))
        self.assertEqual(shapes["stages.1.downsample.conv.weight"], (24, 16, 2, 2))
        self.assertEqual(shapes["head.weight"], (10, 24))
        w = R.random_weights(spec, np.random.default_rng(9))
        self.assertEqual({n: v.shape for n, v in w.items()}, shapes)
        self.assertTrue(all(v.dtype == np.float32 for v in w.values()))
        with self.assertRaises(ValueError):  # a missing tensor is an error, not silently zero
            R.forward(spec, {n: v for n, v in w.items() if n != "head.bias"}, np.zeros((1, 3, 24, 20), np.float32))


class SpecFilesTest(unittest.TestCase):
    def test_all_specs_load_and_run(self):
        files = sorted(glob.glob(os.path.join(SPECS, "*.yaml")))
        self.assertGreaterEqual(len(files), 10)
        readme = read_text(os.path.join(SPECS, "README.md"))
        for p in files:
            base = os.path.basename(p)
            with self.subTest(spec=base):
                self.assertIn(base, readme)
                lines = read_text(p).splitlines()
                self.assertTrue(lines[0].startswith("#"), "first line must be a comment saying what it covers")
                batch = [int(m.group(1)) for m in (re.match(r"#\s*batch:\s*(\d+)\s*$", s) for s in lines) if m]
                self.assertEqual(len(batch), 1, "needs exactly one '# batch: N' line")
                spec = R.load_spec(p)
                if base.startswith("pelk_t"):
                    continue  # the full-size model is exercised by check_model.py, not here (~10 s)
                rng = np.random.default_rng(10)
                w = R.random_weights(spec, rng)
                i = spec["input"]
                x = rng.standard_normal((batch[0], i["channels"], i["height"], i["width"])).astype(np.float32)
                y = R.forward(spec, w, x).numpy()
                self.assertEqual(y.shape, (batch[0], spec["head"]["classes"]))
                self.assertTrue(np.all(np.isfinite(y)))
                self.assertTrue(0.1 < y.std() < 10, y.std())


if __name__ == "__main__":
    torch.set_num_threads(os.cpu_count() or 1)
    unittest.main()
