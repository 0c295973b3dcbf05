#!/usr/bin/python3
"""Training with pelkc's peripheral-conv kernels against PyTorch's dense path, side by side.

Three sections (--only conv,step,memory picks some):

  conv    forward + backward of one peripheral conv layer (46 channels, 56x56, batch 8, 2 threads,
          grid {center: 5, base: 2}, kpe constant) at K = 13, 31, 51, 101, 151:
            pelkc        pelkc_train.peripheral_conv (the kernels `pelkc compile-train` builds)
            torch NCHW   theta expanded (repeat_interleave) + F.conv2d depthwise, NCHW
            torch chlast the same in torch.channels_last (oneDNN's depthwise path)
            pelk dense   pelk_torch.PeripheralConv(impl="dense") on NHWC (kernel cropped to 2H-1)
          x, theta, bias and kpe require grad; the backward takes a fixed random dY. "best dense" is
          the fastest dense form. Before timing, every form is checked against torch NCHW at batch 2.
  step    whole training steps (forward, cross-entropy, backward, AdamW) of pelk_torch.PeLK with
          impl="pelkc" against impl="dense", same initial weights and batch: PeLK-T 224x224 batch 8,
          the grid ablation's fashion_pairs (112x112) batch 64, fashion_mnist batch 128. One more step
          per impl runs under torch.profiler to find the peripheral convs' share of the step.
  memory  each (network, impl) step in a fresh process (this script with a hidden flag): its peak
          resident memory (VmHWM) after a few steps.

Medians (bench/benchlib.py time_methods: warm-up, then round-robin rounds). Torch's BLAS and ISA
are printed; on the reference BLAS no ratio is printed and the exit status is 2. The tables are
markdown; the summary puts the issue's targets next to the measured ratios (met / not met). A
benchmark, not a test: nothing is asserted.

Usage (from the repo root):
  /usr/bin/python3 bench/train_vs_torch.py --pelkc build/pelkc              # everything (~12 min, quiet machine)
  /usr/bin/python3 bench/train_vs_torch.py --quick                          # smoke run (~2-3 min)
  /usr/bin/python3 bench/train_vs_torch.py --only conv --kernels 51,151 --dense-max-k 101
See bench/README.md.
"""

import argparse
import copy
import os
import subprocess
import sys
import time

import benchlib  # bench/benchlib.py: timing, header (and python/torch_peer.py)
from benchlib import REPO_ROOT, fmt_ms, fmt_ratio, rel_err, time_methods

benchlib.torch_peer.prefer_avx512()  # before torch loads
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import yaml  # noqa: E402

import pelk_torch  # noqa: E402  (python/, put on sys.path by benchlib)
import pelkc_train  # noqa: E402

SECTIONS = ("conv", "step", "memory")
CONV_METHODS = [("pelkc", "pelkc"), ("nchw", "torch NCHW"), ("chlast", "torch channels_last"),
                ("pelk_dense", "pelk_torch dense")]
DENSE = [k for k, _ in CONV_METHODS[1:]]
FULL = {"kernels": "13,31,51,101,151", "nets": "pelk_t:8,fashion_pairs:64,fashion_mnist:128"}
QUICK = {"kernels": "13,51", "nets": "fashion_mnist:32,fashion_pairs:8,pelk_t:1"}
CHECK_TOL = 1e-3           # a dense form further than this from torch NCHW is excluded
BWD_PREFIX = "autograd::engine::evaluate_function: "


# ---- 1. one conv layer -------------------------------------------------------------------------

def conv_tensors(k, rows, cols, args, batch):
    """x [N, C, H, W], theta, bias, kpe (None for mode none), dY: all leaves, the first four with grad."""
    gen = torch.Generator().manual_seed(args.seed + k)
    c, (h, w) = args.channels, args.size
    t = {"x": torch.randn(batch, c, h, w, generator=gen),
         "theta": torch.randn(c, 1, len(rows), len(cols), generator=gen) / k,
         "bias": torch.randn(c, generator=gen) * 0.1,
         "kpe": torch.randn(c, k, k, generator=gen) * 0.02 if args.kpe != "none" else None,
         "dy": torch.randn(batch, c, h, w, generator=gen)}
    for name in ("x", "theta", "bias", "kpe"):
        if t[name] is not None:
            t[name].requires_grad_()
    return t


