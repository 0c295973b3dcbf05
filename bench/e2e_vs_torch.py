#!/usr/bin/python3
"""Time a whole PeLK network end to end: pelkc against PyTorch, on the same spec, batch and threads.

  pelkc                 `pelkc bench SPEC --batch N --threads T [--iters N]`: pelkc compiles the spec
                        with random weights, warms up and times its own runs; the script reads the
                        `median_ms: X` line it prints last (and `peak_rss_mb: X` if it prints one)
  torch NCHW            a float32 torch.nn.Module built from the same spec, NCHW contiguous
  torch channels_last   the same module and input after .to(memory_format=torch.channels_last),
                        where the depthwise convs take oneDNN's fast path

The PyTorch model is PyTorch's best shot at the network, not the float64 reference: each
peripheral conv is a dense depthwise F.conv2d on the kernel expanded once from the compact weights
(the paper's way), `kpe: constant` is folded into the conv bias (sum(W*h) per channel), `kpe:
border` is a per-channel map precomputed once and added after the conv, gamma is folded into fc2,
GELU is exact, LayerNorm is over channels, and the pointwise MLP of each stage runs as F.linear on
a channels-last (NHWC) view or as 1x1 convs, whichever was faster for that stage in that layout
(timed once before the benchmark; --pointwise forces one). torch.no_grad(),
torch.set_num_threads(T) (and the BLAS's own pool); ATen and OpenBLAS use their AVX-512 kernels
when the CPU has them (python/torch_peer.py's prefer_avx512). The header names the BLAS torch's
matrix products call and its ISA; on the reference BLAS the times are printed but no ratio, and
the exit status is 2. Both torch
variants must agree (max abs difference / max abs output < 1e-4) before they are timed. The ratio
is pelkc against the faster of the two. Weights are random (pelk_ref's random_weights, so every
part of the network matters); only time is compared.

Spec loading, the sharing-grid rule and the kernel expansion come from tests/ref/pelk_ref.py.
--self-test checks this float32 model against pelk_ref's float64 forward on tests/specs/*.yaml.

Usage (from the repo root):
  /usr/bin/python3 bench/e2e_vs_torch.py examples/pelk_t.yaml --batch 1 --threads 2
  /usr/bin/python3 bench/e2e_vs_torch.py examples/pelk_t.yaml --torch-only
  /usr/bin/python3 bench/e2e_vs_torch.py --self-test
See bench/README.md.
"""

import argparse
import copy
import glob
import os
import re
import shlex
import sys
import time

import benchlib  # bench/benchlib.py: timing, header, pelkc runs (and python/torch_peer.py)
from benchlib import REPO_ROOT, fmt_ms, fmt_ratio, rel_err, time_methods

benchlib.torch_peer.prefer_avx512()  # before numpy and torch load OpenBLAS and ATen
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "ref"))
import pelk_ref  # noqa: E402  (spec loading, grid rule, expand_kernel, random weights, float64 forward)

LN_EPS = pelk_ref.LN_EPS
CHECK_RTOL = 1e-4          # NCHW vs channels_last, max abs diff / max abs output
SELF_TEST_RTOL = 1e-4      # float32 model vs the float64 reference
TORCH_METHODS = [("nchw", "torch NCHW"), ("chlast", "torch channels_last")]
POINTWISE_MODES = ("linear", "conv1x1")
RSS_RE = re.compile(r"\bpeak_rss_mb:\s*([0-9.]+(?:[eE][-+]?[0-9]+)?)", re.IGNORECASE)  # anywhere in a line
PELKC_MIN_RE = re.compile(r"\bmin\s+([0-9.]+)\s*ms\b")  # 'min X ms' in pelkc's summary line, if it prints one


# ----------------------------------------------------------------------------------------------
# The float32 PyTorch model
# ----------------------------------------------------------------------------------------------

def ln_channels_first(x, w, b):
    """LayerNorm over dim 1 of an NCHW-contiguous tensor without leaving NCHW (ConvNeXt's way)."""
    u = x.mean(1, keepdim=True)
    d = x - u
    s = d.pow(2).mean(1, keepdim=True)
    return d.mul_(torch.rsqrt(s.add_(LN_EPS))).mul_(w[:, None, None]).add_(b[:, None, None])


