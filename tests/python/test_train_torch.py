#!/usr/bin/python3
"""python/pelk_torch.py's two peripheral-conv implementations in training: impl="pelkc" (the
generated kernels, python/pelkc_train.py) against impl="dense" (the expansion of theta).

  test_train_torch.py --pelkc PELKC [--seed S]

  * one conv layer: float32 gradients (x, theta, bias, kpe) of impl="pelkc" against the dense path
    in float64 at rel L2 < 1e-5, NCHW-contiguous and channels_last inputs, on rule grids, rows !=
    cols, kernel larger than the map, border and constant KPE, with BatchNorm and a small kernel;
  * whole networks (examples/fashion_mnist.yaml, and two stress specs with the training-time parts):
    a training step's loss and every parameter's gradient, in float64 between the two paths (rel
    < 1e-10) and float32 pelkc against float64 dense (rel < 1e-5, beside float32 dense's own error);
    then three AdamW steps in float64 and the parameters still agree;
  * the fallbacks and errors: a bad impl, impl="pelkc" on a tensor its kernels do not take, and the
    default without pelkc (one warning, the dense path).
The seed is fresh unless given and is printed.
"""

import argparse
import copy
import os
import sys
import warnings

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "python"))
import pelk_torch  # noqa: E402
import pelkc_train  # noqa: E402

failures = []


def expect(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def rel(a, b):
    """||a - b|| / ||b|| in float64 (0 when both are zero)."""
    a, b = a.double(), b.double()
    nb = b.norm().item()
    return (a - b).norm().item() / nb if nb > 0 else (a - b).norm().item()


def rule(k, c=5, m=2):
    return pelk_torch.rule_grid(k, c, m)


# (name, kernel, rows, cols, kpe mode, (n, g, h, w), bn, small)
LAYERS = [
    ("rule k13 constant", 13, rule(13), rule(13), "constant", (3, 5, 10, 9), False, None),
    ("rows!=cols k11 border bn small3", 11, rule(11, 3), [4, 7], "border", (2, 4, 7, 8), True, 3),
    ("kernel > map k51 border", 51, rule(51), rule(51), "border", (2, 3, 9, 6), False, None),
    ("k31 none, map 40x40 (direct conv)", 31, rule(31), [10, 11, 10], "none", (2, 2, 40, 40), False, None),
]


def layer_grads(conv, x, kpe, mode, dy):
    y = conv(x, kpe, mode)
    y.backward(dy)
    out = {"y": y.detach(), "x": x.grad}
    for n, p in conv.named_parameters():
        out[n] = p.grad
    if kpe is not None:
        out["kpe"] = kpe.grad
    return out


def check_layers(gen):
    for name, k, rows, cols, mode, (n, g, h, w), bn, small in LAYERS:
        base = pelk_torch.PeripheralConv(g, k, rows, cols, bn=bn, small=small, impl="dense").double()
        with torch.no_grad():
            for p in base.parameters():
                p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
        x64 = torch.randn(n, h, w, g, generator=gen, dtype=torch.float64)
        dy64 = torch.randn(n, h, w, g, generator=gen, dtype=torch.float64)
        kpe64 = torch.randn(g, k, k, generator=gen, dtype=torch.float64) if mode != "none" else None
        base.train()

        def run(impl, dtype, channels_last_x=False):
            conv = copy.deepcopy(base).to(dtype)
            conv.impl, conv._impl_asked = impl, True
            x = x64.to(dtype)
            if channels_last_x:  # the same NHWC values, held as an NCHW tensor's channels_last view
                x = x.permute(0, 3, 1, 2).contiguous().permute(0, 2, 3, 1)
            x = x.detach().requires_grad_(True)
            kpe = kpe64.to(dtype).detach().clone().requires_grad_(True) if kpe64 is not None else None
            return layer_grads(conv, x, kpe, mode, dy64.to(dtype))

        ref = run("dense", torch.float64)
        for label, got in (("float32 pelkc", run("pelkc", torch.float32)),
                           ("float32 pelkc, x strided", run("pelkc", torch.float32, True)),
                           ("float64 pelkc", run("pelkc", torch.float64))):
            tol = 1e-12 if "float64" in label else 1e-5
            # Under BatchNorm in training mode the bias's gradient is 0: checked against theta's.
            zero = ["bias"] if bn else []
            worst = max((rel(got[key], ref[key]), key) for key in ref if key not in zero)
            tiny = (got["bias"].norm() / got["weight"].norm()).item() if bn else 0
            expect(worst[0] < tol and tiny < tol, f"{name}: {label} vs float64 dense: worst rel L2 "
                   f"{worst[0]:.2e} ({worst[1]}) < {tol:.0e}" + (f", |dbias| / |dtheta| {tiny:.1e}" if bn else ""))


STRESS = [  # (spec, bn, small, batch)
    (os.path.join(ROOT, "examples", "fashion_mnist.yaml"), False, None, 4),
    (os.path.join(ROOT, "tests", "specs", "v04_rows_cols_asym_lists_border.yaml"), True, 3, 3),
    (os.path.join(ROOT, "tests", "specs", "v13_pelk_t_mini_default_grid.yaml"), True, 5, 2),
]


def step_grads(model, x, labels):
    model.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), labels)
    loss.backward()
    return loss.item(), {n: p.grad.clone() for n, p in model.named_parameters()}


def zero_gradients(model, bn):
    """{parameter: a parameter to compare it with} for those whose gradient is 0 in exact arithmetic:
    under BatchNorm in training mode (which subtracts the batch mean per channel) the conv bias, and
    a constant-mode KPE (a per-channel constant too)."""
    if not bn:
        return {}
    zero = {}
    for i, st in enumerate(model.stages):
        for j, b in enumerate(st.blocks):
            if b.conv is not None:
                zero[f"stages.{i}.blocks.{j}.conv.bias"] = f"stages.{i}.blocks.{j}.conv.weight"
        if st.mode == "constant" and len(st.blocks):
            zero[f"stages.{i}.kpe"] = f"stages.{i}.blocks.0.conv.weight"
    return zero


