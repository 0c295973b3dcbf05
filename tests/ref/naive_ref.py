"""Independent float64 implementations the reference's self-checks compare pelk_ref.py with:
each written from the paper's equations and NOTES.md directly, not from pelk_ref.

Used by test_reference.py.
"""

import bisect

import numpy as np
import torch
import torch.nn.functional as F

import pelk_ref as R  # only its checkpoint names (R.BN_LEAVES), never its maths

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


def naive_batch_norm(z, weight, bias, mean, var, eps=1e-5):
    """Inference BatchNorm, element by element: (z - mean) / sqrt(var + eps) * weight + bias."""
    out = np.zeros(z.shape)
    for n in range(z.shape[0]):
        for c in range(z.shape[1]):
            for i in range(z.shape[2]):
                for j in range(z.shape[3]):
                    out[n, c, i, j] = (z[n, c, i, j] - mean[c]) / np.sqrt(var[c] + eps) * weight[c] + bias[c]
    return out


def naive_block_conv(x, p, rows, cols, h, kpe):
    """y = BN(periph_conv(x) + kpe_term) + BN_small(small_conv(x)) with nested loops.

    p: short name -> array ('weight', 'bias', optional 'bn.*', 'small.weight', 'small_bn.*'). The
    small conv is the literal loop of naive_peripheral_conv with an all-ones grid (dense s x s),
    zero bias and no kpe.
    """
    y = naive_peripheral_conv(x, p["weight"], p["bias"], rows, cols, h, kpe)
    if "bn.weight" in p:
        y = naive_batch_norm(y, *(p["bn." + leaf] for leaf in R.BN_LEAVES))
    if "small.weight" in p:
        s = p["small.weight"].shape[-1]
        ys = naive_peripheral_conv(x, p["small.weight"], np.zeros(x.shape[1]), [1] * s, [1] * s, None, "none")
        if "small_bn.weight" in p:
            ys = naive_batch_norm(ys, *(p["small_bn." + leaf] for leaf in R.BN_LEAVES))
        y = y + ys
    return y


def random_parts(rng, g, k, s, bn=True, small_bn=True, rows=None, cols=None):
    """Short name -> float64 array for one conv with the optional parts (s None: no small kernel)."""
    rows = rows or [1] * k
    cols = cols or [1] * k
    p = {"weight": rng.standard_normal((g, 1, len(rows), len(cols))) / k, "bias": rng.standard_normal(g) * 0.3}
    groups = (["bn"] if bn else []) + (["small_bn"] if s and small_bn else [])
    for grp in groups:
        p[grp + ".weight"] = rng.uniform(0.5, 1.5, g)
        p[grp + ".bias"] = rng.standard_normal(g) * 0.3
        p[grp + ".running_mean"] = rng.standard_normal(g) * 0.5
        p[grp + ".running_var"] = rng.uniform(0.5, 2.0, g)
    if s:
        p["small.weight"] = rng.standard_normal((g, 1, s, s)) / s
    return p


def as_block(p, b="blk"):
    """Short names -> the checkpoint names of block b, as float64 tensors (for R.block_conv)."""
    return {f"{b}.conv.{n}": torch.tensor(v) for n, v in p.items()}