def ln_channels(x, w, b, layout):
    """LayerNorm over channels of x [N, C, H, W], returned in the same layout.

    channels_last: x.permute(0, 2, 3, 1) is already a contiguous NHWC tensor, so F.layer_norm runs on
    it without a copy and the result permuted back is channels_last again. NCHW: see
    ln_channels_first (no transposes).
    """
    if layout == "chlast":
        return F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), w, b, LN_EPS).permute(0, 3, 1, 2)
    return ln_channels_first(x, w, b)


class Block(nn.Module):
    """One PeLK block: partial peripheral conv (+ kpe), LayerNorm, fc1, GELU, fc2 (gamma folded), residual.

    Everything a deployed model would precompute is precomputed here: the dense depthwise kernel
    (expanded from the compact theta by the stage's grid), the constant kpe folded into the bias,
    the border kpe as a per-channel map [1, g, H, W], gamma folded into fc2's weight and bias.
    self.mode ("linear" or "conv1x1") and self.layout ("nchw" or "chlast") are set by PeLKTorch.
    """

    def __init__(self, wt, b, st, kpe, h):
        super().__init__()
        self.g, self.c, self.pad = st["g"], st["dim"], st["kernel"] // 2
        self.mode, self.layout = "linear", "nchw"
        f64 = lambda name: torch.as_tensor(np.asarray(wt[name]), dtype=torch.float64)
        border = None
        if self.g > 0:
            w = pelk_ref.expand_kernel(f64(f"{b}.conv.weight"), st["rows"], st["cols"])  # [g, 1, k, k]
            bias = f64(f"{b}.conv.bias")
            if h is not None and kpe == "constant":
                bias = bias + (w[:, 0] * h).sum(dim=(1, 2))
            self.register_buffer("conv_w", w.float().contiguous())
            self.register_buffer("conv_b", bias.float())
            if h is not None and kpe == "border":
                ones = torch.ones(1, self.g, st["height"], st["width"])
                wh = (w * h[:, None]).float().contiguous(memory_format=torch.channels_last)
                border = F.conv2d(ones.contiguous(memory_format=torch.channels_last), wh, None,
                                  padding=self.pad, groups=self.g)
                border = border.contiguous()
        self.register_buffer("border", border)  # None unless kpe is border
        gamma = f64(f"{b}.gamma")
        self.register_buffer("norm_w", f64(f"{b}.norm.weight").float())
        self.register_buffer("norm_b", f64(f"{b}.norm.bias").float())
        self.register_buffer("fc1_w", f64(f"{b}.fc1.weight").float().contiguous())
        self.register_buffer("fc1_b", f64(f"{b}.fc1.bias").float())
        self.register_buffer("fc2_w", (f64(f"{b}.fc2.weight") * gamma[:, None]).float().contiguous())
        self.register_buffer("fc2_b", (f64(f"{b}.fc2.bias") * gamma).float())

    def conv(self, x):
        """The block's input with its first g channels through the peripheral conv."""
        if self.g == 0:
            return x
        yc = F.conv2d(x[:, :self.g], self.conv_w, self.conv_b, padding=self.pad, groups=self.g)
        if self.border is not None:
            yc = yc.add_(self.border)
        return yc if self.g == self.c else torch.cat([yc, x[:, self.g:]], dim=1)

    def pointwise(self, x, y):
        """x + MLP(LN(y)) (gamma inside fc2), accumulated into x in place."""
        if self.mode == "linear":  # F.linear over an NHWC view (a copy in NCHW, free in channels_last)
            t = F.layer_norm(y.permute(0, 2, 3, 1), (self.c,), self.norm_w, self.norm_b, LN_EPS)
            t = F.linear(F.gelu(F.linear(t, self.fc1_w, self.fc1_b)), self.fc2_w, self.fc2_b)
            return x.add_(t.permute(0, 3, 1, 2))
        t = ln_channels(y, self.norm_w, self.norm_b, self.layout)
        t = F.conv2d(F.gelu(F.conv2d(t, self.fc1_w[:, :, None, None], self.fc1_b)),
                     self.fc2_w[:, :, None, None], self.fc2_b)
        return x.add_(t)

    def forward(self, x):
        return self.pointwise(x, self.conv(x))


