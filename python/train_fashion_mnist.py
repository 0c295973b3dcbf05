#!/usr/bin/python3
"""Train a small PeLK (python/pelk_torch.py) on Fashion-MNIST and export it for pelkc.

  train_fashion_mnist.py [--spec examples/fashion_mnist.yaml] [--epochs 7] [--batch 128]
                         [--lr 2e-3] [--seed 0] [--threads 2] [--bn] [--small S]
                         [--init W] [--eval-each-epoch] [--impl pelkc|dense] [--pelkc PELKC]
                         [--sparsity S [--update-every N] [--prune-rate P] [--growth random|gradient]
                          [--sparse-init snip|uniform|resume]]
                         [-o examples/fashion_mnist.safetensors]

Data: Debian's dataset-fashion-mnist (python/fashion_mnist.py; pixels / 255 - 0.5). Training:
AdamW (weight decay 0.05, none on norms, biases, gamma and kpe), a linear warm-up over the first
half epoch then cosine decay to 0, random horizontal flips, cross-entropy; all 60,000
training images, no validation split (the test set is only evaluated at the end). The peripheral
convs run on pelkc's generated training kernels (--impl pelkc, the default where build/pelkc or
--pelkc is there) or the dense expansion (--impl dense); see python/pelk_torch.py. Prints a line per
epoch (loss, training accuracy, images/s, time left), the
training time and the module's test accuracy in eval mode, and writes the weights as F32
safetensors (the export pelkc compiles), with the settings and results in its metadata.
--sparsity S trains sparse as SLaK (and PeLK after it) do (python/sparsity.py): every weight with
>= 2 dimensions masked to density 1 - S (SNIP's layer-wise densities by default), and every
--update-every N steps the smallest-magnitude fraction (--prune-rate, cosine-decayed) pruned and
as many regrown; the export holds the masked weights (zeros), its metadata the sparsity and the
non-zero count (`pelkc stats SPEC --weights W` reports it too).
Then: pelkc compile examples/fashion_mnist.yaml --weights examples/fashion_mnist.safetensors -o m.so
"""

import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_mnist  # noqa: E402
import pelk_torch  # noqa: E402
import safetensors_io  # noqa: E402
import sparsity as sparse  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def evaluate(model, x, y, batch=1000):
    """(accuracy, predicted classes) of model in eval mode on numpy x, y."""
    model.eval()
    preds = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            preds.append(model(torch.from_numpy(x[i:i + batch])).argmax(dim=1).numpy())
    p = np.concatenate(preds)
    return float((p == y).mean()), p


def train(spec, data, epochs=5, batch=128, lr=3e-3, seed=0, bn=False, small=None,
          log=lambda s: print(s, flush=True), eval_each_epoch=False, init=None, impl=None,
          sparsity=0.0, update_every=100, prune_rate=0.3, growth="random", sparse_init="snip",
          on_step=None):
    """Train a PeLK for spec on data = (x_train, y_train, ...); returns (model in eval mode,
    wall-clock seconds, CPU seconds of this process). Deterministic for a seed on one machine and
    thread count. On a shared machine the wall-clock time depends on the load; the CPU time
    (summed over threads) much less so. sparsity > 0 trains with a sparsity.Masking (SNIP on the
    first batch for sparse_init "snip"), left on the model as model.masking; on_step(step, model,
    masking), if given, is called after every optimizer step (masking None when dense)."""
    sparsity = sparse.check_sparsity(sparsity)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x_train, y_train = data[0], data[1]
    model = pelk_torch.PeLK(spec, bn=bn, small=small, impl=impl)
    if init is not None:  # continue from earlier weights (a second, shorter schedule)
        model.load_state_dict({n: torch.from_numpy(v) for n, v in safetensors_io.load(init).items()})
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.dim() >= 2 and not name.endswith("kpe") else no_decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr)
    steps_per_epoch = len(x_train) // batch
    total, warm = epochs * steps_per_epoch, steps_per_epoch // 2

    masking = None
    if sparsity > 0:
        masking = sparse.Masking(model, opt, sparsity, prune_rate=prune_rate, update_every=update_every,
                                 total_steps=total, growth=growth, seed=seed)
        x0, y0 = torch.from_numpy(x_train[:batch]), torch.from_numpy(y_train[:batch])
        masking.init(sparse_init, loss=lambda m: F.cross_entropy(m(x0), y0))
        log(masking.summary())

    def lr_at(step):
        if step < warm:
            return lr * (step + 1) / warm
        return lr * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    t0, c0, step = time.perf_counter(), time.process_time(), 0
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(len(x_train))
        running, correct, e0 = 0.0, 0, time.perf_counter()
        for i in range(steps_per_epoch):
            idx = order[i * batch:(i + 1) * batch]
            xb = torch.from_numpy(x_train[idx])
            flip = torch.from_numpy(rng.random(len(idx)) < 0.5)
            xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
            yb = torch.from_numpy(y_train[idx])
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            for group in opt.param_groups:
                group["lr"] = lr_at(step)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if masking is not None:
                masking.step()
            if on_step is not None:
                on_step(step, model, masking)
            running += loss.item()
            correct += int((logits.argmax(dim=1) == yb).sum())
            step += 1
        note = ""
        if eval_each_epoch:  # the test set, for watching a run only (not used to choose anything)
            note = f"  test accuracy {evaluate(model, data[2], data[3])[0] * 100:.2f}%"
        took, seen = time.perf_counter() - e0, steps_per_epoch * batch
        left = (time.perf_counter() - t0) / (epoch + 1) * (epochs - epoch - 1)
        log(f"epoch {epoch + 1}/{epochs}: train loss {running / steps_per_epoch:.4f}, accuracy "
            f"{correct / seen * 100:.2f}%, {seen / took:.0f} images/s, {left:.0f} s left  "
            f"({time.perf_counter() - t0:.0f} s, {time.process_time() - c0:.0f} CPU s){note}")
        if masking is not None:
            log("  " + masking.summary())
    model.masking = masking
    return model.eval(), time.perf_counter() - t0, time.process_time() - c0