def conv_methods(k, rows, cols, t, mode):
    """{key: fn() -> (y, [dX, dtheta, dbias(, dkpe)])}, everything NCHW-shaped for the check."""
    x, theta, bias, kpe, dy = t["x"], t["theta"], t["bias"], t["kpe"], t["dy"]
    g, params = theta.shape[0], [p for p in (theta, bias, kpe) if p is not None]
    rt, ct = torch.tensor(rows), torch.tensor(cols)
    fmt = torch.channels_last
    x_cl, dy_cl = (v.detach().contiguous(memory_format=fmt) for v in (x, dy))
    x_cl.requires_grad_()
    x_hwc, dy_hwc = (v.detach().permute(0, 2, 3, 1).contiguous() for v in (x, dy))
    x_hwc.requires_grad_()
    layer = pelk_torch.PeripheralConv(g, k, rows, cols, impl="dense")
    with torch.no_grad():
        layer.weight.copy_(theta)
        layer.bias.copy_(bias)

    def torch_dense(xin, dyin, chlast):
        wd = theta.repeat_interleave(rt, dim=2).repeat_interleave(ct, dim=3)  # in the step, as in training
        b = bias + (wd[:, 0] * kpe).sum(dim=(1, 2)) if mode == "constant" else bias
        wc = wd.contiguous(memory_format=fmt) if chlast else wd
        y = F.conv2d(xin, wc, b, padding=k // 2, groups=g)
        if mode == "border":  # h only where a tap lands inside the image: conv of ones with W*h
            ones = torch.ones((1,) + tuple(xin.shape[1:])).contiguous(memory_format=fmt if chlast else
                                                                      torch.contiguous_format)
            y = y + F.conv2d(ones, wc * kpe[:, None], None, padding=k // 2, groups=g)
        return y, list(torch.autograd.grad(y, [xin] + params, dyin))

    def pelkc():
        y = pelkc_train.peripheral_conv(x, theta, bias, kpe, k, rows, cols, mode)
        return y, list(torch.autograd.grad(y, [x] + params, dy))

    def pelk_dense():
        y = layer(x_hwc, kpe, mode)
        gr = torch.autograd.grad(y, [x_hwc, layer.weight, layer.bias] + ([kpe] if kpe is not None else []), dy_hwc)
        return y.permute(0, 3, 1, 2), [gr[0].permute(0, 3, 1, 2)] + list(gr[1:])

    return {"pelkc": pelkc, "nchw": lambda: torch_dense(x, dy, False),
            "chlast": lambda: torch_dense(x_cl, dy_cl, True), "pelk_dense": pelk_dense}


def conv_check(k, rows, cols, args, methods, log):
    """Each method's worst relative error (y and every gradient) against torch NCHW at batch 2."""
    fns = conv_methods(k, rows, cols, conv_tensors(k, rows, cols, args, min(2, args.batch)), args.kpe)
    ref_y, ref_g = fns["nchw"]()
    names = ["y", "dX", "dtheta", "dbias", "dkpe"]
    errs = {"nchw": 0.0}
    for key in methods:
        if key == "nchw":
            continue
        y, gr = fns[key]()
        e = [rel_err(y, ref_y)] + [rel_err(a, b) for a, b in zip(gr, ref_g)]
        errs[key] = max(e)
        if key == "pelkc":
            log(f"  K={k:<4d} check pelkc vs torch NCHW (batch {min(2, args.batch)}, float32): "
                + ", ".join(f"{n} {v:.1e}" for n, v in zip(names, e)))
    others = [f"{dict(CONV_METHODS)[m]} {errs[m]:.1e}" for m in methods if m not in ("pelkc", "nchw")]
    if others:
        log(f"  K={k:<4d} check dense forms vs torch NCHW (worst of y and gradients): " + ", ".join(others))
    return errs


def conv_section(args, log, pelkc_ok):
    """Time every method at every K; returns [{k, kp, times, state, err}]."""
    results = []
    for k in args.kernels:
        rows, cols = pelk_torch.resolve_grid(k, args.grid)
        dense_on = args.dense_max_k is None or k <= args.dense_max_k
        methods = (["pelkc"] if pelkc_ok else []) + (DENSE if dense_on else [])
        state = {m: "skip" for m in DENSE if not dense_on}
        if not pelkc_ok:
            state["pelkc"] = "FAIL"
        log(f"K={k}: grid {rows}, k' = {len(rows)}")
        errs = conv_check(k, rows, cols, args, ["nchw"] + methods, log)
        bad = [m for m in methods if m != "pelkc" and not errs[m] <= CHECK_TOL]
        for m in bad:
            log(f"  WARNING K={k} {dict(CONV_METHODS)[m]}: error {errs[m]:.1e} > {CHECK_TOL:g}: excluded")
            state[m] = "excl"
        fns = conv_methods(k, rows, cols, conv_tensors(k, rows, cols, args, args.batch), args.kpe)
        timed = {m: fns[m] for m in methods if m not in bad}
        stats = time_methods(timed, args.iters, args.min_time, args.max_time, args.rounds) if timed else {}
        times = {}
        for m, (ms, n, lo) in stats.items():
            times[m] = ms
            log(f"  K={k:<4d} {dict(CONV_METHODS)[m]:<20s} fwd+bwd median {ms:10.2f} ms  (min {lo:.2f}, {n} runs)")
        results.append({"k": k, "kp": str(len(rows)) if rows == cols else f"{len(rows)}x{len(cols)}",
                        "times": times, "state": state, "err": errs.get("pelkc")})
        log("")
    return results


def best_dense(r):
    """(ms, display name) of the fastest dense form at one K, or None."""
    c = [(r["times"][m], dict(CONV_METHODS)[m]) for m in DENSE if m in r["times"]]
    return min(c) if c else None


def conv_table(results, refused):
    header = ["K", "k'"] + [f"{n} ms" for _, n in CONV_METHODS] + ["best dense", "best dense / pelkc",
                                                                    "pelkc err"]
    rows = []
    for r in results:
        t, b = r["times"], best_dense(r)
        cells = [fmt_ms(t[m]) if m in t else r["state"].get(m, "-") for m, _ in CONV_METHODS]
        ratio = "refused" if refused else fmt_ratio(b[0] / t["pelkc"]) if b and "pelkc" in t else "-"
        rows.append([str(r["k"]), r["kp"]] + cells + [f"{fmt_ms(b[0])} ({b[1]})" if b else "-", ratio,
                                                      f"{r['err']:.1e}" if r["err"] is not None else "-"])
    return benchlib.markdown_table(header, rows)


# ---- 2. whole training steps -------------------------------------------------------------------

def spec_path(name):
    return name if name.endswith(".yaml") else os.path.join(REPO_ROOT, "examples", name + ".yaml")


def make_step(model, batch, seed):
    """A training step (AdamW, lr 1e-3, weight decay 0.05) on a fixed random batch; returns step()."""
    sp = model.spec
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, sp["input"]["channels"], sp["input"]["height"], sp["input"]["width"], generator=gen)
    y = torch.randint(0, sp["classes"], (batch,), generator=gen)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    step.x, step.y = x, y
    return step


def grad_check(models, x, y):
    """(loss rel diff, all gradients' rel err, worst tensor's rel err, its name): pelkc vs dense."""
    out = []
    for m in models:
        m.zero_grad(set_to_none=True)
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        out.append((loss.item(), {n: p.grad.detach().clone() for n, p in m.named_parameters() if p.grad is not None}))
        m.zero_grad(set_to_none=True)
    (lp, gp), (ld, gd) = out
    per = {n: rel_err(gp[n], gd[n]) for n in gd}
    worst = max(per, key=per.get)
    whole = rel_err(torch.cat([gp[n].flatten() for n in gd]), torch.cat([gd[n].flatten() for n in gd]))
    return abs(lp - ld) / max(abs(ld), 1e-30), whole, per[worst], worst


def conv_share(step):
    """One step under torch.profiler (CPU): (peripheral conv ms: forward, backward; step wall ms; {node: ms}).

    Counted: every pelk.peripheral_conv range (PeripheralConv's conv call: for pelkc the permutes and
    the autograd Function's forward; for dense the expansion, the Toeplitz gather and bmm or
    F.conv2d, the bias and kpe terms), inclusive of its ops; and each backward node created inside
    such a range (matched by autograd sequence number), inclusive of its ops. Not counted: the
    gradient accumulation into theta, bias and kpe (AccumulateGrad, a copy or an add).
    """
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        step()
        wall = time.perf_counter() - t0
    events = prof.events()
    ranges = [e for e in events if e.name == pelk_torch.PROFILE_LABEL]
    seqs, stack = set(), list(ranges)
    while stack:
        e = stack.pop()
        if e.sequence_nr >= 0:
            seqs.add(e.sequence_nr)
        stack.extend(e.cpu_children)
    nodes = {}
    for e in events:
        if e.name.startswith(BWD_PREFIX) and e.sequence_nr in seqs:
            n = e.name[len(BWD_PREFIX):]
            nodes[n] = nodes.get(n, 0.0) + e.cpu_time_total / 1e3
    return sum(e.cpu_time_total for e in ranges) / 1e3, sum(nodes.values()), wall * 1e3, nodes


def step_section(args, log, pelkc_ok):
    """Per network: pelkc and dense steps timed round-robin, checked, profiled."""
    results = []
    for name, batch in args.nets:
        model = pelk_torch.PeLK(spec_path(name), impl="pelkc" if pelkc_ok else "dense")
        models = {"pelkc": model, "dense": copy.deepcopy(model).set_impl("dense")}
        if not pelkc_ok:
            del models["pelkc"]
        sp, small = model.spec, lambda s: s["height"] * s["width"] <= pelk_torch.TOEPLITZ_MAX_PIXELS
        log(f"{name}: input {sp['input']['channels']}x{sp['input']['height']}x{sp['input']['width']}, batch {batch},"
            " stages " + ", ".join(f"{s['dim']}x{s['depth']} k{s['kernel']} on {s['height']}x{s['width']}"
                                   + (" (Toeplitz)" if small(s) else "") for s in sp["stages"]))
        steps = {impl: make_step(m, batch, args.seed) for impl, m in models.items()}
        r = {"name": name, "batch": batch, "times": {}, "share": {}, "check": None}
        if pelkc_ok:
            r["check"] = grad_check(list(models.values()), steps["dense"].x, steps["dense"].y)
            log("  check pelkc vs dense (same weights, one forward+backward): loss rel diff {:.1e}, all gradients"
                " rel err {:.1e}, worst tensor {:.1e} ({})".format(*r["check"]))
        stats = time_methods(steps, args.steps, args.step_min_time, args.step_max_time, args.rounds)
        for impl, step in steps.items():
            ms, n, lo = stats[impl]
            r["times"][impl] = ms
            fwd, bwd, wall, nodes = conv_share(step)
            r["share"][impl] = (fwd + bwd) / wall
            top = ", ".join(f"{n_} {v:.0f}" for n_, v in sorted(nodes.items(), key=lambda kv: -kv[1])[:4])
            log(f"  {impl:6s} step median {ms:9.1f} ms (min {lo:.1f}, {n} steps), {batch * 1e3 / ms:7.1f} images/s;"
                f" profiled step {wall:.0f} ms, peripheral convs {fwd:.0f} fwd + {bwd:.0f} bwd ms"
                f" = {100 * r['share'][impl]:.1f}% (backward nodes, ms: {top or 'none'})")
        results.append(r)
        log("")
    return results


def step_table(results, refused):
    header = ["network", "batch", "pelkc step ms", "dense step ms", "dense / pelkc", "pelkc images/s",
              "dense images/s", "conv share pelkc", "conv share dense"]
    rows = []
    for r in results:
        t, s = r["times"], r["share"]
        ratio = "refused" if refused else fmt_ratio(t["dense"] / t["pelkc"]) if "pelkc" in t else "-"
        rows.append([r["name"], str(r["batch"])] + [fmt_ms(t[i]) if i in t else "FAIL" for i in ("pelkc", "dense")]
                    + [ratio] + [f"{r['batch'] * 1e3 / t[i]:.1f}" if i in t else "-" for i in ("pelkc", "dense")]
                    + [f"{100 * s[i]:.1f}%" if i in s else "-" for i in ("pelkc", "dense")])
    return benchlib.markdown_table(header, rows, left=(0,))


# ---- 3. peak memory ----------------------------------------------------------------------------

def rss_mb(field):
    """VmRSS (now) or VmHWM (peak) of this process, MB. Not ru_maxrss: Linux keeps the parent's
    high-water mark across fork + exec in it (the forked copy's RSS is the parent's), so a child of
    a big process would report the parent's peak; VmHWM belongs to the address space exec made."""
    with open("/proc/self/status") as f:
        return next(int(ln.split()[1]) for ln in f if ln.startswith(field + ":")) / 1024


def memory_child(args):
    """The hidden --_memory NAME:BATCH:IMPL run: a few steps, then 'peak_rss_mb: X base_rss_mb: Y'."""
    name, batch, impl = args._memory.rsplit(":", 2)
    base = rss_mb("VmRSS")
    step = make_step(pelk_torch.PeLK(spec_path(name), impl=impl), int(batch), args.seed)
    for _ in range(args.memory_steps):
        step()
    print(f"peak_rss_mb: {rss_mb('VmHWM'):.1f} base_rss_mb: {base:.1f}")
    return 0


def memory_section(args, log, pelkc_ok):
    results = []
    for name, batch in args.nets:
        r = {"name": name, "batch": batch, "peak": {}, "base": {}}
        for impl in ("pelkc", "dense") if pelkc_ok else ("dense",):
            cmd = [sys.executable, os.path.abspath(__file__), "--_memory", f"{name}:{batch}:{impl}",
                   "--threads", str(args.threads), "--seed", str(args.seed), "--memory-steps", str(args.memory_steps)]
            p = subprocess.run(cmd, capture_output=True, text=True)
            words = p.stdout.split()
            if p.returncode != 0 or "peak_rss_mb:" not in words:
                log(f"  {name} {impl}: FAILED (exit {p.returncode}): {p.stderr.strip()[-400:]}")
                continue
            r["peak"][impl] = float(words[words.index("peak_rss_mb:") + 1])
            r["base"][impl] = float(words[words.index("base_rss_mb:") + 1])
            log(f"  {name} batch {batch} {impl:6s}: peak RSS {r['peak'][impl]:.0f} MB after {args.memory_steps} steps"
                f" (process with torch imported: {r['base'][impl]:.0f} MB)")
        results.append(r)
    log("")
    return results


def memory_table(results):
    rows = []
    for r in results:
        p = r["peak"]
        rows.append([r["name"], str(r["batch"])] + [f"{p[i]:.0f}" if i in p else "FAIL" for i in ("pelkc", "dense")]
                    + [f"{p['pelkc'] / p['dense']:.2f}" if len(p) == 2 else "-"])
    return benchlib.markdown_table(["network", "batch", "pelkc peak MB", "dense peak MB", "pelkc / dense"], rows,
                                   left=(0,))


# ---- summary -----------------------------------------------------------------------------------

def verdict(ok, refused=False):
    return "refused" if refused else "n/a (not measured)" if ok is None else "met" if ok else "not met"


def summary_table(conv, steps, mem, refused, quick):
    """The issue's targets next to what was measured (rows only for what was run)."""
    rows = []

    def row(what, target, value, text, ok):
        hide = refused and "x" in target  # a pelkc/torch ratio on the reference BLAS
        rows.append([what, target, "refused" if hide else text if value is not None else "-",
                     "" if ok == "" else verdict(None if value is None else ok, refused and "x" in target)])
    by_k = {r["k"]: r for r in conv or []}
    t = lambda k, m: by_k.get(k, {}).get("times", {}).get(m)
    if conv:
        b51, b151 = (best_dense(by_k[k]) if k in by_k else None for k in (51, 151))
        r = b51[0] / t(51, "pelkc") if b51 and t(51, "pelkc") else None
        row("conv K=51: best dense / pelkc", ">= 50x", r, fmt_ratio(r or 1), r and r >= 50)
        r = t(151, "pelkc") / t(51, "pelkc") if t(151, "pelkc") and t(51, "pelkc") else None
        row("conv: pelkc time(151) / time(51)", "<= 2", r, f"{r or 0:.2f}", r and r <= 2)
        r = b151[0] / b51[0] if b151 and b51 else None
        row("conv: best dense time(151) / time(51)", "(report)", r, f"{r or 0:.2f}", "")
    targets = {"pelk_t": (">= 2x", 2, "< 5%"), "fashion_pairs": (">= 3x (per epoch)", 3, None),
               "fashion_mnist": ("(report)", None, "(report)")}
    for st in steps or []:
        tg = targets.get(st["name"], ("(report)", None, "(report)"))
        tt, sh = st["times"], st["share"]
        r = tt["dense"] / tt["pelkc"] if "pelkc" in tt else None
        row(f"{st['name']} (batch {st['batch']}) step: dense / pelkc", tg[0], r, fmt_ratio(r or 1),
            "" if tg[1] is None else r and r >= tg[1])
        if tg[2]:
            v = sh.get("pelkc")
            row(f"{st['name']}: peripheral convs' share of a step, pelkc (dense: {100 * sh['dense']:.1f}%)",
                tg[2], v, f"{100 * (v or 0):.1f}%", "" if tg[2] == "(report)" else v is not None and v < 0.05)
    for m in mem or []:
        p = m["peak"]
        r = p["pelkc"] / p["dense"] if len(p) == 2 else None
        row(f"{m['name']} (batch {m['batch']}): peak memory pelkc / dense", "<= 1", r, f"{r or 0:.2f}",
            r is not None and r <= 1)
    if quick:
        rows = [rw[:3] + [rw[3] + " (quick settings)" if rw[3] else ""] for rw in rows]
    return benchlib.markdown_table(["what", "target", "measured", "verdict"], rows, left=(0, 3))


# ---- main --------------------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default=",".join(SECTIONS), help="sections to run: conv,step,memory (default all)")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: K {QUICK['kernels']}, nets {QUICK['nets']}, fewer repetitions")
    p.add_argument("--pelkc", default=os.environ.get("PELKC_BIN") or os.path.join(REPO_ROOT, "build", "pelkc"),
                   help="pelkc binary, exported as PELKC_BIN (default: $PELKC_BIN, else build/pelkc)")
    p.add_argument("--threads", type=int, default=2, help="torch threads, and pelkc's (default 2)")
    p.add_argument("--seed", type=int, default=0)
    g = p.add_argument_group("conv section")
    g.add_argument("--kernels", default=None, help=f"comma-separated odd K (default {FULL['kernels']})")
    g.add_argument("--grid", default="{center: 5, base: 2}", help="sharing grid, spec YAML syntax")
    g.add_argument("--kpe", choices=pelkc_train.MODES, default="constant", help="kpe mode (default constant)")
    g.add_argument("--channels", type=int, default=46)
    g.add_argument("--size", default="56x56", help="HxW (default 56x56)")
    g.add_argument("--batch", type=int, default=8)
    g.add_argument("--dense-max-k", type=int, default=None, metavar="K", help="do not time the dense forms above K")
    g.add_argument("--iters", type=int, default=None, help="at least this many timed runs per method (default 5)")
    benchlib.add_torch_timing_options(g, 2.0, 20.0, 3)
    g = p.add_argument_group("step and memory sections")
    g.add_argument("--nets", default=None, help=f"NAME:BATCH,... (examples/NAME.yaml; default {FULL['nets']})")
    g.add_argument("--steps", type=int, default=None, help="at least this many timed steps per impl (default 3)")
    g.add_argument("--step-min-time", type=float, default=None, help="timed seconds per impl at least (default 5)")
    g.add_argument("--step-max-time", type=float, default=60.0, help="stop a slow impl after this (>= 3 steps)")
    g.add_argument("--memory-steps", type=int, default=3, help="steps before reading the peak RSS (default 3)")
    p.add_argument("--markdown", default="", help="also write the report (header, tables, summary) here")
    p.add_argument("--_memory", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    pre = QUICK if a.quick else FULL
    a.kernels = [int(s) for s in (a.kernels or pre["kernels"]).split(",") if s.strip()]
    a.nets = [(n.split(":")[0], int(n.split(":")[1]) if ":" in n else 8)
              for n in (a.nets or pre["nets"]).split(",") if n]
    a.iters = a.iters or (2 if a.quick else 5)
    a.steps = a.steps or (2 if a.quick else 3)
    a.step_min_time = a.step_min_time if a.step_min_time is not None else (0.5 if a.quick else 5.0)
    if a.quick:
        a.min_time, a.max_time, a.rounds, a.memory_steps = min(a.min_time, 0.3), min(a.max_time, 3.0), 2, 2
    a.only = [s.strip() for s in a.only.split(",") if s.strip()]
    if set(a.only) - set(SECTIONS):
        p.error(f"--only: choose from {', '.join(SECTIONS)}")
    h, _, w = a.size.lower().partition("x")
    a.size = (int(h), int(w or h))
    a.grid = yaml.safe_load(a.grid)
    try:
        for k in a.kernels:
            pelk_torch.resolve_grid(k, a.grid)
    except Exception as e:  # noqa: BLE001 - a bad K or grid is a usage error
        p.error(f"--kernels / --grid: {e}")
    if any(k < 1 or k % 2 == 0 for k in a.kernels) or a.threads < 1 or a.batch < 1:
        p.error("kernel sizes must be odd and positive, --threads and --batch positive")
    if not all(os.path.exists(spec_path(n)) for n, _ in a.nets):
        p.error(f"--nets: no spec for {[n for n, _ in a.nets if not os.path.exists(spec_path(n))]}")
    return a


def main(argv=None):
    args = parse_args(argv)
    os.environ["PELKC_BIN"] = args.pelkc  # pelkc_train reads it at every compile
    benchlib.torch_peer.set_threads(args.threads)
    if args._memory:
        return memory_child(args)
    out = []

    def log(s):
        print(s, flush=True)
        out.append(s)
    peer = benchlib.torch_peer.describe()
    refused = benchlib.torch_peer.refusal(peer)
    info = benchlib.machine_info(args.threads, peer)
    why = pelkc_train.unavailable()
    info += [f"pelkc: {args.pelkc}" + (f" -- UNAVAILABLE: {why}; pelkc cells FAIL" if why else ""),
             f"training kernels cache: {pelkc_train.cache_dir()}",
             "timing: medians (benchlib.time_methods: warm-up, round-robin rounds); "
             f"conv >= {args.iters} runs and >= {args.min_time:g} s per method, capped at {args.max_time:g} s;"
             f" steps >= {args.steps} and >= {args.step_min_time:g} s per impl, capped at {args.step_max_time:g} s;"
             f" {args.rounds} rounds" + ("; QUICK (smoke) settings" if args.quick else "")]
    for ln in info + [w for w in [benchlib.busy_warning()] if w] + ([f"WARNING: {refused}"] if refused else []):
        log(ln)
    log("")
    conv = steps = mem = None
    t0 = time.perf_counter()
    if "conv" in args.only:
        log(f"## conv layer: forward + backward, C={args.channels}, {args.size[0]}x{args.size[1]}, batch {args.batch},"
            f" kpe {args.kpe}, grid {args.grid}, {args.threads} threads")
        conv = conv_section(args, log, why is None)
    if "step" in args.only:
        log("## training steps: forward + cross-entropy + backward + AdamW, impl pelkc vs dense")
        steps = step_section(args, log, why is None)
    if "memory" in args.only:
        log("## peak memory: one fresh process per (network, impl)")
        mem = memory_section(args, log, why is None)
    if conv:
        log("### conv layer, forward + backward (ms, medians)\n")
        log(conv_table(conv, refused) + "\n")
        log("pelkc err: worst relative error of y, dX, dtheta, dbias, dkpe against torch NCHW (float32, batch 2);"
            " skip = --dense-max-k, excl = failed that check, FAIL = pelkc unavailable. pelk_torch dense crops"
            " the kernel to 2H-1 = {} taps; the torch forms run the whole K x K.\n".format(2 * args.size[0] - 1))
    if steps:
        log("### training steps (ms, medians)\n")
        log(step_table(steps, refused) + "\n")
        log(conv_share.__doc__.split("\n\n")[1].replace("\n    ", " ").strip().replace("Counted:", "conv share:")
            + " Share = their time / the profiled step's wall time.\n")
    if mem:
        log("### peak resident memory (VmHWM of a fresh process, MB)\n")
        log(memory_table(mem) + "\n")
    log("### summary: targets\n")
    log(summary_table(conv, steps, mem, refused, args.quick) + "\n")
    log(f"wall time {time.perf_counter() - t0:.0f} s; load average at the end: {benchlib.load_text()}")
    for ln in [w for w in [benchlib.busy_warning()] if w] + ([f"WARNING: {refused}"] if refused else []):
        log(ln.replace(" before measuring", " at the end"))
    if args.markdown:
        os.makedirs(os.path.dirname(os.path.abspath(args.markdown)), exist_ok=True)
        with open(args.markdown, "w") as f:
            f.write("# Training: pelkc vs PyTorch's dense path\n\n" + "\n".join(out) + "\n")
    return benchlib.REFUSED_STATUS if refused else 0


if __name__ == "__main__":
    sys.exit(main())
