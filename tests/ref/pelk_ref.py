#!/usr/bin/python3
"""Independent float64 PyTorch reference for PeLK ConvNets (CVPR 2024), used to test pelkc.

This file is written from the model description (summarised below), NOTES.md (sharing grids) and
the PeLK paper (sections 4.1-4.4), deliberately NOT from the compiler's code, so that the two
implementations can only agree if both follow the description.

The model (all LayerNorms are over channels, per pixel, biased variance, eps 1e-6):
  stem:   conv k x k stride s, no padding, with bias; LayerNorm.
  stage i > 0 starts with: LayerNorm; conv 2x2 stride 2, no padding, with bias (odd maps: floor).
  block (C channels, g = floor(partial*C), hidden = floor(mlp_ratio*C)):
          the first g channels go through the depthwise peripheral conv (stride 1, zero padding
          k//2, bias, kernel expanded from the compact theta by the sharing grids, plus the stage's
          kernel-wise positional embedding h in mode constant / border / none), the other C-g
          channels pass unchanged; LayerNorm; fc1; exact GELU; fc2; times gamma; plus the block
          input.
          Optional training-time parts of the conv (checkpoints from training; see block_conv):
          a BatchNorm after the peripheral conv, and a parallel small dense depthwise kernel
          (s x s, no bias) with an optional BatchNorm of its own:
            y = BN(periph_conv(x) + kpe_term) + BN_small(small_conv(x))   on the first g channels.
  head:   global average pool; LayerNorm; linear.

Contents:
  * spec loading (YAML) with defaults and validation,
  * the sharing-grid rule {center: c, base: m} (paper Eq. 2, NOTES.md section 1) and grid expansion
    (paper Eq. 1),
  * a minimal safetensors reader / writer (Debian has no safetensors package),
  * random_weights(): weights whose magnitudes make every part of the network visibly matter,
  * forward(): the float64 forward pass, written with plain torch.nn.functional calls (dense
    depthwise conv on the expanded kernel: slow but obviously right).

CLI:
  pelk_ref.py forward SPEC --weights W.safetensors --input X.npy --output Y.npy
  pelk_ref.py weights SPEC --seed S [--bn] [--small S] -o W.safetensors
  pelk_ref.py grid K '{center: 5, base: 2}'
"""

import argparse
import json
import math
import os
import struct
import sys
from fractions import Fraction

import numpy as np
import torch
import torch.nn.functional as F
import yaml

LN_EPS = 1e-6
BN_EPS = 1e-5
BN_LEAVES = ("weight", "bias", "running_mean", "running_var")
KPE_MODES = ("constant", "border", "none")
DEFAULT_GRID = {"center": 5, "base": 2}


# ----------------------------------------------------------------------------------------------
# Sharing grids
# ----------------------------------------------------------------------------------------------

def rule_grid(k, center, base):
    """Full sharing grid for an odd kernel size k from the rule {center: c, base: m}.

    NOTES.md section 1: half radius r = (k-1)/2, central radius rc = (c-1)/2. Going outward from
    the centre tap, rings 1..rc have size 1, ring rc+j has size m^j while the running half-sum stays
    <= r; the last ring is cut to the remainder so that the half sums to exactly r (no ring when the
    remainder is 0). Full grid = reversed(half) + [1] + half.
    A centre at least as wide as the kernel leaves no peripheral ring: the grid is all ones (dense).
    """
    k, center, base = int(k), int(center), int(base)
    if k < 1 or k % 2 == 0:
        raise ValueError(f"kernel size must be odd and >= 1, got {k}")
    if center < 1 or center % 2 == 0:
        raise ValueError(f"grid center must be odd and >= 1, got {center}")
    if base < 1:
        raise ValueError(f"grid base must be >= 1, got {base}")
    r = (k - 1) // 2
    rc = (center - 1) // 2
    # Fine-grained central rings, capped at r: a centre wider than the kernel gives a dense kernel.
    half = [1] * min(rc, r)
    total = len(half)
    j = 1
    while total < r:
        ring = base ** j
        if total + ring > r:
            ring = r - total  # cut the last ring to the remainder (> 0 here because total < r)
        half.append(ring)
        total += ring
        j += 1
    grid = half[::-1] + [1] + half
    assert sum(grid) == k
    return grid


