#!/usr/bin/python3
"""Time one PeLK peripheral depthwise conv layer: pelkc (lowered and dense) against PyTorch.

For each kernel size K (default 13, 31, 51, 101, 151) and one sharing grid (default
{center: 5, base: 2}) this measures, on the same thread count:

  pelkc lowered   `pelkc bench-conv ... --periph lowered` (box filter plus gather, NOTES.md sec. 2)
  pelkc dense     `pelkc bench-conv ... --periph dense`   (the K x K kernel, tap by tap)
  torch NCHW      F.conv2d on the expanded dense kernel, NCHW float32
  torch chlast    the same in torch.channels_last (oneDNN's depthwise path)
  torch FFT       rfft2 / multiply / irfft2 with the kernel spectrum precomputed

and prints a table (also written as markdown) and an SVG plot of time against K (log y).

The PyTorch side is PyTorch's best shot at this layer: the kernel is expanded once (a deployed model
would), every method is checked against plain NCHW F.conv2d before it is timed, and "best torch" is
the fastest method that passed that check. pelkc times its own layer (its own input and weights);
the script only parses the `median_ms: X` line it prints last.

Usage (from the repo root):
  /usr/bin/python3 bench/conv_vs_torch.py --threads 2
  /usr/bin/python3 bench/conv_vs_torch.py --torch-only            # no pelkc needed
See bench/README.md.
"""

import argparse
import math
import os
import re
import shlex
import sys

import benchlib  # bench/benchlib.py: timing, header, pelkc runs (and python/torch_peer.py)
from benchlib import REPO_ROOT, fmt_ms as fmt_value, fmt_ratio as fmt_ratio_value, rel_err, time_methods

benchlib.torch_peer.prefer_avx512()  # before torch loads: ATen's and OpenBLAS's AVX-512 kernels
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

DEFAULT_KERNELS = "13,31,51,101,151"
DEFAULT_GRID = "{center: 5, base: 2}"

# Method keys, in table / plot order, with their display names.
PELKC_METHODS = [("lowered", "pelkc lowered"), ("dense", "pelkc dense")]
TORCH_METHODS = [("nchw", "torch NCHW"), ("chlast", "torch channels_last"), ("fft", "torch FFT")]
ALL_METHODS = PELKC_METHODS + TORCH_METHODS

# Relative tolerance (max abs error / max abs reference) for checking a torch method against NCHW.
CHECK_RTOL = 1e-4


# ----------------------------------------------------------------------------------------------
# Sharing grids (NOTES.md section 1), written here rather than imported so the benchmark stands alone
# ----------------------------------------------------------------------------------------------

def parse_yaml_value(text):
    """Parse a grid written in the spec's YAML syntax ('{center: 5, base: 2}', '[9,8,...]', ...).

    PyYAML (python3-yaml) is used when present. The fallback only understands YAML flow syntax
    (the only form a grid can take on a command line): it quotes the bare keys and reads it as JSON.
    """
    try:
        import yaml
        return yaml.safe_load(text)
    except ImportError:
        import json
        return json.loads(re.sub(r"([A-Za-z_][A-Za-z_0-9]*)\s*:", r'"\1":', text))


def rule_grid(k, center, base):
    """Full grid for odd kernel size k from the rule {center: c, base: m} (paper Eq. 2).

    r = (k-1)/2, rc = (c-1)/2; outward from the centre tap: rings 1..rc of size 1, then ring rc+j of
    size m^j while the half-sum stays <= r, the last ring cut to the remainder (none if it is 0).
    Full grid = reversed(half) + [1] + half.
    """
    if k < 1 or k % 2 == 0:
        raise ValueError(f"kernel size must be odd, got {k}")
    if center < 1 or center % 2 == 0 or base < 1:
        raise ValueError(f"bad grid rule center={center} base={base}")
    r, rc = (k - 1) // 2, (center - 1) // 2
    half = [1] * min(rc, r)  # a centre wider than the kernel leaves a dense kernel
    j = 1
    while sum(half) < r:
        half.append(min(base ** j, r - sum(half)))
        j += 1
    return half[::-1] + [1] + half


