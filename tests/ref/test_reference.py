#!/usr/bin/python3
"""Self-checks of the float64 reference (pelk_ref.py) that do not involve the compiler.

Run: /usr/bin/python3 tests/ref/test_reference.py   (plain unittest; nonzero exit on failure)
"""

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
from naive_ref import (  # noqa: E402  (the independent implementations)
    naive_dense_kernel, naive_peripheral_conv, naive_batch_norm, naive_block_conv, random_parts, as_block, numpy_forward, read_text, rel, fold_dense, run_folded)


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


class TrainingPartsTest(unittest.TestCase):
    """The optional training-time parts of a block's conv (BatchNorms, parallel small kernel)."""

    SPEC = dict(ModelTest.SMALL)

    def _spec(self, kpe="constant"):
        raw = json.loads(json.dumps(self.SPEC))
        raw["block"]["kpe"] = kpe
        return R.load_spec(raw)

    def test_batch_norm_textbook(self):
        rng = np.random.default_rng(20)
        z = rng.standard_normal((2, 3, 4, 5)) * 2 + 1
        prm = [rng.uniform(0.5, 1.5, 3), rng.standard_normal(3), rng.standard_normal(3), rng.uniform(0.5, 2, 3)]
        got = R.batch_norm_channels(torch.tensor(z), *map(torch.tensor, prm)).numpy()
        np.testing.assert_allclose(got, naive_batch_norm(z, *prm), rtol=1e-13, atol=1e-13)
        w, b, m, v = map(torch.tensor, prm)
        want = F.batch_norm(torch.tensor(z), m, v, w, b, training=False, eps=1e-5).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)

    # (name, N, g, H, W, rows, cols, s): s inside the fine centre, wider than it, wider than the
    # map, wider than the kernel, s = 1.
    CASES = [
        ("s inside fine centre", 2, 2, 6, 5, R.rule_grid(9, 5, 2), R.rule_grid(9, 5, 2), 3),
        ("s > fine centre, rows != cols", 1, 3, 7, 6, R.rule_grid(13, 3, 2), [4, 1, 1, 3, 2, 2], 5),
        ("s > map", 1, 2, 3, 4, [2, 1, 1, 1, 2], [1, 1, 3, 1, 1], 5),
        ("s > kernel and map", 2, 2, 4, 3, [1, 1, 1], [2, 1], 7),
        ("s = 1", 1, 2, 5, 5, [2, 1, 2], [2, 1, 2], 1),
    ]

    def test_block_conv_against_naive_loops(self):
        rng = np.random.default_rng(21)
        for name, n, g, H, W, rows, cols, s in self.CASES:
            k = sum(rows)
            x = rng.standard_normal((n, g, H, W))
            h = rng.standard_normal((g, k, k)) * 0.3
            for bn, small, small_bn in [(True, None, False), (False, s, False), (False, s, True), (True, s, False), (True, s, True)]:
                p = random_parts(rng, g, k, small, bn=bn, small_bn=small_bn, rows=rows, cols=cols)
                for kpe in ("none", "constant", "border"):
                    with self.subTest(case=name, bn=bn, small=small, small_bn=small_bn, kpe=kpe):
                        got = R.block_conv(torch.tensor(x), as_block(p), "blk", rows, cols, torch.tensor(h), kpe).numpy()
                        want = naive_block_conv(x, p, rows, cols, h, kpe)
                        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)

    def test_model_with_parts_matches_numpy_forward(self):
        """Whole models with the parts (all blocks, and mixed per block) against numpy_forward."""
        names = ["v04_rows_cols_asym_lists_border", "v09_partial_zero_stage", "v02_rule_base3_constant",
                 "v12_one_stage_mlp2p5_nokpe", "v10_four_stages_odd_maps"]
        for name in names:
            spec = R.load_spec(os.path.join(SPECS, name + ".yaml"))
            for bn, small, mixed in [(True, None, False), (False, 3, False), (True, 7, False), (True, 5, True)]:
                with self.subTest(spec=name, bn=bn, small=small, mixed=mixed):
                    rng = np.random.default_rng(22)
                    w = R.random_weights(spec, rng, bn=bn, small=small)
                    if mixed:  # block-wise independence: drop different parts from different blocks
                        blocks = sorted({n.split(".conv.")[0] for n in w if ".conv.small.weight" in n})
                        for bi, b in enumerate(blocks):
                            drop = [".conv.small_bn.", ".conv.bn.", ".conv.small"][bi % 3]
                            w = {n: v for n, v in w.items() if not n.startswith(b + drop)}
                    i = spec["input"]
                    x = rng.standard_normal((2, i["channels"], i["height"], i["width"])).astype(np.float32)
                    np.testing.assert_allclose(R.forward(spec, w, x).numpy(), numpy_forward(spec, w, x), rtol=1e-10, atol=1e-10)

    def test_random_weights_with_parts(self):
        spec = self._spec()
        w0 = R.random_weights(spec, np.random.default_rng(23))
        w = R.random_weights(spec, np.random.default_rng(23), bn=True, small=5)
        self.assertEqual({n: v.shape for n, v in w.items()}, R.weight_shapes(spec, bn=True, small=5))
        for n in w0:  # same base model for the same seed
            np.testing.assert_array_equal(w0[n], w[n])
        b = "stages.1.blocks.1.conv"
        self.assertEqual(w[b + ".small.weight"].shape, (9, 1, 5, 5))
        for grp in ("bn", "small_bn"):
            self.assertTrue(np.all((w[f"{b}.{grp}.running_var"] >= 0.5) & (w[f"{b}.{grp}.running_var"] <= 2)))
            self.assertTrue(np.all(np.abs(w[f"{b}.{grp}.running_mean"]) > 0))
            self.assertTrue(np.all((w[f"{b}.{grp}.weight"] >= 0.5) & (w[f"{b}.{grp}.weight"] <= 1.5)))
        self.assertEqual(set(R.random_weights(spec, np.random.default_rng(0), small=3)) - set(w0),
                         {f"stages.{i}.blocks.{j}.conv.small.weight" for i in range(2) for j in range(2)})
        self.assertEqual(len(set(R.random_weights(spec, np.random.default_rng(0), bn=True)) - set(w0)), 16)
        y = R.forward(spec, w, np.random.default_rng(1).standard_normal((1, 3, 24, 20)))
        self.assertTrue(0.1 < y.std().item() < 10)

    def test_every_part_matters_with_parts(self):
        """Zeroing any tensor (the new ones included) moves the output by > 1e-3; so does scaling one
        BN tensor by 1.1 or zeroing one block's small kernel. Small 5 is wider than the fine centre
        (3 or none); small 11 is wider than stage 1's kernel (9) and its 6x5 map."""
        for kpe, small in (("constant", 5), ("border", 11)):
            spec = self._spec(kpe)
            rng = np.random.default_rng(24)
            w = R.random_weights(spec, rng, bn=True, small=small)
            x = rng.standard_normal((2, 3, 24, 20)).astype(np.float32)
            y0 = R.forward(spec, w, x).numpy()
            for n in w:
                w2 = dict(w)
                w2[n] = np.zeros_like(w[n])
                with self.subTest(kpe=kpe, zeroed=n):
                    self.assertGreater(rel(R.forward(spec, w2, x).numpy(), y0), 1e-3)
                if ".bn." in n or ".small_bn." in n:
                    w2[n] = w[n] * np.float32(1.1)
                    with self.subTest(kpe=kpe, scaled=n):
                        self.assertGreater(rel(R.forward(spec, w2, x).numpy(), y0), 1e-3)
            # Without the small kernel (and its BN) the model is a different one, too.
            w3 = {n: v for n, v in w.items() if ".small" not in n}
            self.assertGreater(rel(R.forward(spec, w3, x).numpy(), y0), 1e-2)

    def test_inconsistent_parts_are_errors(self):
        spec = self._spec()
        x = np.zeros((1, 3, 24, 20), np.float32)
        w = R.random_weights(spec, np.random.default_rng(25), bn=True, small=3)
        b = "stages.0.blocks.0.conv"
        g = spec["stages"][0]["g"]
        R.forward(spec, w, x)  # consistent: fine
        bad = {
            "bn without running_var": {n: v for n, v in w.items() if n != b + ".bn.running_var"},
            "small_bn without small": {n: v for n, v in w.items() if n != b + ".small.weight"},
            "small_bn partial": {n: v for n, v in w.items() if n != b + ".small_bn.bias"},
            "even small kernel": dict(w, **{b + ".small.weight": np.zeros((g, 1, 4, 4), np.float32)}),
            "non-square small kernel": dict(w, **{b + ".small.weight": np.zeros((g, 1, 3, 5), np.float32)}),
            "small kernel for the wrong g": dict(w, **{b + ".small.weight": np.zeros((g + 1, 1, 3, 3), np.float32)}),
            "bn of the wrong size": dict(w, **{b + ".bn.weight": np.ones(g + 1, np.float32)}),
            "unknown part": dict(w, **{b + ".bn.num_batches_tracked": np.zeros((), np.float32)}),
        }
        for what, w2 in bad.items():
            with self.subTest(what), self.assertRaises(ValueError):
                R.forward(spec, w2, x)
        # A part on a block without conv (g = 0) is unexpected.
        raw = json.loads(json.dumps(self.SPEC))
        raw["block"]["partial"] = 0.05  # g = 0 in stage 0
        spec0 = R.load_spec(raw)
        w0 = R.random_weights(spec0, np.random.default_rng(26), bn=True)
        self.assertNotIn("stages.0.blocks.0.conv.bn.weight", w0)
        R.forward(spec0, w0, x)
        w0["stages.0.blocks.0.conv.bn.weight"] = np.ones(1, np.float32)
        with self.assertRaises(ValueError):
            R.forward(spec0, w0, x)
        for kw in ({"small": 4}, {"small": 0}, {"small_bn": True}):
            with self.subTest(kw=kw), self.assertRaises(ValueError):
                R.weight_shapes(spec, **kw)
        # Each part alone is fine.
        for keep in (".bn.", ".small.", ".small."):
            w1 = {n: v for n, v in w.items() if ".conv." not in n or n.endswith((".conv.weight", ".conv.bias")) or keep in n}
            R.forward(spec, w1, x)