def _side_grid(k, g, what):
    """One axis of a grid: an explicit list (must sum to k) or a rule dict."""
    if isinstance(g, dict):
        unknown = set(g) - {"center", "base"}
        if unknown:
            raise ValueError(f"{what}: unknown rule keys {sorted(unknown)}")
        return rule_grid(k, g.get("center", DEFAULT_GRID["center"]), g.get("base", DEFAULT_GRID["base"]))
    if isinstance(g, (list, tuple)):
        sizes = [int(s) for s in g]
        if any(s != v or s < 1 for s, v in zip(sizes, g)):
            raise ValueError(f"{what}: grid entries must be positive integers, got {g}")
        if sum(sizes) != k:
            raise ValueError(f"{what}: grid {sizes} sums to {sum(sizes)}, not to the kernel size {k}")
        return sizes
    raise ValueError(f"{what}: a grid must be a list or a {{center, base}} rule, got {g!r}")


def resolve_grid(k, grid, what="grid"):
    """(row_grid, col_grid) for kernel size k from a spec grid value (None = default rule).

    Forms: a rule {center, base} or a list (same grid on both axes), or {rows: X, cols: Y} where each
    side is a list or a rule. Rows index the kernel height (weight dim -2), cols its width (dim -1).
    """
    if k < 1 or k % 2 == 0:
        raise ValueError(f"{what}: kernel size must be odd and >= 1, got {k}")
    if grid is None:
        grid = dict(DEFAULT_GRID)
    if isinstance(grid, dict) and ("rows" in grid or "cols" in grid):
        if set(grid) != {"rows", "cols"}:
            raise ValueError(f"{what}: a rows/cols grid needs exactly the keys rows and cols, got {sorted(grid)}")
        return _side_grid(k, grid["rows"], what + ".rows"), _side_grid(k, grid["cols"], what + ".cols")
    g = _side_grid(k, grid, what)
    return g, list(g)


def expand_kernel(theta, row_grid, col_grid):
    """Dense kernel W[..., x, y] = theta[..., a, b] for x in row region a, y in col region b (Eq. 1).

    Regions are consecutive runs of the grid sizes, so repeating entry a of the compact kernel
    row_grid[a] times along the height (and likewise for the width) is exactly Eq. 1.
    """
    assert theta.shape[-2] == len(row_grid) and theta.shape[-1] == len(col_grid), (theta.shape, row_grid, col_grid)
    rows = torch.tensor(row_grid, dtype=torch.long)
    cols = torch.tensor(col_grid, dtype=torch.long)
    return torch.repeat_interleave(torch.repeat_interleave(theta, rows, dim=-2), cols, dim=-1)


# ----------------------------------------------------------------------------------------------
# Spec
# ----------------------------------------------------------------------------------------------

def _exact_floor(factor, n):
    """floor(factor * n) computed on the decimal value written in the spec (0.29*100 -> 29, not 28).

    The spec defines g = floor(partial * C) on the number as written; double arithmetic can fall
    just below an integer (0.29 * 100 = 28.999...), so the exact rational value is used.
    tests/specs/v14 holds such a case.
    """
    return math.floor((Fraction(repr(factor)) if isinstance(factor, float) else Fraction(factor)) * n)


