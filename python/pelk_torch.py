"""A trainable PyTorch PeLK built from a pelkc model spec (YAML), float32.

    model = PeLK.from_spec("examples/fashion_mnist.yaml")            # inference-form model
    model = PeLK.from_spec(path, bn=True, small=5)                   # with the training-time parts
    model.export("w.safetensors")                                    # then: pelkc compile SPEC --weights w.safetensors

state_dict() names are exactly pelkc's weight names (spec/SPEC.md "Weights"), so the export is the
state dict written as F32 safetensors. The network is the one spec/SPEC.md describes: stem conv +
LayerNorm; per stage a LayerNorm + 2x2 stride-2 downsample (stage > 0) and blocks of [peripheral
depthwise conv on the first g = floor(partial * C) channels, LayerNorm, fc1, exact GELU, fc2, times
gamma, residual]; a kernel-wise positional embedding (kpe) per stage; head: global average pool,
LayerNorm, linear.

The peripheral conv is trained in its compact form: the parameter is theta [g, 1, k'_rows,
k'_cols]. Two implementations compute it (PeripheralConv's impl, PeLK's impl or set_impl):
  "pelkc"  pelkc's generated training kernels (python/pelkc_train.py, spec/TRAIN.md): forward and
           backward in O(k'_rows * k'_cols) per pixel from box sums, never a dense kernel; the
           default when build/pelkc (or $PELKC_BIN) and a C compiler are there;
  "dense"  theta expanded to the dense k x k kernel with repeat_interleave over the sharing grid
           (paper Eq. 1) and F.conv2d depthwise (or a Toeplitz matrix product on small maps),
           O(k^2) per pixel: the reference, and the fallback (said once) when pelkc is missing or
           the tensor is one its kernels do not take (CUDA, float16).
Optional training-time parts (bn=True, small=s), which pelkc folds away at compile time:
    y = BN(periph_conv(x) + kpe_term) + BN_small(small_conv(x))     on the first g channels
with BatchNorms (eps 1e-5) named conv.bn.* / conv.small_bn.* (small_bn exists when both are on) and
the s x s dense depthwise kernel conv.small.weight (no bias). In eval mode the BatchNorms use their
running statistics, as pelkc does.

This file is independent of tests/ref/pelk_ref.py (the float64 reference the tests check pelkc
against); it is written from spec/SPEC.md.
"""

import math
import warnings
from fractions import Fraction

import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml

import pelkc_train
import safetensors_io

LN_EPS = 1e-6
BN_EPS = 1e-5
DEFAULT_GRID = {"center": 5, "base": 2}
# Maps up to this many pixels run the peripheral conv as a matrix product (see _conv_matrix).
TOEPLITZ_MAX_PIXELS = 1024
IMPLS = ("pelkc", "dense")
# The torch.profiler range around each peripheral conv's forward (PeripheralConv.forward).
PROFILE_LABEL = "pelk.peripheral_conv"


# ---- the spec -------------------------------------------------------------------------------

def rule_grid(k, center, base):
    """The sharing grid for odd kernel k from the rule {center: c, base: m} (spec/SPEC.md, paper
    Eq. 2): rings outward from the centre tap are 1 (rc = (c-1)/2 of them, at most r = (k-1)/2),
    then m, m^2, ... while the half stays <= r, the last cut to the remainder."""
    r, rc = (k - 1) // 2, min((center - 1) // 2, (k - 1) // 2)
    half, ring = [1] * rc, 1
    while sum(half) < r:
        ring *= base
        half.append(min(ring, r - sum(half)))
    return half[::-1] + [1] + half


def _axis_grid(k, g):
    if isinstance(g, dict):
        return rule_grid(k, int(g.get("center", 5)), int(g.get("base", 2)))
    if sum(g) != k:
        raise ValueError(f"grid {g} sums to {sum(g)} but the kernel is {k}")
    return [int(s) for s in g]


def resolve_grid(k, grid):
    """(rows, cols) full grids from a spec grid: a rule or list (both axes) or {rows, cols}."""
    if grid is None:
        grid = DEFAULT_GRID
    if isinstance(grid, dict) and "rows" in grid:
        return _axis_grid(k, grid["rows"]), _axis_grid(k, grid["cols"])
    g = _axis_grid(k, grid)
    return g, list(g)