def sparsity_arg(s):
    try:
        return sparse.check_sparsity(s)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def positive_int(s):
    try:
        v = int(s)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {s!r}")
    return v


def sparse_metadata(a, masking, nonzero):
    """The sparse-training settings for the export's metadata ({"sparsity": "0"} when dense)."""
    if masking is None:
        return {"sparsity": "0", "nonzero": nonzero}
    return {"sparsity": a.sparsity, "update_every": a.update_every, "prune_rate": a.prune_rate,
            "growth": a.growth, "sparse_init": a.sparse_init, "sparse_tensors": len(masking.masks),
            "sparse_updates": masking.updates, "nonzero": nonzero,
            "sparsity_recipe": "SLaK (VITA-Group/SLaK sparse_core.Masking), python/sparsity.py"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spec", default=os.path.join(ROOT, "examples", "fashion_mnist.yaml"))
    ap.add_argument("--epochs", type=int, default=7)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--bn", action="store_true", help="train with a BatchNorm after each peripheral conv")
    ap.add_argument("--small", type=int, default=None, metavar="S", help="train with a parallel S x S kernel")
    ap.add_argument("--init", default=None, metavar="W", help="start from these weights (safetensors) instead of a random init")
    ap.add_argument("--eval-each-epoch", action="store_true", help="print the test accuracy after every epoch")
    ap.add_argument("--impl", choices=pelk_torch.IMPLS, default=None,
                    help="the peripheral convs' implementation (default: pelkc where it can be built)")
    ap.add_argument("--pelkc", default=None, help="the pelkc binary for --impl pelkc (default: build/pelkc)")
    ap.add_argument("--sparsity", type=sparsity_arg, default=0.0, metavar="S",
                    help="fraction of the masked weights that are zero, in [0, 1) (default 0: dense; PeLK: 0.4)")
    ap.add_argument("--update-every", type=positive_int, default=100, metavar="N",
                    help="prune and regrow every N optimizer steps (default 100, SLaK-S/B's u)")
    ap.add_argument("--prune-rate", type=float, default=0.3, metavar="P",
                    help="the fraction of active weights pruned per update, cosine-decayed (default 0.3)")
    ap.add_argument("--growth", choices=sparse.GROWTHS, default="random", help="regrowth (default random, as SLaK)")
    ap.add_argument("--sparse-init", choices=sparse.INITS, default="snip",
                    help="initial masks: snip (SLaK's; default), uniform, or resume (the --init file's zeros)")
    ap.add_argument("-o", "--output", default=os.path.join(ROOT, "examples", "fashion_mnist.safetensors"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.pelkc:
        os.environ["PELKC_BIN"] = os.path.abspath(a.pelkc)
    if not 0.0 <= a.prune_rate <= 1.0:
        ap.error(f"--prune-rate must be in [0, 1], got {a.prune_rate}")
    if a.sparsity > 0 and a.sparse_init == "resume" and not a.init:
        ap.error("--sparse-init resume takes the masks from the zeros of --init W; give --init")
    data = fashion_mnist.load()
    model, secs, cpu = train(a.spec, data, a.epochs, a.batch, a.lr, a.seed, a.bn, a.small,
                             eval_each_epoch=a.eval_each_epoch, init=a.init, impl=a.impl,
                             sparsity=a.sparsity, update_every=a.update_every, prune_rate=a.prune_rate,
                             growth=a.growth, sparse_init=a.sparse_init)
    acc, _ = evaluate(model, data[2], data[3])
    params = sum(t.numel() for t in model.state_dict().values())
    print(f"trained in {secs:.0f} s wall clock, {cpu:.0f} s CPU, on {a.threads} threads; test accuracy (PyTorch, float32): {acc * 100:.2f}%")
    print(f"tensors: {params} values; multiply-adds per image (convs dense): {model.multiply_adds()}")
    meta = {"spec": model.spec["name"], "epochs": a.epochs, "batch": a.batch, "lr": a.lr,
            "seed": a.seed, "impl": model.impl(), "bn": a.bn, "small": a.small, "threads": a.threads,
            "init": a.init, "train_seconds": f"{secs:.0f}", "train_cpu_seconds": f"{cpu:.0f}", "test_accuracy": f"{acc:.4f}"}
    nonzero, _ = sparse.count_nonzero(model)
    meta.update(sparse_metadata(a, model.masking, nonzero))
    print(f"non-zero values: {nonzero} of {params} ({nonzero / params * 100:.1f}%)")
    model.export(a.output, meta)
    print(f"wrote {a.output} ({os.path.getsize(a.output)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