class Stage(nn.Module):
    """Downsample (stage > 0: LayerNorm, conv 2x2 stride 2) then the blocks."""

    def __init__(self, wt, i, st, kpe):
        super().__init__()
        p = f"stages.{i}"
        t = lambda name: torch.as_tensor(np.asarray(wt[name]), dtype=torch.float32)
        self.layout = "nchw"
        self.down = i > 0
        if self.down:
            self.register_buffer("ds_norm_w", t(f"{p}.downsample.norm.weight"))
            self.register_buffer("ds_norm_b", t(f"{p}.downsample.norm.bias"))
            self.register_buffer("ds_conv_w", t(f"{p}.downsample.conv.weight").contiguous())
            self.register_buffer("ds_conv_b", t(f"{p}.downsample.conv.bias"))
        h = None
        if st["g"] > 0 and kpe != "none":
            h = torch.as_tensor(np.asarray(wt[f"{p}.kpe"]), dtype=torch.float64)
        self.blocks = nn.ModuleList(Block(wt, f"{p}.blocks.{j}", st, kpe, h) for j in range(st["depth"]))

    def forward(self, x):
        if self.down:
            x = ln_channels(x, self.ds_norm_w, self.ds_norm_b, self.layout)
            x = F.conv2d(x, self.ds_conv_w, self.ds_conv_b, stride=2)
        for blk in self.blocks:
            x = blk(x)
        return x


class PeLKTorch(nn.Module):
    """The network of spec/SPEC.md in float32 (inference only; optional BN/small-kernel parts are not built).

    Build with the weights dict (spec names, as pelk_ref.random_weights makes), then call
    set_layout("nchw" | "chlast"), which also converts the buffers' memory format.
    """

    def __init__(self, spec, wt):
        super().__init__()
        spec = pelk_ref.as_spec(spec)
        self.spec = spec
        t = lambda name: torch.as_tensor(np.asarray(wt[name]), dtype=torch.float32)
        self.stride = spec["stem"]["stride"]
        self.layout = "nchw"
        self.register_buffer("stem_w", t("stem.weight").contiguous())
        self.register_buffer("stem_b", t("stem.bias"))
        self.register_buffer("stem_norm_w", t("stem_norm.weight"))
        self.register_buffer("stem_norm_b", t("stem_norm.bias"))
        kpe = spec["block"]["kpe"]
        self.stages = nn.ModuleList(Stage(wt, i, st, kpe) for i, st in enumerate(spec["stages"]))
        self.register_buffer("head_norm_w", t("head_norm.weight"))
        self.register_buffer("head_norm_b", t("head_norm.bias"))
        self.register_buffer("head_w", t("head.weight").contiguous())
        self.register_buffer("head_b", t("head.bias"))

    def set_layout(self, layout, modes=None):
        """Set the layout everywhere (and the pointwise mode per stage: a list, one per stage)."""
        assert layout in ("nchw", "chlast")
        self.layout = layout
        for i, stage in enumerate(self.stages):
            stage.layout = layout
            for blk in stage.blocks:
                blk.layout = layout
                if modes is not None:
                    blk.mode = modes[i]
        fmt = torch.channels_last if layout == "chlast" else torch.contiguous_format
        return self.to(memory_format=fmt)

    def forward(self, x):
        x = F.conv2d(x, self.stem_w, self.stem_b, stride=self.stride)
        x = ln_channels(x, self.stem_norm_w, self.stem_norm_b, self.layout)
        for stage in self.stages:
            x = stage(x)
        x = F.layer_norm(x.mean(dim=(2, 3)), (x.shape[1],), self.head_norm_w, self.head_norm_b, LN_EPS)
        return F.linear(x, self.head_w, self.head_b)