def _floor_mul(number, n):
    """floor(number * n) on the decimal as written (0.29 * 100 = 29), as pelkc's parser does."""
    return math.floor((Fraction(repr(number)) if isinstance(number, float) else Fraction(number)) * n)


def load_spec(path_or_dict):
    """A plain dict with every default filled in and, per stage, g, hidden, rows, cols, map size.

    Validation is pelkc's job (`pelkc check`); this only derives what the module needs.
    """
    if isinstance(path_or_dict, dict):
        raw = path_or_dict
    else:
        with open(path_or_dict) as f:
            raw = yaml.safe_load(f)
    block = dict(raw.get("block") or {})
    stem = dict(raw.get("stem") or {})
    spec = {
        "name": raw["name"],
        "input": {k: int(raw["input"][k]) for k in ("channels", "height", "width")},
        "stem": {"kernel": int(stem.get("kernel", 4)), "stride": int(stem.get("stride", 4))},
        "block": {"partial": block.get("partial", 0.375), "mlp_ratio": block.get("mlp_ratio", 4),
                  "kpe": block.get("kpe", "constant")},
        "classes": int((raw.get("head") or {}).get("classes", 1000)),
        "stages": [],
    }
    h = (spec["input"]["height"] - spec["stem"]["kernel"]) // spec["stem"]["stride"] + 1
    w = (spec["input"]["width"] - spec["stem"]["kernel"]) // spec["stem"]["stride"] + 1
    for i, st in enumerate(raw["stages"]):
        if i > 0:
            h, w = h // 2, w // 2
        dim, k = int(st["dim"]), int(st["kernel"])
        rows, cols = resolve_grid(k, st.get("grid"))
        spec["stages"].append({"dim": dim, "depth": int(st["depth"]), "kernel": k, "rows": rows, "cols": cols,
                               "g": _floor_mul(spec["block"]["partial"], dim),
                               "hidden": _floor_mul(spec["block"]["mlp_ratio"], dim),
                               "height": h, "width": w})
    return spec


# ---- layers (activations are NHWC inside the network: the per-pixel LayerNorms and MLPs work on
# ---- the last dim without permutes; state_dict() layouts are PyTorch's usual ones) -------------

class LayerNorm2d(nn.Module):
    """LayerNorm over the channels (last dim of NHWC; per pixel, biased variance, eps 1e-6)."""

    def __init__(self, c):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))

    def forward(self, x):
        return F.layer_norm(x, x.shape[-1:], self.weight, self.bias, LN_EPS)


class BatchNorm(nn.Module):
    """BatchNorm (eps 1e-5, momentum 0.1) over the last dim of NHWC whose state is exactly weight,
    bias, running_mean and running_var: nn.BatchNorm2d would add num_batches_tracked, which is not
    a pelkc weight."""

    def __init__(self, c):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.register_buffer("running_mean", torch.zeros(c))
        self.register_buffer("running_var", torch.ones(c))

    def forward(self, x):
        z = x.reshape(x.shape[0], -1, x.shape[-1]).transpose(1, 2)  # [N, C, HW] for F.batch_norm
        z = F.batch_norm(z, self.running_mean, self.running_var, self.weight, self.bias,
                         self.training, 0.1, BN_EPS)
        return z.transpose(1, 2).reshape(x.shape)


def patch_conv(x, conv, nchw_input=False):
    """conv (an nn.Conv2d without padding) on x, returning NHWC. A conv whose stride equals its
    kernel (the 2x2 downsample, a patchify stem) is a matrix product over non-overlapping patches,
    which PyTorch runs much faster on a CPU than its conv (and whose backward is a matrix product
    too); other convs use F.conv2d."""
    k, s = conv.kernel_size[0], conv.stride[0]
    if k != s:
        x = x if nchw_input else x.permute(0, 3, 1, 2)
        return F.conv2d(x, conv.weight, conv.bias, stride=s).permute(0, 2, 3, 1)
    if nchw_input:
        n, c, h, w = x.shape
        ho, wo = h // k, w // k
        p = x[:, :, :ho * k, :wo * k].reshape(n, c, ho, k, wo, k).permute(0, 2, 4, 1, 3, 5)
    else:
        n, h, w, c = x.shape
        ho, wo = h // k, w // k
        p = x[:, :ho * k, :wo * k].reshape(n, ho, k, wo, k, c).permute(0, 1, 3, 5, 2, 4)
    return F.linear(p.reshape(n, ho, wo, c * k * k), conv.weight.reshape(conv.weight.shape[0], -1), conv.bias)