def side_grid(k, g):
    """One axis: a rule dict {center, base} or an explicit list that must sum to k."""
    if isinstance(g, dict):
        return rule_grid(k, int(g.get("center", 5)), int(g.get("base", 2)))
    if isinstance(g, (list, tuple)):
        sizes = [int(s) for s in g]
        if sum(sizes) != k or min(sizes) < 1:
            raise ValueError(f"grid {sizes} does not split kernel size {k} into positive sizes")
        return sizes
    raise ValueError(f"a grid is a list or a {{center, base}} rule, got {g!r}")


def resolve_grid(k, grid):
    """(row_grid, col_grid) for kernel size k; {rows: X, cols: Y} gives each axis its own grid."""
    if isinstance(grid, dict) and ("rows" in grid or "cols" in grid):
        return side_grid(k, grid["rows"]), side_grid(k, grid["cols"])
    g = side_grid(k, grid)
    return g, list(g)


def expand_kernel(theta, row_grid, col_grid):
    """Dense W[..., x, y] = theta[..., a, b] for (x, y) in region Z_{a,b} (paper Eq. 1)."""
    rows = torch.tensor(row_grid, dtype=torch.long)
    cols = torch.tensor(col_grid, dtype=torch.long)
    return torch.repeat_interleave(torch.repeat_interleave(theta, rows, dim=-2), cols, dim=-1)


# ----------------------------------------------------------------------------------------------
# PyTorch methods
# ----------------------------------------------------------------------------------------------

def fast_fft_size(n):
    """Smallest 5-smooth integer (2^a 3^b 5^c) >= n: sizes pocketfft handles fastest."""
    m = n
    while True:
        v = m
        for p in (2, 3, 5):
            while v % p == 0:
                v //= p
        if v == 1:
            return m
        m += 1


def make_fft_conv(w, bias, h, wd):
    """A function x -> same-padded depthwise cross-correlation of x with w (+ bias), via FFT.

    Precomputed once (outside the timed region, as a deployed model would): the spectrum of the
    kernel, flipped (conv2d is a correlation) and folded modulo the FFT size. The FFT size per axis
    only has to be >= H + K//2, not H + K - 1: with out[i] = full[i + r] (r = K//2), the circular
    wrap-around of the full linear convolution (length H + K - 1) only lands on indices < r, which
    are cropped. Folding the kernel modulo N is exact for a circular convolution, so N may even be
    smaller than K. The per-input work is rfft2 (zero-padding implicit), multiply, irfft2, crop.
    """
    c, _, kh, kw = w.shape
    rh, rw = kh // 2, kw // 2
    nh, nw = fast_fft_size(h + rh), fast_fft_size(wd + rw)
    flipped = torch.flip(w[:, 0], dims=(-2, -1)).double()
    folded = torch.zeros(c, nh, nw, dtype=torch.float64)
    for i0 in range(0, kh, nh):  # fold the kernel modulo (nh, nw)
        for j0 in range(0, kw, nw):
            blk = flipped[:, i0:i0 + nh, j0:j0 + nw]
            folded[:, :blk.shape[1], :blk.shape[2]] += blk
    spec = torch.fft.rfft2(folded.float()).unsqueeze(0)  # [1, C, nh, nw//2+1], complex64
    b = bias.view(1, c, 1, 1)

    def conv(x):
        y = torch.fft.irfft2(torch.fft.rfft2(x, s=(nh, nw)).mul_(spec), s=(nh, nw))
        return y[:, :, rh:rh + h, rw:rw + wd] + b

    conv.fft_size = (nh, nw)
    return conv