def stage_input_shape(spec, i, batch):
    """[N, C_i, H_i, W_i]: the activation shape inside stage i."""
    st = spec["stages"][i]
    return (batch, st["dim"], st["height"], st["width"])


def layout_tensor(x, layout):
    return x.contiguous(memory_format=torch.channels_last if layout == "chlast" else torch.contiguous_format)


def tune_pointwise(model, layout, batch, budget, log):
    """Per stage, the faster pointwise mode (F.linear on NHWC vs 1x1 conv) in this layout.

    Times one block's pointwise part (LayerNorm, fc1, GELU, fc2, residual) on a random activation of
    the stage's shape, both modes interleaved over 3 rounds, `budget` seconds per mode in all, and
    keeps the one with the lower minimum (on a busy machine the minimum is the steadier statistic).
    """
    modes = []
    gen = torch.Generator().manual_seed(123)
    for i, stage in enumerate(model.stages):
        if not stage.blocks:
            modes.append("linear")
            continue
        blk = stage.blocks[0]
        x = layout_tensor(torch.randn(stage_input_shape(model.spec, i, batch), generator=gen), layout)
        y = layout_tensor(torch.randn(x.shape, generator=gen), layout)

        def run(mode):
            blk.mode, blk.layout = mode, layout
            return blk.pointwise(x, y)

        fns = {m: (lambda m=m: run(m)) for m in POINTWISE_MODES}
        stats = time_methods(fns, iters=6, min_time=budget, max_time=budget, rounds=3, short=0.5)
        best = min(POINTWISE_MODES, key=lambda m: stats[m][2])
        modes.append(best)
        log(f"  {layout:6s} stage {i} {tuple(x.shape)}: pointwise "
            + ", ".join(f"{m} {stats[m][2]:.3f} ms (median {stats[m][0]:.3f})" for m in POINTWISE_MODES)
            + f" -> {best}")
    return modes


# ----------------------------------------------------------------------------------------------
# The two sides
# ----------------------------------------------------------------------------------------------

def run_pelkc(args, log):
    """Run `pelkc bench`; return (median ms, min ms or None, peak RSS MB or None); (None, None, None) on failure.

    The median is the `median_ms: X` line pelkc prints last; the min ('min X ms') and the peak
    resident memory ('peak_rss_mb: X') are read from the lines before it when pelkc prints them.
    """
    if not os.access(args.pelkc, os.X_OK):
        log(f"  FAILED: no executable pelkc at {args.pelkc} (build it, pass --pelkc PATH, or --torch-only)")
        return None, None, None
    cmd = [args.pelkc, "bench", args.spec, "--batch", str(args.batch), "--threads", str(args.threads)]
    if args.iters is not None:
        cmd += ["--iters", str(args.iters)]
    log(f"  $ {shlex.join(cmd)}")
    t0 = time.perf_counter()
    run = benchlib.run_pelkc(cmd, args.pelkc_timeout, stderr_tail=30)
    wall = time.perf_counter() - t0
    if run.ms is None:
        log(f"  FAILED ({run.failure[0]})")
        for ln in run.failure[1:]:
            log(f"  {ln}")
        return None, None, None
    for ln in run.lines:
        log(f"    | {ln}")
    ms = run.ms
    rss = lo = None
    for ln in run.lines:
        r, m_lo = RSS_RE.search(ln), PELKC_MIN_RE.search(ln)
        if r:
            rss = float(r.group(1))
        if m_lo and lo is None:
            lo = float(m_lo.group(1))
    log(f"  pelkc median {ms:.3f} ms  (whole command incl. compile: {wall:.1f} s)")
    return ms, lo, rss