def numpy_forward(spec, w, x):
    """A second, structurally different float64 forward pass in numpy, written from the description.

    Convs are written as sums of shifted views of a zero-padded map (one term per kernel tap), the
    kpe is added to the padded map tap by tap (everywhere for 'constant', inside the image only for
    'border'), pointwise layers are einsums. The optional BatchNorms and small kernel are applied
    when their tensors are in w. It is only fast enough for small specs.
    """
    def ln(t, name):  # LayerNorm over channels of [N, C, ...]
        mu = t.mean(axis=1, keepdims=True)
        var = ((t - mu) ** 2).mean(axis=1, keepdims=True)
        shape = (1, -1) + (1,) * (t.ndim - 2)
        return (t - mu) / np.sqrt(var + 1e-6) * w[name + ".weight"].reshape(shape) + w[name + ".bias"].reshape(shape)

    def bn(t, name):  # inference BatchNorm per channel of [N, C, H, W]
        shape = (1, -1, 1, 1)
        scale = w[name + ".weight"] / np.sqrt(w[name + ".running_var"] + 1e-5)
        return (t - w[name + ".running_mean"].reshape(shape)) * scale.reshape(shape) + w[name + ".bias"].reshape(shape)

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
                if b + ".conv.bn.weight" in w:  # training-time parts (optional), see pelk_ref.block_conv
                    acc = bn(acc, b + ".conv.bn")
                if b + ".conv.small.weight" in w:
                    ws = w[b + ".conv.small.weight"][:, 0]  # [g, s, s]
                    s = ws.shape[-1]
                    rs = s // 2
                    xs = np.zeros((n, g, H + 2 * rs, W + 2 * rs))
                    xs[:, :, rs:rs + H, rs:rs + W] = t[:, :g]
                    ys = np.zeros((n, g, H, W))
                    for i in range(s):
                        for jj in range(s):
                            ys += ws[:, i, jj].reshape(1, -1, 1, 1) * xs[:, :, i:i + H, jj:jj + W]
                    if b + ".conv.small_bn.weight" in w:
                        ys = bn(ys, b + ".conv.small_bn")
                    acc = acc + ys
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


def fold_dense(p, rows, cols, h, kpe, eps=1e-5):
    """The re-parameterisation a compiler can do once (NOTES.md section 3), in float64 numpy.

    For y = BN(conv(x, W) + b + kpe_term(W)) + BN_s(conv(x, Ws)), with a = gamma / sqrt(var + eps)
    per channel (a = 1, shift 0 without the BN):
        W1 = W * a                                     (BN-scaled peripheral kernel, k x k)
        Wf = W1 (padded to K2 = max(k, s)) + Ws * a_s added into the central s x s taps
        constant kpe:  bf = beta + (b + sum(W*h) - mean) * a + beta_s - mean_s * a_s
                       (the kpe constant is folded into the bias, then scaled by the BN)
        border kpe:    bf = beta + (b - mean) * a + beta_s - mean_s * a_s, plus the fixed map
                       conv(ones, W1 * h): built from the BN-scaled PERIPHERAL kernel only, not
                       from Wf, since the kpe belongs to the peripheral conv alone
    Returns (Wf [g, K2, K2], bf [g], kpe_kernel [g, k, k] for the border map or None).
    """
    W = naive_dense_kernel(p["weight"][:, 0], rows, cols)
    g, k = W.shape[0], W.shape[-1]

    def affine(grp):
        if grp + ".weight" not in p:
            return np.ones(g), np.zeros(g)
        a = p[grp + ".weight"] / np.sqrt(p[grp + ".running_var"] + eps)
        return a, p[grp + ".bias"] - p[grp + ".running_mean"] * a

    a, shift = affine("bn")
    W1 = W * a[:, None, None]
    bf = p["bias"] * a + shift
    if kpe == "constant":
        bf = bf + (W * h).sum(axis=(1, 2)) * a
    s = p["small.weight"].shape[-1] if "small.weight" in p else 1
    K2 = max(k, s)
    Wf = np.zeros((g, K2, K2))
    o = (K2 - k) // 2
    Wf[:, o:o + k, o:o + k] = W1
    if "small.weight" in p:
        a_s, shift_s = affine("small_bn")
        o = (K2 - s) // 2
        Wf[:, o:o + s, o:o + s] += p["small.weight"][:, 0] * a_s[:, None, None]
        bf = bf + shift_s
    return Wf, bf, (W1 * h if kpe == "border" else None)


def run_folded(x, Wf, bf, kpe_kernel):
    """The folded layer: ONE dense conv plus bias, plus the border-kpe map when there is one."""
    g = Wf.shape[0]
    y = F.conv2d(torch.tensor(x), torch.tensor(Wf)[:, None], torch.tensor(bf), padding=Wf.shape[-1] // 2, groups=g)
    if kpe_kernel is not None:
        ones = torch.ones((1, g) + x.shape[2:], dtype=torch.float64)
        y = y + F.conv2d(ones, torch.tensor(kpe_kernel)[:, None], None, padding=kpe_kernel.shape[-1] // 2, groups=g)
    return y.numpy()