def bench_torch(k, grid, args, log):
    """Time the torch methods for kernel size k. Returns ({method: ms or None}, k' string)."""
    row_grid, col_grid = resolve_grid(k, grid)
    gen = torch.Generator().manual_seed(args.seed + k)
    c, (h, wd) = args.channels, args.size
    theta = torch.randn(c, 1, len(row_grid), len(col_grid), generator=gen) / math.sqrt(k)
    w = expand_kernel(theta, row_grid, col_grid).contiguous()
    bias = torch.randn(c, generator=gen)
    x = torch.randn(args.batch, c, h, wd, generator=gen)
    pad = k // 2

    x_cl = x.to(memory_format=torch.channels_last)
    w_cl = w.to(memory_format=torch.channels_last)
    fft_conv = make_fft_conv(w, bias, h, wd)
    fns = {
        "nchw": lambda: F.conv2d(x, w, bias, padding=pad, groups=c),
        "chlast": lambda: F.conv2d(x_cl, w_cl, bias, padding=pad, groups=c),
        "fft": lambda: fft_conv(x),
    }
    times = {key: None for key, _ in TORCH_METHODS}
    errs, timed = {"nchw": 0.0}, {}
    with torch.no_grad():
        ref = fns["nchw"]()
        for key, name in TORCH_METHODS:
            if key not in args.methods:
                continue
            if key != "nchw":
                errs[key] = rel_err(fns[key](), ref)
                if not errs[key] <= CHECK_RTOL:
                    log(f"  WARNING K={k} {name}: relative error {errs[key]:.2e} against NCHW > {CHECK_RTOL:g};"
                        " excluded")
                    continue
            timed[key] = fns[key]
        stats = time_methods(timed, args.iters, args.min_time, args.max_time, args.rounds) if timed else {}
    for key, name in TORCH_METHODS:
        if key not in stats:
            continue
        ms, n, lo = stats[key]
        times[key] = ms
        extra = f", FFT size {fft_conv.fft_size[0]}x{fft_conv.fft_size[1]}" if key == "fft" else ""
        log(f"  K={k:<4d} {name:<20s} median {ms:10.3f} ms  (min {lo:.3f}, {n} runs,"
            f" rel err {errs[key]:.1e}{extra})")
    kp = str(len(row_grid)) if row_grid == col_grid else f"{len(row_grid)}x{len(col_grid)}"
    return times, kp


# ----------------------------------------------------------------------------------------------
# pelkc
# ----------------------------------------------------------------------------------------------

_warned = set()  # warnings printed once per run


def run_pelkc(k, mode, args, log, show_info):
    """Run `pelkc bench-conv` once; return its median in ms, or None if it failed.

    The last line of stdout must be `median_ms: X`; the lines before it (what was measured, which
    compiler built the code) are shown when show_info is true. On failure the command, exit code
    and stderr are printed and the cell is marked failed; the rest of the table goes on.
    """
    if not os.access(args.pelkc, os.X_OK):
        if "missing" not in _warned:
            log(f"  FAILED: no executable pelkc at {args.pelkc} (build it, pass --pelkc PATH, or --torch-only);"
                " every pelkc cell is marked FAIL")
            _warned.add("missing")
        return None
    cmd = [args.pelkc, "bench-conv", "--kernel", str(k), "--grid", args.grid,
           "--channels", str(args.channels), "--size", f"{args.size[0]}x{args.size[1]}",
           "--batch", str(args.batch), "--threads", str(args.threads), "--periph", mode]
    if args.pelkc_iters:
        cmd += ["--iters", str(args.pelkc_iters)]
    run = benchlib.run_pelkc(cmd, args.pelkc_timeout)
    if run.ms is None:
        log(f"  FAILED K={k} pelkc {mode} ({run.failure[0]}): {shlex.join(cmd)}")
        for ln in run.failure[1:]:
            log(f"  {ln}")
        return None
    ms = run.ms
    if show_info:
        log(f"  $ {shlex.join(cmd)}")
        for ln in run.lines:
            log(f"    | {ln}")
    log(f"  K={k:<4d} {'pelkc ' + mode:<20s} median {ms:10.3f} ms")
    return ms


# ----------------------------------------------------------------------------------------------
# Report: text table, markdown, SVG
# ----------------------------------------------------------------------------------------------

def fmt_ms(v, state):
    """A time cell: ms with 3 significant-ish digits, or the reason there is no number."""
    if v is None:
        return state or "-"
    return fmt_value(v)


def fmt_ratio(a, b):
    """a / b as 'N.Nx', or '-' when either is missing."""
    if a is None or b is None or b <= 0:
        return "-"
    return fmt_ratio_value(a / b)


HEADER = ["K", "k'", "pelkc lowered ms", "pelkc dense ms", "torch NCHW ms", "torch channels_last ms",
          "torch FFT ms", "best torch", "lowered vs best torch (x faster)", "lowered vs pelkc dense"]