def load_spec(path_or_dict):
    """Load and normalise a model spec (a YAML file path, or the dict parsed from one).

    Returns a dict with every default filled in and, per stage, the derived sizes:
    g (conv channels), hidden (MLP width), rows/cols (full grids), and the feature-map size.
    """
    if isinstance(path_or_dict, dict):
        raw = path_or_dict
    else:
        with open(path_or_dict) as f:
            raw = yaml.safe_load(f)
    if not isinstance(raw, dict):
        raise ValueError("spec must be a YAML mapping")
    known = {"name", "input", "stem", "stages", "block", "head"}
    if set(raw) - known:
        raise ValueError(f"unknown top-level spec keys {sorted(set(raw) - known)}")

    inp = raw["input"]
    spec = {
        "name": raw.get("name", "model"),
        "input": {"channels": int(inp["channels"]), "height": int(inp["height"]), "width": int(inp["width"])},
        "stem": {"kernel": int(raw["stem"]["kernel"]), "stride": int(raw["stem"]["stride"])},
    }
    block = raw.get("block") or {}
    if set(block) - {"partial", "mlp_ratio", "kpe"}:
        raise ValueError(f"unknown block keys {sorted(set(block) - {'partial', 'mlp_ratio', 'kpe'})}")
    spec["block"] = {
        "partial": block.get("partial", 0.375),
        "mlp_ratio": block.get("mlp_ratio", 4),
        "kpe": block.get("kpe", "constant"),
    }
    if spec["block"]["kpe"] not in KPE_MODES:
        raise ValueError(f"block.kpe must be one of {KPE_MODES}, got {spec['block']['kpe']!r}")
    if not (0 <= float(spec["block"]["partial"]) <= 1):
        raise ValueError("block.partial must be in [0, 1]")
    if not float(spec["block"]["mlp_ratio"]) > 0:
        raise ValueError("block.mlp_ratio must be > 0")
    if spec["stem"]["kernel"] < 1 or spec["stem"]["stride"] < 1 or min(spec["input"].values()) < 1:
        raise ValueError("input sizes, stem.kernel and stem.stride must be >= 1")
    spec["head"] = {"classes": int((raw.get("head") or {}).get("classes", 1000))}

    # Feature-map size: the stem conv has no padding, the downsample convs are 2x2 stride 2 (floor).
    h = (spec["input"]["height"] - spec["stem"]["kernel"]) // spec["stem"]["stride"] + 1
    w = (spec["input"]["width"] - spec["stem"]["kernel"]) // spec["stem"]["stride"] + 1
    if h < 1 or w < 1:
        raise ValueError("input smaller than the stem kernel")
    stages = []
    if not raw.get("stages"):
        raise ValueError("spec needs at least one stage")
    for i, st in enumerate(raw["stages"]):
        if set(st) - {"dim", "depth", "kernel", "grid"}:
            raise ValueError(f"stages.{i}: unknown keys {sorted(set(st) - {'dim', 'depth', 'kernel', 'grid'})}")
        if i > 0:
            h, w = h // 2, w // 2
            if h < 1 or w < 1:
                raise ValueError(f"stages.{i}: feature map vanishes in the downsample")
        dim, depth, k = int(st["dim"]), int(st["depth"]), int(st["kernel"])
        if dim < 1 or depth < 0:
            raise ValueError(f"stages.{i}: dim must be >= 1 and depth >= 0")
        rows, cols = resolve_grid(k, st.get("grid"), f"stages.{i}.grid")
        stages.append({
            "dim": dim, "depth": depth, "kernel": k, "rows": rows, "cols": cols,
            "g": _exact_floor(spec["block"]["partial"], dim),
            "hidden": _exact_floor(spec["block"]["mlp_ratio"], dim),
            "height": h, "width": w,
        })
    spec["stages"] = stages
    spec["_normalised"] = True
    return spec


def as_spec(spec):
    """A normalised spec from a path, a raw dict, or an already normalised spec."""
    return spec if isinstance(spec, dict) and spec.get("_normalised") else load_spec(spec)