class FoldTest(unittest.TestCase):
    """Folding BN and the small kernel into one dense kernel + bias (+ border map) is exact: this is
    the maths the compiler's folds must reproduce (computed here independently of pelk_ref)."""

    def _check(self, y, want):
        self.assertLess(np.max(np.abs(y - want)) / np.max(np.abs(want)), 1e-12)

    def test_folded_equals_unfolded(self):
        rng = np.random.default_rng(30)
        for name, n, g, H, W, rows, cols, s in TrainingPartsTest.CASES:
            k = sum(rows)
            x = rng.standard_normal((n, g, H, W))
            h = rng.standard_normal((g, k, k)) * 0.3
            for bn, small, small_bn in [(True, None, False), (False, s, False), (True, s, True), (False, s, True)]:
                p = random_parts(rng, g, k, small, bn=bn, small_bn=small_bn, rows=rows, cols=cols)
                for kpe in ("none", "constant", "border"):
                    with self.subTest(case=name, bn=bn, small=small, small_bn=small_bn, kpe=kpe):
                        want = R.block_conv(torch.tensor(x), as_block(p), "blk", rows, cols, torch.tensor(h), kpe).numpy()
                        Wf, bf, kk = fold_dense(p, rows, cols, h, kpe)
                        self._check(run_folded(x, Wf, bf, kk), want)

    def test_kpe_must_stay_on_the_peripheral_kernel(self):
        """The usual mistakes move the output: building the kpe term from the folded kernel (which
        contains the small kernel), or from the kernel before the BN scale."""
        rng = np.random.default_rng(31)
        rows = cols = R.rule_grid(13, 5, 2)
        g, k, s = 3, 13, 5
        x = rng.standard_normal((1, g, 9, 8))
        h = rng.standard_normal((g, k, k)) * 0.3
        p = random_parts(rng, g, k, s, rows=rows, cols=cols)
        W = naive_dense_kernel(p["weight"][:, 0], rows, cols)
        for kpe in ("constant", "border"):
            want = R.block_conv(torch.tensor(x), as_block(p), "blk", rows, cols, torch.tensor(h), kpe).numpy()
            Wf, bf, kk = fold_dense(p, rows, cols, h, kpe)
            self._check(run_folded(x, Wf, bf, kk), want)
            if kpe == "constant":
                a = p["bn.weight"] / np.sqrt(p["bn.running_var"] + 1e-5)
                wrong = [bf - (W * h).sum(axis=(1, 2)) * a + (Wf * h).sum(axis=(1, 2)),   # kpe from Wf
                         bf - (W * h).sum(axis=(1, 2)) * a + (W * h).sum(axis=(1, 2))]    # kpe not BN-scaled
                for b2 in wrong:
                    self.assertGreater(rel(run_folded(x, Wf, b2, None), want), 1e-3)
            else:
                for k2 in (Wf * h, W * h):
                    self.assertGreater(rel(run_folded(x, Wf, bf, k2), want), 1e-3)

    def test_compact_fold_when_small_fits_the_fine_centre(self):
        """When the small kernel lies inside the fine (size-1) centre on both axes it adds exactly into
        theta's central entries and the folded layer is still a peripheral conv on the SAME grid.
        When it does not, the folded dense kernel is not constant on the grid's regions."""
        rng = np.random.default_rng(32)
        rows = R.rule_grid(13, 5, 2)  # 2 2 1 1 1 1 1 2 2: fine centre 5
        cols = R.rule_grid(13, 7, 2)  # 1 2 1 1 1 1 1 1 1 2 1: fine centre 7
        g, k = 2, 13
        x = rng.standard_normal((2, g, 11, 7))
        h = rng.standard_normal((g, k, k)) * 0.3

        def centre(grid):  # index of the region holding the centre tap k // 2
            return int(np.searchsorted(np.cumsum(grid), sum(grid) // 2, side="right"))

        for s in (1, 3, 5):
            p = random_parts(rng, g, k, s, rows=rows, cols=cols)
            a = p["bn.weight"] / np.sqrt(p["bn.running_var"] + 1e-5)
            a_s = p["small_bn.weight"] / np.sqrt(p["small_bn.running_var"] + 1e-5)
            theta = p["weight"][:, 0] * a[:, None, None]
            ca, cb = centre(rows), centre(cols)
            self.assertTrue(all(rows[ca + d] == 1 and cols[cb + d] == 1 for d in range(-(s // 2), s // 2 + 1)))
            theta[:, ca - s // 2:ca + s // 2 + 1, cb - s // 2:cb + s // 2 + 1] += p["small.weight"][:, 0] * a_s[:, None, None]
            for kpe in ("none", "constant", "border"):
                Wf, bf, kk = fold_dense(p, rows, cols, h, kpe)
                np.testing.assert_allclose(naive_dense_kernel(theta, rows, cols), Wf, rtol=0, atol=1e-15)
                want = R.block_conv(torch.tensor(x), as_block(p), "blk", rows, cols, torch.tensor(h), kpe).numpy()
                # The compact folded layer: a peripheral conv with theta' on the same grid, the folded
                # bias, and for border the map of the BN-scaled peripheral kernel (not of theta').
                got = R.peripheral_conv(torch.tensor(x), torch.tensor(theta[:, None]), torch.tensor(bf), rows, cols).numpy()
                if kk is not None:
                    got = got + run_folded(np.zeros((1,) + x.shape[1:]), np.zeros((g, 1, 1)), np.zeros(g), kk)
                self._check(got, want)
        p = random_parts(rng, g, k, 7, rows=rows, cols=cols)  # wider than the rows' fine centre (5)
        Wf, _, _ = fold_dense(p, rows, cols, h, "none")
        P = np.concatenate([[0], np.cumsum(rows)])
        Q = np.concatenate([[0], np.cumsum(cols)])
        constant = all(np.ptp(Wf[c, P[i]:P[i + 1], Q[j]:Q[j + 1]]) == 0
                       for c in range(g) for i in range(len(rows)) for j in range(len(cols)))
        self.assertFalse(constant)


class FftReferenceTest(unittest.TestCase):
    """pelk_ref.peripheral_conv_fft (the reference check_conv.py uses for large maps and kernels)
    against the F.conv2d one."""

    def test_fft_matches_direct(self):
        rng = np.random.default_rng(40)
        cases = [
            # (N, g, H, W, rows, cols, offset)
            (2, 3, 60, 36, R.rule_grid(75, 5, 2), R.rule_grid(75, 3, 3), 100.0),   # k > both sides, offset
            (1, 2, 40, 24, [9, 8, 4, 2, 1, 1, 1, 1, 1, 2, 4, 8, 9], [20, 5, 1, 1, 1, 23], 0.0),
            (1, 2, 7, 5, R.rule_grid(31, 5, 2), [15, 1, 15], 0.0),
            (2, 1, 1, 1, [2, 1, 2], [1, 1, 3], 0.0),
            (1, 2, 9, 6, [1], [1], 5.0),
            (1, 2, 33, 20, [2, 1], [1, 1, 1], 0.0),
        ]
        for n, g, H, W, rows, cols, off in cases:
            k = sum(rows)
            x = torch.tensor(off + rng.standard_normal((n, g, H, W)))
            theta = torch.tensor(rng.standard_normal((g, 1, len(rows), len(cols))) / k)
            bias = torch.tensor(rng.standard_normal(g) * 0.3)
            h = torch.tensor(rng.standard_normal((g, k, k)) * 0.3)
            for kpe in ("none", "constant", "border"):
                with self.subTest(k=k, H=H, W=W, kpe=kpe):
                    want = R.peripheral_conv(x, theta, bias, rows, cols, h, kpe).numpy()
                    got = R.peripheral_conv_fft(x, theta, bias, rows, cols, h, kpe).numpy()
                    self.assertLess(np.max(np.abs(got - want)) / np.max(np.abs(want)), 1e-12)

    def test_check_conv_cases(self):
        """check_conv.py: every suite case is valid and round-trips through its CASE string, the small
        suite covers what it claims, and its fft and direct references agree on the small suite."""
        import check_conv as CC
        small = [CC.normalise_case(c) for c in CC.SUITES["small"]]
        large = [CC.normalise_case(c) for c in CC.SUITES["large"]]
        for c in small + large:
            self.assertEqual(CC.normalise_case(CC.fmt_case(c)), c)
            rows, cols = R.resolve_grid(c["kernel"], c["grid"])
            self.assertEqual(R.resolve_grid(c["kernel"], yaml_load(CC.fmt_grid(c["grid"]))), (rows, cols))
        self.assertEqual({c["size"] for c in small}, {"7x7", "13x9", "16x16", "33x20"})
        self.assertEqual({c["kernel"] for c in small}, {3, 5, 13, 31, 51})
        for key, want in (("kpe", {"none", "constant", "border"}), ("periph", {"lowered", "dense"}), ("batch", {1, 2})):
            self.assertEqual({c[key] for c in small}, want)
        self.assertTrue(any(c["offset"] for c in small))
        self.assertTrue(any(c["omit_defaults"] for c in small))
        forms = set()
        for c in small:
            g, k = c["grid"], c["kernel"]
            rows, cols = R.resolve_grid(k, g)
            if isinstance(g, dict) and "rows" in g:
                forms.add("rows!=cols" if len(rows) != len(cols) else "rows/cols")
                if isinstance(g["rows"], dict) != isinstance(g["cols"], dict):
                    forms.add("rule+list")
            elif isinstance(g, dict):
                forms.add(f"rule base {g['base']}")
                if g["center"] > k:
                    forms.add("centre > kernel")
            else:
                forms.add("symmetric list" if g == g[::-1] else "asymmetric list")
            if k > min(CC.parse_size(c["size"])):
                forms.add("kernel > map")
        self.assertEqual(forms, {"rows!=cols", "rule+list", "rule base 2", "rule base 3", "centre > kernel",
                                 "symmetric list", "asymmetric list", "kernel > map"})
        self.assertEqual({c["size"] for c in large}, {"512x128", "56x56"})
        for c in small:
            with self.subTest(case=CC.fmt_case(c)):
                w, x = CC.make_data(123, c)
                a, _ = CC.reference(c, w, x, "direct")
                b, _ = CC.reference(c, w, x, "fft")
                self.assertLess(rel(b, a), 1e-12)


def yaml_load(text):
    import yaml
    return yaml.safe_load(text)


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