def table_rows(results, refused):
    """Rows of cells (strings) for the table, one per kernel size; refused: no pelkc/torch ratio."""
    rows = []
    for r in results:
        t, st = r["times"], r["state"]
        best = best_torch(r)
        rows.append([str(r["k"]), r["kp"]]
                    + [fmt_ms(t.get(key), st.get(key)) for key, _ in ALL_METHODS]
                    + [f"{fmt_ms(best[1], None)} ({best[0]})" if best else "-",
                       "refused" if refused else fmt_ratio(best[1] if best else None, t.get("lowered")),
                       fmt_ratio(t.get("dense"), t.get("lowered"))])
    return rows


def best_torch(r):
    """(display name, ms) of the fastest torch method that ran and passed its check, or None."""
    cands = [(r["times"][key], name) for key, name in TORCH_METHODS if r["times"].get(key) is not None]
    if not cands:
        return None
    ms, name = min(cands)
    return name.replace("torch ", ""), ms


def summary_lines(results):
    """The K=151/K=51 ratio for pelkc lowered and the best torch at K=51."""
    by_k = {r["k"]: r for r in results}
    out = []
    lo = lambda k: by_k[k]["times"].get("lowered") if k in by_k else None
    if lo(151) is not None and lo(51) is not None:
        out.append(f"pelkc lowered time(K=151)/time(K=51): {lo(151) / lo(51):.2f}"
                   f"  (dense K^2 scaling would be {151 ** 2 / 51 ** 2:.2f})")
    else:
        out.append("pelkc lowered time(K=151)/time(K=51): n/a (needs both K=51 and K=151 lowered times)")
    best = best_torch(by_k[51]) if 51 in by_k else None
    out.append(f"best torch at K=51: {best[1]:.3f} ms ({best[0]})" if best else "best torch at K=51: n/a")
    return out


SVG_STYLE = {  # method -> (colour, dash pattern or None, marker)
    "lowered": ("#d62728", None, "circle"),
    "dense": ("#ff7f0e", "6,4", "circle"),
    "nchw": ("#1f77b4", "2,3", "square"),
    "chlast": ("#2ca02c", None, "square"),
    "fft": ("#9467bd", "8,3,2,3", "square"),
}