def weight_shapes(spec, bn=False, small=None, small_bn=None):
    """Ordered dict name -> shape of every tensor the model has (the safetensors contract).

    Without arguments: the tensors every checkpoint must have. The optional training-time parts
    of each block with a conv (g > 0) are added on request, to every such block:
      bn=True:   {b}.conv.bn.{weight,bias,running_mean,running_var}        [g] each
      small=s:   {b}.conv.small.weight                                      [g, 1, s, s] (s odd)
      small_bn:  {b}.conv.small_bn.{weight,bias,running_mean,running_var}  [g] each
                 (needs small; default: bn and small is given)
    A checkpoint may mix these per block (see expected_shapes, which forward uses).
    """
    if small is not None and (int(small) != small or small < 1 or small % 2 == 0):
        raise ValueError(f"small kernel size must be odd and >= 1, got {small}")
    if small_bn is None:
        small_bn = bool(bn) and small is not None
    if small_bn and small is None:
        raise ValueError("small_bn needs a small kernel")
    s = {}
    c_in = spec["input"]["channels"]
    c0 = spec["stages"][0]["dim"]
    sk = spec["stem"]["kernel"]
    s["stem.weight"] = (c0, c_in, sk, sk)
    s["stem.bias"] = (c0,)
    s["stem_norm.weight"] = (c0,)
    s["stem_norm.bias"] = (c0,)
    prev = c0
    for i, st in enumerate(spec["stages"]):
        c, g, hid, k = st["dim"], st["g"], st["hidden"], st["kernel"]
        p = f"stages.{i}"
        if i > 0:
            s[f"{p}.downsample.norm.weight"] = (prev,)
            s[f"{p}.downsample.norm.bias"] = (prev,)
            s[f"{p}.downsample.conv.weight"] = (c, prev, 2, 2)
            s[f"{p}.downsample.conv.bias"] = (c,)
        if g > 0 and spec["block"]["kpe"] != "none":
            s[f"{p}.kpe"] = (g, k, k)
        for j in range(st["depth"]):
            b = f"{p}.blocks.{j}"
            if g > 0:
                s[f"{b}.conv.weight"] = (g, 1, len(st["rows"]), len(st["cols"]))
                s[f"{b}.conv.bias"] = (g,)
                if bn:
                    for leaf in BN_LEAVES:
                        s[f"{b}.conv.bn.{leaf}"] = (g,)
                if small is not None:
                    s[f"{b}.conv.small.weight"] = (g, 1, int(small), int(small))
                if small_bn:
                    for leaf in BN_LEAVES:
                        s[f"{b}.conv.small_bn.{leaf}"] = (g,)
            s[f"{b}.norm.weight"] = (c,)
            s[f"{b}.norm.bias"] = (c,)
            s[f"{b}.fc1.weight"] = (hid, c)
            s[f"{b}.fc1.bias"] = (hid,)
            s[f"{b}.fc2.weight"] = (c, hid)
            s[f"{b}.fc2.bias"] = (c,)
            s[f"{b}.gamma"] = (c,)
        prev = c
    s["head_norm.weight"] = (prev,)
    s["head_norm.bias"] = (prev,)
    s["head.weight"] = (spec["head"]["classes"], prev)
    s["head.bias"] = (spec["head"]["classes"],)
    return s


def _bn_present(weights, prefix):
    """True if all four BatchNorm tensors prefix.{weight,bias,running_mean,running_var} are in
    weights, False if none is; a partial set is an error."""
    have = [leaf for leaf in BN_LEAVES if f"{prefix}.{leaf}" in weights]
    if have and len(have) != len(BN_LEAVES):
        missing = [f"{prefix}.{leaf}" for leaf in BN_LEAVES if leaf not in have]
        raise ValueError(f"incomplete BatchNorm {prefix}: missing {missing}")
    return bool(have)


def expected_shapes(spec, weights):
    """name -> shape of every tensor a checkpoint with these weights must have.

    The required tensors of weight_shapes(spec) plus, per block with a conv, the optional parts
    found in weights: a BatchNorm (all four tensors or none), a small kernel [g, 1, s, s] with s
    odd (any s, even larger than the kernel or the map), and a small-kernel BatchNorm (only with
    a small kernel). Raises ValueError for an inconsistent set; tensors not listed in the result
    are unexpected (forward reports them, e.g. a BatchNorm on a block without conv).
    """
    spec = as_spec(spec)
    out = {}
    for name, shp in weight_shapes(spec).items():
        out[name] = shp
        if not (name.endswith(".conv.bias") and ".blocks." in name):
            continue
        b, g = name[:-len(".conv.bias")], shp[0]
        if _bn_present(weights, f"{b}.conv.bn"):
            for leaf in BN_LEAVES:
                out[f"{b}.conv.bn.{leaf}"] = (g,)
        small = f"{b}.conv.small.weight"
        if small in weights:
            shs = tuple(np.shape(weights[small]))
            if len(shs) != 4 or shs[:2] != (g, 1) or shs[2] != shs[3] or shs[2] % 2 == 0:
                raise ValueError(f"{small}: shape {shs}, expected [{g}, 1, s, s] with s odd")
            out[small] = shs
        if _bn_present(weights, f"{b}.conv.small_bn"):
            if small not in weights:
                raise ValueError(f"{b}.conv.small_bn without {small}")
            for leaf in BN_LEAVES:
                out[f"{b}.conv.small_bn.{leaf}"] = (g,)
    return out


# ----------------------------------------------------------------------------------------------
# safetensors
# ----------------------------------------------------------------------------------------------

_ST_DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "F16": np.dtype("<f2"),
              "I64": np.dtype("<i8"), "I32": np.dtype("<i4")}