def bench_torch(spec, args, log):
    """Build, tune, check and time the torch variants: ({key: median ms or None}, {key: min ms or None},
    {key: note})."""
    times, notes = {key: None for key, _ in TORCH_METHODS}, {}
    mins = dict(times)
    t0 = time.perf_counter()
    wt = pelk_ref.random_weights(spec, np.random.default_rng(args.seed))
    model = PeLKTorch(spec, wt).eval()
    del wt
    x = torch.randn(args.batch, spec["input"]["channels"], spec["input"]["height"], spec["input"]["width"],
                    generator=torch.Generator().manual_seed(args.seed + 1))
    log(f"  built the float32 model in {time.perf_counter() - t0:.1f} s"
        f" ({sum(b.numel() for b in model.buffers()) / 1e6:.1f} M floats with the expanded kernels)")
    methods = [key for key, _ in TORCH_METHODS if key in args.methods]
    outs, fns = {}, {}
    with torch.no_grad():
        all_modes = {}
        for layout in ("nchw", "chlast"):  # first, as tuning changes the modes of the first blocks
            if args.pointwise == "auto":
                all_modes[layout] = tune_pointwise(model, layout, args.batch, args.tune_time, log)
            else:
                all_modes[layout] = [args.pointwise] * len(model.stages)
            notes[layout] = "pointwise per stage: " + "/".join(all_modes[layout])
        for key in ("nchw", "chlast"):  # both are always built: NCHW is the reference for the check
            # One model per variant (a copy for channels_last), so no call converts anything.
            m = (model if key == "nchw" else copy.deepcopy(model)).set_layout(key, all_modes[key])
            xin = layout_tensor(x, key)
            t1 = time.perf_counter()
            outs[key] = m(xin)
            log(f"  {key:6s} first run {time.perf_counter() - t1:.2f} s; {notes[key]}")
            if key in methods:
                fns[key] = lambda m=m, xin=xin: m(xin)
        if not torch.isfinite(outs["nchw"]).all():
            log("  FAILED: the NCHW output is not finite")
            return times, mins, notes
        err = rel_err(outs["chlast"], outs["nchw"])
        log(f"  check: channels_last vs NCHW relative error {err:.2e} (must be < {CHECK_RTOL:g})")
        if not err < CHECK_RTOL:
            log("  FAILED: the two torch variants disagree; neither is timed")
            return times, mins, notes
        if not fns:
            return times, mins, notes
        stats = time_methods(fns, args.iters or 10, args.min_time, args.max_time, args.rounds, short=0.5)
    for key, name in TORCH_METHODS:
        if key in stats:
            ms, n, lo = stats[key]
            times[key], mins[key] = ms, lo
            log(f"  {name:20s} median {ms:10.3f} ms  (min {lo:.3f}, {n} runs)")
    return times, mins, notes


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------

HEADER = ["method", "median ms", "min ms", "images/s", "pelkc x faster"]


def table_rows(times, mins, states, batch, refused):
    """Rows: pelkc (ratio against the best torch), then each torch variant (pelkc's ratio against it);
    refused: no ratios (torch runs on the reference BLAS)."""
    tt = [(times[key], key) for key, _ in TORCH_METHODS if times.get(key) is not None]
    best = min(tt) if tt else None
    pk = times.get("pelkc")
    rows = []
    names = [("pelkc", "pelkc")] + TORCH_METHODS
    for key, name in names:
        ms = times.get(key)
        if best and key == best[1]:
            name += " (best torch)"
        if ms is None:
            rows.append([name, states.get(key, "-"), "-", "-", "-"])
            continue
        if refused:
            ratio = "refused"
        elif key == "pelkc":
            ratio = f"{fmt_ratio(best[0] / pk)} (vs best torch)" if best else "-"
        else:
            ratio = fmt_ratio(ms / pk) if pk else "-"
        lo = mins.get(key)
        rows.append([name, fmt_ms(ms), fmt_ms(lo) if lo else "-", f"{batch * 1e3 / ms:.2f}", ratio])
    return rows, best


# ----------------------------------------------------------------------------------------------
# Self-test
# ----------------------------------------------------------------------------------------------