def esc(s):
    """Escape text for SVG/XML."""
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_svg(path, results, title, subtitle):
    """Hand-written SVG: time (ms, log y) against kernel size K, one polyline per method, legend.

    A missing value (failed / skipped / excluded) breaks the line rather than joining across it.
    """
    W, H = 820, 520
    ml, mr, mt, mb = 80, 210, 60, 60  # margins; the legend sits in the right margin
    pw, ph = W - ml - mr, H - mt - mb
    ks = [r["k"] for r in results]
    vals = [v for r in results for v in r["times"].values() if v is not None and v > 0]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}"'
           ' font-family="DejaVu Sans, Arial, sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{ml + pw / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">{esc(title)}</text>',
           f'<text x="{ml + pw / 2}" y="42" text-anchor="middle" fill="#555">{esc(subtitle)}</text>']
    if not vals or not ks:
        out.append(f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle">no data</text></svg>')
        with open(path, "w") as f:
            f.write("\n".join(out) + "\n")
        return
    lo_e, hi_e = math.floor(math.log10(min(vals))), math.ceil(math.log10(max(vals)))
    if hi_e == lo_e:
        hi_e += 1
    kmin, kmax = min(ks), max(ks)
    kspan = (kmax - kmin) or 1
    xk = lambda k: ml + (k - kmin) / kspan * pw if kmax > kmin else ml + pw / 2
    yv = lambda v: mt + ph - (math.log10(v) - lo_e) / (hi_e - lo_e) * ph

    # Grid lines and tick labels: decades (solid) and 2x / 5x (light) on y, each K on x.
    for e in range(lo_e, hi_e + 1):
        for mult in (1, 2, 5):
            v = mult * 10.0 ** e
            if e == hi_e and mult > 1:
                break
            y = yv(v)
            out.append(f'<line x1="{ml}" y1="{y:.1f}" x2="{ml + pw}" y2="{y:.1f}" stroke="{"#ccc" if mult == 1 else "#eee"}"/>')
            if mult == 1 or hi_e - lo_e <= 3:
                minor = "" if mult == 1 else ' fill="#888" font-size="10"'
                out.append(f'<text x="{ml - 6}" y="{y + 4:.1f}" text-anchor="end"{minor}>{v:g}</text>')
    for k in ks:
        x = xk(k)
        out.append(f'<line x1="{x:.1f}" y1="{mt}" x2="{x:.1f}" y2="{mt + ph}" stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{mt + ph + 18}" text-anchor="middle">{k}</text>')
    out.append(f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    out.append(f'<text x="{ml + pw / 2}" y="{H - 16}" text-anchor="middle">kernel size K</text>')
    out.append(f'<text transform="translate(22,{mt + ph / 2}) rotate(-90)" text-anchor="middle">'
               'time per layer (ms, log scale)</text>')

    # One line per method, broken where a value is missing.
    legend = []
    for key, name in ALL_METHODS:
        pts = [(r["k"], r["times"].get(key)) for r in results]
        if not any(v is not None and v > 0 for _, v in pts):
            continue
        colour, dash, marker = SVG_STYLE[key]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        seg = []
        for k, v in pts + [(None, None)]:
            if v is not None and v > 0:
                seg.append(f"{xk(k):.1f},{yv(v):.1f}")
                continue
            if len(seg) > 1:
                out.append(f'<polyline points="{" ".join(seg)}" fill="none" stroke="{colour}"'
                           f' stroke-width="2"{dash_attr}/>')
            seg = []
        for k, v in pts:
            if v is None or v <= 0:
                continue
            x, y = xk(k), yv(v)
            tip = f"<title>{esc(name)}, K={k}: {v:.3f} ms</title>"
            if marker == "circle":
                out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}">{tip}</circle>')
            else:
                out.append(f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="{colour}">{tip}</rect>')
        legend.append((name, colour, dash_attr, marker))

    lx, ly = ml + pw + 20, mt + 10
    out.append(f'<rect x="{lx - 10}" y="{ly - 14}" width="{mr - 30}" height="{22 * len(legend) + 12}"'
               ' fill="white" stroke="#999"/>')
    for i, (name, colour, dash_attr, marker) in enumerate(legend):
        y = ly + 22 * i
        out.append(f'<line x1="{lx}" y1="{y}" x2="{lx + 30}" y2="{y}" stroke="{colour}" stroke-width="2"{dash_attr}/>')
        if marker == "circle":
            out.append(f'<circle cx="{lx + 15}" cy="{y}" r="4" fill="{colour}"/>')
        else:
            out.append(f'<rect x="{lx + 11.5}" y="{y - 3.5}" width="7" height="7" fill="{colour}"/>')
        out.append(f'<text x="{lx + 38}" y="{y + 4}">{esc(name)}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def write_markdown(path, info, settings, rows, summary, notes):
    """The table as a markdown file with the machine and settings it was measured with."""
    text = ["# Peripheral conv: pelkc vs PyTorch", ""]
    text += [f"- {ln}" for ln in info + settings]
    text += ["", benchlib.markdown_table(HEADER, rows), ""]
    text += [f"- {ln}" for ln in summary + notes]
    with open(path, "w") as f:
        f.write("\n".join(text) + "\n")


def self_test():
    """Check the grid rule against NOTES.md's table (paper Tables 5-6) and the FFT conv against conv2d."""
    table = {(31, 5, 2): "7 4 2 1 1 1 1 1 2 4 7", (51, 1, 2): "11 8 4 2 1 2 4 8 11",
             (51, 3, 2): "10 8 4 2 1 1 1 2 4 8 10", (51, 5, 2): "9 8 4 2 1 1 1 1 1 2 4 8 9",
             (51, 7, 2): "8 8 4 2 1 1 1 1 1 1 1 2 4 8 8", (101, 7, 2): "17 16 8 4 2 1 1 1 1 1 1 1 2 4 8 16 17",
             (13, 5, 2): "2 2 1 1 1 1 1 2 2"}
    for (k, c, m), want in table.items():
        got = rule_grid(k, c, m)
        assert got == [int(v) for v in want.split()], (k, c, m, got)
    assert resolve_grid(13, parse_yaml_value("{rows: {center: 3, base: 2}, cols: [2,2,1,1,1,1,1,2,2]}")) == \
        ([3, 2, 1, 1, 1, 2, 3], [2, 2, 1, 1, 1, 1, 1, 2, 2])
    theta = torch.arange(6.0).view(1, 1, 2, 3)
    assert expand_kernel(theta, [1, 2], [2, 1, 1]).tolist() == \
        [[[[0, 0, 1, 2], [3, 3, 4, 5], [3, 3, 4, 5]]]]
    gen = torch.Generator().manual_seed(1)
    for c, h, wd, k in [(3, 5, 7, 13), (2, 9, 4, 3), (2, 1, 1, 5), (3, 20, 33, 51), (2, 56, 56, 151)]:
        w, b = torch.randn(c, 1, k, k, generator=gen), torch.randn(c, generator=gen)
        x = torch.randn(2, c, h, wd, generator=gen)
        err = rel_err(make_fft_conv(w, b, h, wd)(x), F.conv2d(x, w, b, padding=k // 2, groups=c))
        assert err < CHECK_RTOL, (c, h, wd, k, err)
    print("self-test passed: grid rule (NOTES.md table), grid forms, expansion, FFT conv vs conv2d")


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------

def parse_args(argv):
    """Command-line options (see the module docstring and bench/README.md)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kernels", default=DEFAULT_KERNELS, help=f"comma-separated odd K (default {DEFAULT_KERNELS})")
    p.add_argument("--grid", default=DEFAULT_GRID, help=f"sharing grid, spec YAML syntax (default '{DEFAULT_GRID}')")
    p.add_argument("--channels", type=int, default=46, help="channels C (default 46)")
    p.add_argument("--size", default="56x56", help="feature map HxW (default 56x56)")
    p.add_argument("--batch", type=int, default=1, help="batch N (default 1)")
    p.add_argument("--threads", type=int, default=2, help="threads for pelkc and torch (default 2)")
    p.add_argument("--iters", type=int, default=20,
                   help="torch: at least this many timed runs (default 20), see --min-time/--max-time")
    benchlib.add_torch_timing_options(p, 0.5, 5.0, 5)
    p.add_argument("--pelkc", default=os.path.join(REPO_ROOT, "build", "pelkc"),
                   help="pelkc binary (default: build/pelkc in the repo root)")
    p.add_argument("--pelkc-iters", type=int, default=None, help="pass --iters N to pelkc bench-conv (default: its own)")
    p.add_argument("--pelkc-timeout", type=float, default=600, help="seconds before a pelkc run counts as failed")
    p.add_argument("--skip-dense-above", type=int, default=None, metavar="K",
                   help="do not run pelkc dense for kernel sizes above K")
    p.add_argument("--torch-only", action="store_true", help="do not run pelkc at all")
    p.add_argument("--methods", default=",".join(k for k, _ in ALL_METHODS),
                   help="comma-separated subset of: " + ", ".join(k for k, _ in ALL_METHODS))
    p.add_argument("--seed", type=int, default=0, help="seed for the torch weights and input")
    p.add_argument("--markdown", default=os.path.join(REPO_ROOT, "bench", "results", "conv_vs_torch.md"),
                   help="markdown table output (default bench/results/conv_vs_torch.md; '' = none)")
    p.add_argument("--svg", default=os.path.join(REPO_ROOT, "bench", "results", "conv_vs_torch.svg"),
                   help="SVG plot output (default bench/results/conv_vs_torch.svg; '' = none)")
    p.add_argument("--self-test", action="store_true",
                   help="check the grid rule and the FFT conv, then exit (no timing)")
    p.add_argument("-v", "--verbose", action="store_true", help="show pelkc's info lines for every run")
    a = p.parse_args(argv)
    try:
        a.kernels = [int(s) for s in a.kernels.split(",") if s.strip()]
        h, _, w = a.size.lower().partition("x")
        a.size = (int(h), int(w or h))
    except ValueError:
        p.error("--kernels is a comma-separated list of integers, --size is HxW")
    if a.iters < 1 or a.rounds < 1 or a.threads < 1 or a.channels < 1 or a.batch < 1 or min(a.size) < 1:
        p.error("--iters, --rounds, --threads, --channels, --batch and --size must be positive")
    if any(k < 1 or k % 2 == 0 for k in a.kernels):
        p.error("kernel sizes must be odd and >= 1")
    a.methods = {m.strip() for m in a.methods.split(",") if m.strip()}
    if a.methods - {k for k, _ in ALL_METHODS}:
        p.error(f"unknown --methods {sorted(a.methods - {k for k, _ in ALL_METHODS})}")
    if a.torch_only:
        a.methods -= {"lowered", "dense"}
    if "nchw" not in a.methods and a.methods & {"chlast", "fft"}:
        print("note: NCHW is still run once per K as the reference for checking the other torch methods")
    try:
        a.grid_value = parse_yaml_value(a.grid)
        for k in a.kernels:
            resolve_grid(k, a.grid_value)
    except Exception as e:  # noqa: BLE001 - any parse/validation error is a usage error here
        p.error(f"--grid {a.grid!r}: {e}")
    return a


def main(argv=None):
    """Run every method for every K, print the table and summary, write markdown and SVG."""
    args = parse_args(argv)
    if args.self_test:
        self_test()
        return 0
    benchlib.torch_peer.set_threads(args.threads)
    log = lambda s: print(s, flush=True)

    peer = benchlib.torch_peer.describe()
    refused = benchlib.torch_peer.refusal(peer)
    info = benchlib.machine_info(args.threads, peer)
    settings = [f"layer: depthwise peripheral conv, C={args.channels}, {args.size[0]}x{args.size[1]},"
                f" batch {args.batch}, grid {args.grid}, stride 1, zero padding K//2, with bias",
                f"timing: median; torch >= {args.iters} runs and >= {args.min_time:g} s per method,"
                f" interleaved over {args.rounds} rounds (slow methods capped at {args.max_time:g} s, >= 3 runs)"]
    for ln in info + settings:
        log(ln)
    warnings = [w for w in [benchlib.load_warning()] if w]
    refusal = [f"WARNING: {refused}"] if refused else []
    for ln in warnings + refusal:
        log(ln)
    if not args.torch_only and {"lowered", "dense"} & args.methods:
        log(f"pelkc: {args.pelkc}")
    log("")

    results, shown = [], set()
    for k in args.kernels:
        rg, cg = resolve_grid(k, args.grid_value)
        log(f"K={k}: grid {rg}" + ("" if rg == cg else f" x {cg}"))
        times, state = {}, {}
        for mode, _ in PELKC_METHODS:
            if mode not in args.methods:
                state[mode] = "-"
            elif mode == "dense" and args.skip_dense_above is not None and k > args.skip_dense_above:
                state[mode] = "skip"
                log(f"  K={k:<4d} {'pelkc dense':<20s} skipped (--skip-dense-above {args.skip_dense_above})")
            else:
                times[mode] = run_pelkc(k, mode, args, log, args.verbose or mode not in shown)
                if times[mode] is None:
                    state[mode] = "FAIL"
                else:
                    shown.add(mode)
        ttimes, kp = bench_torch(k, args.grid_value, args, log)
        for key, _ in TORCH_METHODS:
            times[key] = ttimes[key]
            if ttimes[key] is None:
                state[key] = "excl" if key in args.methods else "-"
        results.append({"k": k, "kp": kp, "times": times, "state": state})
        log("")

    rows = table_rows(results, refused)
    summary = summary_lines(results)
    end_warning = benchlib.load_warning()
    if end_warning and not warnings:
        warnings.append(end_warning.replace("WARNING:", "WARNING (at the end):"))
    summary += [f"load average at the end: {benchlib.load_text()}"] + warnings + refusal
    notes = ["cells: FAIL = pelkc run failed, skip = --skip-dense-above, excl = torch method failed its"
             " check against NCHW, - = not run",
             "x faster = best torch ms / pelkc lowered ms (refused: torch runs on the reference BLAS);"
             " lowered vs pelkc dense = dense ms / lowered ms"]
    log(benchlib.text_table(HEADER, rows))
    log("")
    for ln in summary:
        log(ln)
    if args.markdown:
        os.makedirs(os.path.dirname(os.path.abspath(args.markdown)), exist_ok=True)
        write_markdown(args.markdown, info, settings, rows, summary, notes)
        log(f"markdown: {args.markdown}")
    if args.svg:
        os.makedirs(os.path.dirname(os.path.abspath(args.svg)), exist_ok=True)
        write_svg(args.svg, results, "Peripheral depthwise conv: time vs kernel size",
                  f"C={args.channels}, {args.size[0]}x{args.size[1]}, batch {args.batch}, grid {args.grid},"
                  f" {args.threads} threads")
        log(f"svg: {args.svg}")
    return benchlib.REFUSED_STATUS if refused else 0


if __name__ == "__main__":
    sys.exit(main())