def check_networks(gen):
    for spec, bn, small, batch in STRESS:
        name = os.path.basename(spec)
        torch.manual_seed(int(torch.randint(0, 2**31, (1,), generator=gen)))
        dense64 = pelk_torch.PeLK(spec, bn=bn, small=small, impl="dense").double().train()
        with torch.no_grad():  # every weight O(1)-ish so every part carries gradient
            for n, p in dense64.named_parameters():
                if n.endswith(".kpe") or ".conv.weight" in n:
                    p.normal_(0, 0.3)
        sp = dense64.spec
        x = torch.randn(batch, sp["input"]["channels"], sp["input"]["height"], sp["input"]["width"],
                        generator=gen, dtype=torch.float64)
        labels = torch.randint(0, sp["classes"], (batch,), generator=gen)
        pelkc64 = copy.deepcopy(dense64).set_impl("pelkc")
        pelkc32 = copy.deepcopy(dense64).float().set_impl("pelkc")
        dense32 = copy.deepcopy(dense64).float()
        loss_ref, g_ref = step_grads(dense64, x, labels)
        zero = zero_gradients(dense64, bn)
        for label, model, xin, tol in (("float64 pelkc", pelkc64, x, 1e-10),
                                       ("float32 pelkc", pelkc32, x.float(), 1e-5),
                                       ("float32 dense", dense32, x.float(), 1e-5)):
            loss, g = step_grads(model, xin, labels)
            worst = max((rel(g[n], g_ref[n]), n) for n in g_ref if n not in zero)
            # BatchNorm in training mode subtracts the batch mean: the conv bias's gradient is 0.
            tiny = max((g[n].norm() / g[m].norm()).item() for n, m in zero.items()) if zero else 0
            dl = abs(loss - loss_ref) / abs(loss_ref)
            expect(dl < tol and worst[0] < tol and set(g) == set(g_ref) and tiny < tol,
                   f"{name}: {label} vs float64 dense: loss rel {dl:.1e}, {len(g)} gradients, worst rel L2 "
                   f"{worst[0]:.2e} ({worst[1]}) < {tol:.0e}; {len(zero)} gradients 0 under BatchNorm: "
                   f"at most {tiny:.1e} of theta's")
        # A few optimiser steps: the two float64 paths stay together.
        for model in (dense64, pelkc64):
            opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
            for _ in range(3):
                step_grads(model, x, labels)
                opt.step()
        # (Adam turns the rounding-level gradients into full steps: left out of the comparison.)
        ref = dict(dense64.named_parameters())
        worst = max(rel(p, ref[n]) for n, p in pelkc64.named_parameters() if n not in zero)
        expect(worst < 1e-10, f"{name}: after 3 AdamW steps in float64, worst parameter rel L2 {worst:.2e} < 1e-10")


def check_errors():
    try:
        pelk_torch.PeripheralConv(2, 5, [2, 1, 2], [2, 1, 2], impl="toeplitz")
        expect(False, "impl='toeplitz' raises ValueError")
    except ValueError as e:
        expect("pelkc, dense" in str(e), f"impl='toeplitz' raises ValueError naming the choices: {e}")
    asked = pelk_torch.PeripheralConv(2, 5, [2, 1, 2], [2, 1, 2], impl="pelkc")
    x16 = torch.randn(1, 4, 4, 2).to(torch.bfloat16)
    try:
        asked.to(torch.bfloat16)(x16)
        expect(False, "impl='pelkc' on a bfloat16 tensor raises UnsupportedError")
    except pelkc_train.UnsupportedError as e:
        expect("bfloat16" in str(e), f"impl='pelkc' on a bfloat16 tensor raises UnsupportedError: {e}")
    # The default on a tensor the kernels do not take: the dense path, said once.
    pelk_torch._said.clear()
    auto = pelk_torch.PeripheralConv(2, 5, [2, 1, 2], [2, 1, 2]).to(torch.bfloat16)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        auto(x16)
        auto(x16)
    said = [str(w.message) for w in caught if "dense path" in str(w.message)]
    expect(auto.impl == "pelkc" and len(said) == 1 and "bfloat16" in said[0],
           f"default impl on bfloat16: dense path, said once: {said}")
    # The default without pelkc: "dense", said once, and it still trains.
    old = os.environ.get("PELKC_BIN")
    os.environ["PELKC_BIN"] = "/nonexistent/pelkc"
    pelk_torch._said.clear()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            convs = [pelk_torch.PeripheralConv(2, 5, [2, 1, 2], [2, 1, 2]) for _ in range(2)]
        said = [str(w.message) for w in caught if "dense path" in str(w.message)]
        expect(all(c.impl == "dense" for c in convs) and len(said) == 1 and "/nonexistent/pelkc" in said[0],
               f"no pelkc: default impl 'dense', said once: {said}")
    finally:
        if old is None:
            del os.environ["PELKC_BIN"]
        else:
            os.environ["PELKC_BIN"] = old


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pelkc", required=True, help="the pelkc binary (its compile-train builds the kernels)")
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    os.environ["PELKC_BIN"] = os.path.abspath(a.pelkc)
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "little")
    print(f"seed {seed}")
    gen = torch.Generator().manual_seed(seed)
    torch.set_num_threads(2)
    check_layers(gen)
    check_networks(gen)
    check_errors()
    if failures:
        print(f"{len(failures)} check(s) failed (seed {seed})")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