def self_test(args):
    """The float32 model (both layouts, both pointwise modes) against pelk_ref's float64 forward."""
    specs = sorted(glob.glob(os.path.join(REPO_ROOT, "tests", "specs", "*.yaml")))
    if not specs:
        print("self-test: no tests/specs/*.yaml found")
        return 1
    worst, bad = 0.0, []
    for path in specs:
        spec = pelk_ref.load_spec(path)
        wt = pelk_ref.random_weights(spec, np.random.default_rng(7))
        x = np.random.default_rng(8).standard_normal(
            (2, spec["input"]["channels"], spec["input"]["height"], spec["input"]["width"])).astype(np.float32)
        ref = pelk_ref.forward(spec, wt, x)
        model = PeLKTorch(spec, wt).eval()
        errs = []
        with torch.no_grad():
            for layout in ("nchw", "chlast"):
                for mode in POINTWISE_MODES:
                    m = model.set_layout(layout, [mode] * len(spec["stages"]))
                    e = rel_err(m(layout_tensor(torch.from_numpy(x), layout)), ref)
                    errs.append(e)
                    if not e < SELF_TEST_RTOL:
                        bad.append(f"{os.path.basename(path)} {layout} {mode}: {e:.2e}")
        worst = max(worst, *errs)
        print(f"  {os.path.basename(path):45s} kpe {spec['block']['kpe']:8s} max rel err {max(errs):.2e}")
    if bad:
        print("self-test FAILED (relative error >= %g):\n  " % SELF_TEST_RTOL + "\n  ".join(bad))
        return 1
    print(f"self-test passed: {len(specs)} specs x 2 layouts x 2 pointwise modes against the float64"
          f" reference, worst relative error {worst:.2e} (< {SELF_TEST_RTOL:g})")
    return 0


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spec", nargs="?", help="model spec (YAML), e.g. examples/pelk_t.yaml")
    p.add_argument("--batch", type=int, default=1, help="batch N (default 1)")
    p.add_argument("--threads", type=int, default=2, help="threads for pelkc and torch (default 2)")
    p.add_argument("--iters", type=int, default=None,
                   help="timed runs: passed to pelkc bench as --iters, and torch's minimum (default: pelkc's"
                        " own default; 10 for torch)")
    benchlib.add_torch_timing_options(p, 3.0, 30.0, 3)
    p.add_argument("--pointwise", choices=("auto",) + POINTWISE_MODES, default="auto",
                   help="torch pointwise MLP: F.linear on NHWC, 1x1 conv, or the faster per stage and"
                        " layout (default auto)")
    p.add_argument("--tune-time", type=float, default=0.5,
                   help="seconds per mode and stage to choose the pointwise mode (default 0.5)")
    p.add_argument("--methods", default="nchw,chlast", help="torch variants to time (default nchw,chlast)")
    p.add_argument("--pelkc", default=os.path.join(REPO_ROOT, "build", "pelkc"),
                   help="pelkc binary (default: build/pelkc in the repo root)")
    p.add_argument("--pelkc-timeout", type=float, default=1800, help="seconds before pelkc bench counts as failed")
    p.add_argument("--torch-only", action="store_true", help="do not run pelkc")
    p.add_argument("--seed", type=int, default=0, help="seed for the torch weights and input")
    p.add_argument("--markdown", default="", help="also write the table (with machine and settings) here")
    p.add_argument("--self-test", action="store_true",
                   help="check the float32 model against the float64 reference on tests/specs, then exit")
    a = p.parse_args(argv)
    if a.self_test:
        return a
    if not a.spec:
        p.error("a spec is required (or --self-test)")
    if a.batch < 1 or a.threads < 1 or a.rounds < 1 or (a.iters is not None and a.iters < 1):
        p.error("--batch, --threads, --rounds and --iters must be positive")
    a.methods = [m.strip() for m in a.methods.split(",") if m.strip()]
    if set(a.methods) - {k for k, _ in TORCH_METHODS}:
        p.error(f"--methods: choose from {', '.join(k for k, _ in TORCH_METHODS)}")
    return a