_said = set()


def _say_once(message):
    """A fallback is said, once per reason, never silent."""
    if message not in _said:
        _said.add(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def default_impl():
    """"pelkc" when its training kernels can be built here, else "dense" (saying why, once)."""
    why = pelkc_train.unavailable()
    if why is None:
        return "pelkc"
    _say_once(f"pelk_torch: the peripheral convs train on the dense path: {why}")
    return "dense"


def check_impl(impl):
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {', '.join(IMPLS)} (or None: the default), got {impl!r}")
    return impl


class PeripheralConv(nn.Module):
    """Depthwise peripheral conv on g channels (stride 1, zero padding k//2, bias), trained in its
    compact form theta = weight [g, 1, k'_rows, k'_cols], plus the optional training-time parts.
    impl: "pelkc", "dense" or None (default_impl()); see the module docstring."""

    def __init__(self, g, kernel, rows, cols, bn=False, small=None, impl=None):
        super().__init__()
        self.kernel = kernel
        # An impl asked for raises on a tensor it cannot take; the default falls back, saying so.
        self._impl_asked = impl is not None
        self.impl = check_impl(impl) if impl is not None else default_impl()
        self.grid_rows, self.grid_cols = [int(v) for v in rows], [int(v) for v in cols]
        self.weight = nn.Parameter(torch.empty(g, 1, len(rows), len(cols)))
        self.bias = nn.Parameter(torch.zeros(g))
        # The grids are constants of the architecture, not weights: keep them out of state_dict().
        self.register_buffer("rows", torch.tensor(rows, dtype=torch.long), persistent=False)
        self.register_buffer("cols", torch.tensor(cols, dtype=torch.long), persistent=False)
        self._index_cache = {}
        self.bn = BatchNorm(g) if bn else None
        self.small = nn.Conv2d(g, g, small, padding=small // 2, groups=g, bias=False) if small else None
        self.small_bn = BatchNorm(g) if bn and small else None
        nn.init.normal_(self.weight, std=1.0 / kernel)  # fan-in k*k of the dense kernel

    def dense_kernel(self):
        """The dense [g, 1, k, k] kernel: theta repeated over each grid region (paper Eq. 1)."""
        return self.weight.repeat_interleave(self.rows, dim=2).repeat_interleave(self.cols, dim=3)

    def forward(self, x, kpe=None, mode="none"):
        """x: NHWC [N, H, W, g]; returns the conv's NHWC output. The conv itself (not the BatchNorms
        or the small kernel) runs inside the profiler range PROFILE_LABEL, which costs next to nothing
        when no profiler is on (bench/train_vs_torch.py counts it and its backward nodes)."""
        with torch.profiler.record_function(PROFILE_LABEL):
            if self._use_pelkc(x):
                y = pelkc_train.peripheral_conv(x.permute(0, 3, 1, 2), self.weight, self.bias,
                                                kpe if mode != "none" else None, self.kernel,
                                                self.grid_rows, self.grid_cols, mode).permute(0, 2, 3, 1)
            else:
                y = self._conv_dense(x, kpe, mode)
        if self.bn is not None:
            y = self.bn(y)
        if self.small is not None:
            ys = self.small(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
            y = y + (self.small_bn(ys) if self.small_bn is not None else ys)
        return y

    def _use_pelkc(self, x):
        if self.impl != "pelkc":
            return False
        try:
            pelkc_train.check_supported(x)
        except pelkc_train.UnsupportedError as e:
            if self._impl_asked:
                raise
            _say_once(f"pelk_torch: this peripheral conv runs on the dense path: {e}")
            return False
        return True

    def _conv_dense(self, x, kpe, mode):
        """The conv through the dense expansion of theta (the "dense" impl)."""
        H, W = x.shape[1:3]
        wd = self.dense_kernel()
        if H * W <= TOEPLITZ_MAX_PIXELS:
            y = self._conv_matrix(x, wd, kpe, mode)
        else:
            y = self._conv_direct(x, wd, kpe, mode)
        if mode == "constant":  # every tap sees x + h, padding included: a per-channel constant
            y = y + (wd[:, 0] * kpe).sum(dim=(1, 2))
        return y

    def _conv_direct(self, x, wd, kpe, mode):
        """F.conv2d on the dense kernel, with its taps beyond the map's extent cropped (they only
        ever see zero padding)."""
        g, (H, W) = x.shape[3], x.shape[1:3]
        kh, kw = min(self.kernel, 2 * H - 1), min(self.kernel, 2 * W - 1)
        r0, c0 = (self.kernel - kh) // 2, (self.kernel - kw) // 2
        wc = wd[:, :, r0:r0 + kh, c0:c0 + kw]
        y = F.conv2d(x.permute(0, 3, 1, 2), wc, self.bias, padding=(kh // 2, kw // 2), groups=g)
        if mode == "border":  # h only where the tap lands inside the image: a fixed map
            ones = torch.ones((1, g, H, W), dtype=x.dtype, device=x.device)
            hc = kpe[:, None, r0:r0 + kh, c0:c0 + kw]
            y = y + F.conv2d(ones, wc * hc, None, padding=(kh // 2, kw // 2), groups=g)
        return y.permute(0, 2, 3, 1)

    def _conv_matrix(self, x, wd, kpe, mode):
        """The same conv as one [HW, HW] matrix per channel: T[p, q] = W[q - p + centre] (zero
        outside the kernel), applied with a batched matrix product. On small maps with a kernel
        that covers them this is fewer multiply-adds than the direct conv and much faster in
        PyTorch on a CPU (forward and backward)."""
        n, H, W, g = x.shape
        idx = self._toeplitz_index(H, W, x.device)
        wt = self._fit(wd[:, 0], H, W).reshape(g, -1)[:, idx]  # [g, HW, HW]
        y = torch.bmm(wt, x.reshape(n, H * W, g).permute(2, 1, 0))  # [g, HW, n]
        y = y.permute(2, 1, 0).reshape(n, H, W, g) + self.bias
        if mode == "border":  # conv(ones, W*h): row sums of the matrix of W*h
            wh = self._fit(wd[:, 0] * kpe, H, W).reshape(g, -1)[:, idx]
            y = y + wh.sum(dim=2).t().reshape(1, H, W, g)
        return y

    def _fit(self, w, H, W):
        """The [g, k, k] kernel cropped or zero-padded (centred) to [g, 2H-1, 2W-1]."""
        k = self.kernel
        dh, dw = (2 * H - 1 - k) // 2, (2 * W - 1 - k) // 2  # > 0: pad, < 0: crop
        return F.pad(w, (dw, dw, dh, dh))

    def _toeplitz_index(self, H, W, device):
        """[HW, HW] index into the flattened fitted kernel: output pixel p, input pixel q."""
        key = (H, W, str(device))
        if key not in self._index_cache:
            i = torch.arange(H, device=device)
            j = torch.arange(W, device=device)
            a = i[None, :] - i[:, None] + H - 1  # [p_i, q_i] -> row in the fitted kernel
            b = j[None, :] - j[:, None] + W - 1
            idx = a[:, None, :, None] * (2 * W - 1) + b[None, :, None, :]  # [pi, pj, qi, qj]
            self._index_cache[key] = idx.reshape(H * W, H * W)
        return self._index_cache[key]


class Block(nn.Module):
    def __init__(self, dim, g, hidden, kernel, rows, cols, bn, small, layer_scale, impl):
        super().__init__()
        self.g = g
        self.conv = PeripheralConv(g, kernel, rows, cols, bn, small, impl) if g > 0 else None
        self.norm = LayerNorm2d(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.gamma = nn.Parameter(torch.full((dim,), float(layer_scale)))

    def forward(self, x, kpe, mode):
        y = x
        if self.conv is not None:  # partial conv: the first g channels only
            y = torch.cat([self.conv(x[..., :self.g], kpe, mode), x[..., self.g:]], dim=-1)
        y = self.fc2(F.gelu(self.fc1(self.norm(y))))
        return x + self.gamma * y


class Downsample(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.norm = LayerNorm2d(c_in)
        self.conv = nn.Conv2d(c_in, c_out, 2, stride=2)

    def forward(self, x):
        return patch_conv(self.norm(x), self.conv)


class Stage(nn.Module):
    def __init__(self, st, c_in, first, kpe_mode, bn, small, layer_scale, impl):
        super().__init__()
        self.mode = kpe_mode if st["g"] > 0 else "none"
        self.downsample = None if first else Downsample(c_in, st["dim"])
        # One kpe per stage, shared by its blocks; present even for depth 0 (as in pelkc).
        if self.mode != "none":
            self.kpe = nn.Parameter(torch.zeros(st["g"], st["kernel"], st["kernel"]))
            nn.init.trunc_normal_(self.kpe, std=0.02)
        else:
            self.kpe = None
        self.blocks = nn.ModuleList(
            Block(st["dim"], st["g"], st["hidden"], st["kernel"], st["rows"], st["cols"], bn, small, layer_scale,
                  impl)
            for _ in range(st["depth"]))

    def forward(self, x):
        if self.downsample is not None:
            x = self.downsample(x)
        for b in self.blocks:
            x = b(x, self.kpe, self.mode)
        return x


class PeLK(nn.Module):
    """The network of a pelkc spec. bn / small switch on the training-time parts in every block
    with a conv; layer_scale is gamma's initial value; impl picks the peripheral convs'
    implementation ("pelkc", "dense", None: default_impl()). forward takes NCHW float32 (or, after
    .double(), float64) images and returns [N, classes] logits."""

    def __init__(self, spec, bn=False, small=None, layer_scale=1.0, impl=None):
        super().__init__()
        spec = load_spec(spec)
        if small is not None and (small < 1 or small % 2 == 0):
            raise ValueError(f"small kernel must be odd and >= 1, got {small}")
        self.spec = spec
        c0 = spec["stages"][0]["dim"]
        self.stem = nn.Conv2d(spec["input"]["channels"], c0, spec["stem"]["kernel"], stride=spec["stem"]["stride"])
        self.stem_norm = LayerNorm2d(c0)
        stages, prev = [], c0
        for i, st in enumerate(spec["stages"]):
            stages.append(Stage(st, prev, i == 0, spec["block"]["kpe"], bn, small, layer_scale, impl))
            prev = st["dim"]
        self.stages = nn.ModuleList(stages)
        self.head_norm = nn.LayerNorm(prev, eps=LN_EPS)
        self.head = nn.Linear(prev, spec["classes"])
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    @classmethod
    def from_spec(cls, spec, **kw):
        return cls(spec, **kw)

    def impl(self):
        """The peripheral convs' implementation: "pelkc", "dense", both ("dense,pelkc") or "none"."""
        return ",".join(sorted({m.impl for m in self.modules() if isinstance(m, PeripheralConv)})) or "none"

    def set_impl(self, impl):
        """Switch every peripheral conv to impl ("pelkc" or "dense"); returns self."""
        check_impl(impl)
        for m in self.modules():
            if isinstance(m, PeripheralConv):
                m.impl, m._impl_asked = impl, True
        return self

    @classmethod
    def from_safetensors(cls, spec, path, **kw):
        """A model whose training-time parts are those the checkpoint has, with its weights, in
        eval mode."""
        w = safetensors_io.load(path)
        small = next((v.shape[-1] for n, v in w.items() if n.endswith(".conv.small.weight")), None)
        m = cls(spec, bn=any(n.endswith(".conv.bn.weight") for n in w), small=small, **kw)
        m.load_state_dict({n: torch.from_numpy(v) for n, v in w.items()})
        return m.eval()

    def forward(self, x):
        x = self.stem_norm(patch_conv(x, self.stem, nchw_input=True))  # NHWC from here on
        for s in self.stages:
            x = s(x)
        return self.head(self.head_norm(x.mean(dim=(1, 2))))

    def export(self, path, metadata=None):
        """Write state_dict() as F32 safetensors, the file `pelkc compile --weights` reads."""
        safetensors_io.save(path, self.state_dict(), metadata)

    def multiply_adds(self):
        """Multiply-adds per image of the inference-form network (training-time parts folded),
        with the peripheral conv counted dense (k x k taps per output, as PyTorch runs it)."""
        sp, total = self.spec, 0
        h = (sp["input"]["height"] - sp["stem"]["kernel"]) // sp["stem"]["stride"] + 1
        w = (sp["input"]["width"] - sp["stem"]["kernel"]) // sp["stem"]["stride"] + 1
        total += h * w * sp["stages"][0]["dim"] * sp["input"]["channels"] * sp["stem"]["kernel"] ** 2
        prev = sp["stages"][0]["dim"]
        for i, st in enumerate(sp["stages"]):
            h, w, c = st["height"], st["width"], st["dim"]
            if i > 0:
                total += h * w * c * prev * 4
            per_block = h * w * (st["g"] * st["kernel"] ** 2 + 2 * c * st["hidden"])
            total += st["depth"] * per_block
            prev = c
        return total + prev * sp["classes"]