def save_safetensors(path, tensors, metadata=None):
    """Write name -> array as safetensors: u64 LE header length, JSON header, raw LE data.

    Tensors are stored in name order, contiguous; the header is padded with spaces to a multiple
    of 8 bytes so the data section is 8-byte aligned.
    """
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.asarray(tensors[name])
        tag = next((t for t, d in _ST_DTYPES.items() if a.dtype.kind == d.kind and a.dtype.itemsize == d.itemsize), None)
        if tag is None:
            raise ValueError(f"{name}: unsupported dtype {a.dtype}")
        data = np.ascontiguousarray(a, dtype=_ST_DTYPES[tag]).tobytes()  # little-endian, C order
        header[name] = {"dtype": tag, "shape": list(a.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * (-len(hjson) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_safetensors(path):
    """Read a safetensors file into a dict name -> numpy array (native byte order copies)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise ValueError(f"{path}: header length {n} exceeds file size")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = memoryview(raw)[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = _ST_DTYPES.get(info["dtype"])
        if dt is None:
            raise ValueError(f"{path}: {name}: unsupported dtype {info['dtype']}")
        b, e = info["data_offsets"]
        shape = tuple(info["shape"])
        if not (0 <= b <= e <= len(data)) or (e - b) != dt.itemsize * int(np.prod(shape, dtype=np.int64)):
            raise ValueError(f"{path}: {name}: bad data_offsets {info['data_offsets']} for shape {shape}")
        out[name] = np.frombuffer(data[b:e], dtype=dt).reshape(shape).astype(dt.newbyteorder("="))
    return out


# ----------------------------------------------------------------------------------------------
# Random weights
# ----------------------------------------------------------------------------------------------

def random_weights(spec, rng, bn=False, small=None):
    """Random float32 weights for every tensor of the model, scaled so that every part matters.

    Scales (rng is a numpy Generator):
      * convs / linears: normal with std 1/sqrt(fan_in), so activations stay O(1);
      * the peripheral conv's compact weight: std 1/k, i.e. fan-in scaling for the k*k dense kernel
        it expands to (each compact entry is repeated over its region);
      * LayerNorm weight 1 + 0.2 N(0,1), bias 0.2 N(0,1) (non-trivial affine);
      * biases 0.2 N(0,1) (conv bias 0.3 N(0,1));
      * gamma (layer scale): |gamma| uniform in [0.5, 1] with a random sign, so no block is hidden
        behind a tiny layer scale yet the residual stream only grows like sqrt(depth);
      * kpe h: 0.3 N(0,1), which makes the kpe term of the same order as the conv bias.
    Optional training-time parts (every block with a conv gets them; see weight_shapes):
      * bn=True: a BatchNorm after the peripheral conv and, with small, one after the small conv;
        BN weight uniform in [0.5, 1.5] (around 1 with spread, never near 0), BN bias 0.3 N(0,1),
        running_mean 0.5 N(0,1) (the conv output is O(1), so the shift is visible), running_var
        uniform in [0.5, 2] (scales 0.7..1.4);
      * small=s: the parallel s x s kernel, std 1/s (fan-in), so its branch is O(1) like the
        peripheral one.
    The required tensors are drawn first, in the same order as without the optional parts, so one
    seed gives the same base model with or without them.
    """
    spec = as_spec(spec)
    out = {}

    def normal(shape, std):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    base = weight_shapes(spec)
    for name, shape in base.items():
        leaf = name.rsplit(".", 1)[-1]
        if name.endswith("norm.weight"):
            w = 1.0 + normal(shape, 0.2)
        elif name.endswith("norm.bias"):
            w = normal(shape, 0.2)
        elif leaf == "gamma":
            w = (rng.uniform(0.5, 1.0, shape) * rng.choice([-1.0, 1.0], shape)).astype(np.float32)
        elif leaf == "kpe":
            w = normal(shape, 0.3)
        elif name.endswith("conv.weight") and ".blocks." in name:
            k = spec["stages"][int(name.split(".")[1])]["kernel"]
            w = normal(shape, 1.0 / k)
        elif name.endswith("conv.bias") and ".blocks." in name:
            w = normal(shape, 0.3)
        elif leaf == "weight":  # stem, downsample conv, fc1, fc2, head: fan-in scaled
            fan_in = int(np.prod(shape[1:]))
            w = normal(shape, 1.0 / math.sqrt(fan_in))
        elif leaf == "bias":
            w = normal(shape, 0.2)
        else:
            raise AssertionError(name)
        out[name] = np.asarray(w, dtype=np.float32)
    for name, shape in weight_shapes(spec, bn=bn, small=small).items():
        if name in base:
            continue
        leaf = name.rsplit(".", 1)[-1]
        if name.endswith(".conv.small.weight"):
            w = normal(shape, 1.0 / shape[-1])
        elif leaf == "weight":  # BatchNorm scale
            w = rng.uniform(0.5, 1.5, shape)
        elif leaf == "bias":
            w = normal(shape, 0.3)
        elif leaf == "running_mean":
            w = normal(shape, 0.5)
        elif leaf == "running_var":
            w = rng.uniform(0.5, 2.0, shape)
        else:
            raise AssertionError(name)
        out[name] = np.asarray(w, dtype=np.float32)
    return out


# ----------------------------------------------------------------------------------------------
# Forward pass (float64)
# ----------------------------------------------------------------------------------------------

def layer_norm_channels(x, weight, bias, eps=LN_EPS):
    """LayerNorm over the channel dim of NCHW: per pixel mean and biased variance over C."""
    mean = x.mean(dim=1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight[None, :, None, None] + bias[None, :, None, None]


def peripheral_conv(x, theta, bias, rows, cols, h=None, kpe="none"):
    """Depthwise peripheral conv on x [N, g, H, W] (stride 1, zero padding k//2) with kpe.

    theta [g, 1, k'_rows, k'_cols] is expanded to the dense W [g, 1, k, k]. With a kpe h [g, k, k]
    (paper Eq. 3: every tap sees X + h):
      constant: h is added at all k*k taps, padding included -> extra per-channel constant sum(W*h);
      border:   h is added only at taps inside the image -> extra term conv(ones image, W*h), a
                fixed per-channel map (the ones image is zero-padded like X).
    """
    g = theta.shape[0]
    wt = expand_kernel(theta, rows, cols)
    k = wt.shape[-1]
    pad = k // 2
    y = F.conv2d(x, wt, bias, stride=1, padding=pad, groups=g)
    if kpe == "constant":
        y = y + (wt[:, 0] * h).sum(dim=(1, 2))[None, :, None, None]
    elif kpe == "border":
        ones = torch.ones((1, g) + tuple(x.shape[2:]), dtype=x.dtype)
        y = y + F.conv2d(ones, wt * h[:, None], None, stride=1, padding=pad, groups=g)
    elif kpe != "none":
        raise ValueError(kpe)
    return y


def _fft_correlate(x, w):
    """Depthwise cross-correlation of x [N, g, H, W] with w [g, kh, kw] (odd sizes), zero padding
    (kh//2, kw//2), stride 1, by float64 FFTs: what F.conv2d(x, w[:, None], padding=k//2,
    groups=g) computes, without F.conv2d's k*k*H*W im2col buffer.

    y[i, j] = sum_ab w[a, b] x[i + a - r, j + b - c] is the full linear convolution of x with the
    flipped kernel, read at offset (r, c); FFT sizes >= H + kh - 1 and W + kw - 1 avoid any wrap.
    """
    n, g, H, W = x.shape
    kh, kw = w.shape[-2:]
    r, c = kh // 2, kw // 2
    L0, L1 = H + kh - 1, W + kw - 1
    X = torch.fft.rfft2(x.to(torch.float64), s=(L0, L1))
    K = torch.fft.rfft2(torch.flip(w.to(torch.float64), dims=(-2, -1)), s=(L0, L1))
    full = torch.fft.irfft2(X * K[None], s=(L0, L1))
    return full[..., r:r + H, c:c + W]


def peripheral_conv_fft(x, theta, bias, rows, cols, h=None, kpe="none"):
    """peripheral_conv computed with float64 FFTs instead of F.conv2d (same maths, same arguments).

    For large maps and kernels (e.g. 512x128 with k = 151) where F.conv2d's float64 im2col would
    need k*k*H*W doubles (12 GB). The rounding error is about 1e-16 times the largest values
    involved, so it stays far below the 1e-5 test tolerance even for inputs with a large offset.
    test_reference.py checks it against peripheral_conv.
    """
    wt = expand_kernel(theta, rows, cols)[:, 0]  # [g, k, k]
    g = wt.shape[0]
    y = _fft_correlate(x, wt) + bias[None, :, None, None]
    if kpe == "constant":
        y = y + (wt * h).sum(dim=(1, 2))[None, :, None, None]
    elif kpe == "border":
        ones = torch.ones((1, g) + tuple(x.shape[2:]), dtype=torch.float64)
        y = y + _fft_correlate(ones, wt * h)
    elif kpe != "none":
        raise ValueError(kpe)
    return y


def batch_norm_channels(z, weight, bias, mean, var, eps=BN_EPS):
    """Inference-mode BatchNorm on NCHW: per channel (z - mean) / sqrt(var + eps) * weight + bias."""
    def c(t):
        return t[None, :, None, None]
    return (z - c(mean)) / torch.sqrt(c(var) + eps) * c(weight) + c(bias)


def block_conv(x, wt, b, rows, cols, h=None, kpe="none"):
    """The conv part of block b on its g conv channels x [N, g, H, W]; wt: name -> tensor.

      y = BN(periph_conv(x) + kpe_term) + BN_small(small_conv(x))
    periph_conv includes {b}.conv.bias and kpe_term is the stage's kpe (peripheral_conv). Each
    optional part is used when its tensors are in wt: BN = {b}.conv.bn.*, small_conv =
    {b}.conv.small.weight (s x s depthwise, stride 1, zero padding s//2, no bias), BN_small =
    {b}.conv.small_bn.*. Without BN the first term is the bare peripheral conv, without BN_small
    the second term is the bare small conv, without a small kernel there is no second term.
    """
    y = peripheral_conv(x, wt[f"{b}.conv.weight"], wt[f"{b}.conv.bias"], rows, cols, h, kpe)
    if f"{b}.conv.bn.weight" in wt:
        y = batch_norm_channels(y, *(wt[f"{b}.conv.bn.{leaf}"] for leaf in BN_LEAVES))
    if f"{b}.conv.small.weight" in wt:
        ws = wt[f"{b}.conv.small.weight"]
        ys = F.conv2d(x, ws, None, stride=1, padding=ws.shape[-1] // 2, groups=x.shape[1])
        if f"{b}.conv.small_bn.weight" in wt:
            ys = batch_norm_channels(ys, *(wt[f"{b}.conv.small_bn.{leaf}"] for leaf in BN_LEAVES))
        y = y + ys
    elif f"{b}.conv.small_bn.weight" in wt:
        raise ValueError(f"{b}.conv.small_bn without {b}.conv.small.weight")
    return y


def _linear_channels(x, weight, bias):
    """A 1x1 (pointwise) linear layer on NCHW, done as F.linear over NHWC."""
    return F.linear(x.permute(0, 2, 3, 1), weight, bias).permute(0, 3, 1, 2)


def forward(spec, weights, x, trace=None, dtype=torch.float64):
    """Float64 forward pass. spec: path / raw dict / loaded spec; weights: name -> array; x: NCHW.

    Returns a float64 torch tensor [N, classes]. trace, if given, is called as trace(name, tensor)
    on intermediate results (stem, downsamples, each block's conv output and output, pooled
    features), which helps to locate where a compiled model starts to diverge. dtype exists only to
    study float32 rounding (e.g. a float32 run of this same code); the reference is float64.
    """
    trace = trace or (lambda name, t: None)
    spec = as_spec(spec)
    shapes = expected_shapes(spec, weights)  # required tensors plus the optional parts present
    missing = [n for n in shapes if n not in weights]
    extra = [n for n in weights if n not in shapes]
    if missing or extra:
        raise ValueError(f"weights do not match the spec: missing {missing[:5]}, unexpected {extra[:5]}")
    wt = {}
    for n, shp in shapes.items():
        t = torch.as_tensor(np.asarray(weights[n]), dtype=dtype)
        if tuple(t.shape) != tuple(shp):
            raise ValueError(f"{n}: shape {tuple(t.shape)}, expected {tuple(shp)}")
        wt[n] = t
    x = torch.as_tensor(np.asarray(x), dtype=dtype)
    exp = (spec["input"]["channels"], spec["input"]["height"], spec["input"]["width"])
    if x.dim() != 4 or tuple(x.shape[1:]) != exp:
        raise ValueError(f"input shape {tuple(x.shape)}, expected [N, {exp[0]}, {exp[1]}, {exp[2]}]")
    kpe = spec["block"]["kpe"]

    with torch.no_grad():
        x = F.conv2d(x, wt["stem.weight"], wt["stem.bias"], stride=spec["stem"]["stride"])
        x = layer_norm_channels(x, wt["stem_norm.weight"], wt["stem_norm.bias"])
        trace("stem", x)
        for i, st in enumerate(spec["stages"]):
            p = f"stages.{i}"
            if i > 0:
                x = layer_norm_channels(x, wt[f"{p}.downsample.norm.weight"], wt[f"{p}.downsample.norm.bias"])
                x = F.conv2d(x, wt[f"{p}.downsample.conv.weight"], wt[f"{p}.downsample.conv.bias"], stride=2)
                trace(f"{p}.downsample", x)
            g = st["g"]
            h = wt.get(f"{p}.kpe")  # shared by all blocks of the stage
            for j in range(st["depth"]):
                b = f"{p}.blocks.{j}"
                if g > 0:
                    # Partial conv: first g channels through the peripheral conv, the rest unchanged.
                    # (with the optional BatchNorms / small kernel when the checkpoint has them)
                    yc = block_conv(x[:, :g], wt, b, st["rows"], st["cols"], h, kpe if h is not None else "none")
                    trace(f"{b}.conv", yc)
                    y = torch.cat([yc, x[:, g:]], dim=1)
                else:
                    y = x
                y = layer_norm_channels(y, wt[f"{b}.norm.weight"], wt[f"{b}.norm.bias"])
                y = _linear_channels(y, wt[f"{b}.fc1.weight"], wt[f"{b}.fc1.bias"])
                y = F.gelu(y)  # exact erf form (torch's default approximate='none')
                y = _linear_channels(y, wt[f"{b}.fc2.weight"], wt[f"{b}.fc2.bias"])
                x = x + wt[f"{b}.gamma"][None, :, None, None] * y  # residual: the block input
                trace(b, x)
        x = x.mean(dim=(2, 3))  # global average pool -> [N, C]
        trace("pool", x)
        mean = x.mean(dim=1, keepdim=True)
        var = ((x - mean) ** 2).mean(dim=1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + LN_EPS) * wt["head_norm.weight"] + wt["head_norm.bias"]
        return F.linear(x, wt["head.weight"], wt["head.bias"])


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------

def set_threads():
    """Use every core (the machine has 2); torch's default can be lower inside containers."""
    n = int(os.environ.get("PELK_REF_THREADS", "0")) or (os.cpu_count() or 1)
    torch.set_num_threads(n)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("forward", help="run the float64 reference")
    f.add_argument("spec")
    f.add_argument("--weights", required=True)
    f.add_argument("--input", required=True, help="float32 NCHW .npy")
    f.add_argument("--output", required=True, help="float64 [N, classes] .npy")
    w = sub.add_parser("weights", help="write random weights")
    w.add_argument("spec")
    w.add_argument("--seed", type=int, required=True)
    w.add_argument("--bn", action="store_true", help="add BatchNorms after the conv (and the small conv)")
    w.add_argument("--small", type=int, default=None, metavar="S", help="add a parallel S x S kernel to every conv")
    w.add_argument("-o", "--output", required=True)
    g = sub.add_parser("grid", help="print the full grid for kernel K")
    g.add_argument("kernel", type=int)
    g.add_argument("grid", help="YAML flow syntax, e.g. '{center: 5, base: 2}' or '[2, 1, 2]'")
    a = ap.parse_args(argv)

    if a.cmd == "forward":
        set_threads()
        spec = load_spec(a.spec)
        x = np.load(a.input)
        y = forward(spec, load_safetensors(a.weights), x)
        np.save(a.output, y.numpy().astype(np.float64))
    elif a.cmd == "weights":
        spec = load_spec(a.spec)
        meta = {"spec": spec["name"], "seed": a.seed}
        if a.bn or a.small is not None:
            meta.update(bn=a.bn, small=a.small)
        save_safetensors(a.output, random_weights(spec, np.random.default_rng(a.seed), bn=a.bn, small=a.small), meta)
    elif a.cmd == "grid":
        rows, cols = resolve_grid(a.kernel, yaml.safe_load(a.grid))
        if rows == cols:
            print(" ".join(map(str, rows)))
        else:
            print("rows: " + " ".join(map(str, rows)))
            print("cols: " + " ".join(map(str, cols)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