def main(argv=None):
    args = parse_args(argv)
    benchlib.torch_peer.set_threads(args.threads if not args.self_test else (os.cpu_count() or 1))
    if args.self_test:
        return self_test(args)
    log = lambda s: print(s, flush=True)
    try:
        spec = pelk_ref.load_spec(args.spec)
    except Exception as e:  # noqa: BLE001 - report any spec problem as one line
        print(f"{args.spec}: {e}", file=sys.stderr)
        return 1

    peer = benchlib.torch_peer.describe()
    refused = benchlib.torch_peer.refusal(peer)
    refusal = [f"WARNING: {refused}"] if refused else []
    info = benchlib.machine_info(args.threads, peer)
    st_txt = ", ".join(f"{s['dim']}x{s['depth']} k{s['kernel']}" for s in spec["stages"])
    settings = [f"spec: {spec['name']} ({os.path.relpath(os.path.abspath(args.spec), REPO_ROOT)}),"
                f" input {spec['input']['channels']}x{spec['input']['height']}x{spec['input']['width']},"
                f" stages {st_txt}, kpe {spec['block']['kpe']}",
                f"batch {args.batch}, threads {args.threads}",
                f"timing: median; torch >= {args.iters or 10} runs and >= {args.min_time:g} s per method,"
                f" interleaved over {args.rounds} rounds (slow methods capped at {args.max_time:g} s, >= 3 runs);"
                f" pelkc: its own warm-up and median"]
    for ln in info + settings:
        log(ln)
    warnings = [w for w in [benchlib.busy_warning()] if w]
    for ln in warnings + refusal:
        log(ln)
    log("")

    times, mins, states, rss = {}, {}, {}, None
    if args.torch_only:
        states["pelkc"] = "-"
    else:
        log("pelkc:")
        times["pelkc"], mins["pelkc"], rss = run_pelkc(args, log)
        if times["pelkc"] is None:
            states["pelkc"] = "FAIL"
        log("")
    log("torch:")
    ttimes, tmins, notes = bench_torch(spec, args, log)
    for key, _ in TORCH_METHODS:
        times[key], mins[key] = ttimes[key], tmins[key]
        if ttimes[key] is None:
            states[key] = "FAIL" if key in args.methods else "-"
    log("")

    rows, best = table_rows(times, mins, states, args.batch, refused)
    summary = []
    if times.get("pelkc") and best and not refused:
        r = best[0] / times["pelkc"]
        how = f"pelkc is {fmt_ratio(r)} faster" if r >= 1 else f"pelkc is {fmt_ratio(1 / r)} slower"
        summary.append(f"pelkc vs best torch: {fmt_ratio(r)} ({how} than {dict(TORCH_METHODS)[best[1]]},"
                       f" {fmt_ms(best[0])} ms, by medians)")
    if rss is not None:
        summary.append(f"pelkc peak resident memory: {rss:.1f} MB")
    summary += [f"{dict(TORCH_METHODS)[k]}: {v}" for k, v in notes.items() if k in args.methods]
    end_warning = benchlib.busy_warning()
    if end_warning and not warnings:
        warnings.append(end_warning.replace("WARNING:", "WARNING (at the end):").replace(" before measuring", ""))
    summary += [f"load average at the end: {benchlib.load_text()}"] + warnings + refusal
    log(benchlib.text_table(HEADER, rows, left=(0,)))
    log("")
    for ln in summary:
        log(ln)
    if args.markdown:
        os.makedirs(os.path.dirname(os.path.abspath(args.markdown)), exist_ok=True)
        text = [f"# {spec['name']}: pelkc vs PyTorch, whole network", ""]
        text += [f"- {ln}" for ln in info + settings]
        text += ["", benchlib.markdown_table(HEADER, rows, left=(0,)), ""]
        text += [f"- {ln}" for ln in summary]
        text += ["- pelkc x faster = the row's median / pelkc's median (on pelkc's row: best torch median /"
                 " pelkc median); min ms = the fastest timed run (pelkc's as it reports it); images/s ="
                 " batch x 1000 / median ms; FAIL = the run failed, - = not run; refused = torch runs on"
                 " the reference BLAS"]
        with open(args.markdown, "w") as f:
            f.write("\n".join(text) + "\n")
        log(f"markdown: {args.markdown}")
    if not all(times.get(k) is not None for k in ["pelkc"] * (not args.torch_only) + args.methods):
        return 1
    return benchlib.REFUSED_STATUS if refused else 0


if __name__ == "__main__":
    sys.exit(main())
