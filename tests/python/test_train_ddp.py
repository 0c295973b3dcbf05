#!/usr/bin/python3
"""impl="pelkc" under torch.distributed DistributedDataParallel (gloo, 2 processes on this machine):
the gradients DDP leaves in each process equal one process's on the concatenated batch.

  test_train_ddp.py --pelkc PELKC [--seed S]

Each process holds the same PeLK (tests/specs/v04, float64, impl="pelkc", no BatchNorm: its batch
statistics would differ per process by design) and half of the batch; DDP averages the two halves'
gradients, which is the full batch's gradient of the mean loss. The reference is one process with
impl="dense" (the expansion of theta) on the whole batch. Then one SGD step in both worlds and the
parameters agree. The seed is fresh unless given and is printed.
"""

import argparse
import os
import socket
import sys
import tempfile

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "python"))
import pelk_torch  # noqa: E402

SPEC = os.path.join(ROOT, "tests", "specs", "v04_rows_cols_asym_lists_border.yaml")
WORLD = 2
BATCH = 4  # per process


def make_model(seed, impl):
    torch.manual_seed(seed)
    model = pelk_torch.PeLK(SPEC, impl=impl).double()
    with torch.no_grad():  # theta and the KPE O(1), so the convs carry gradient
        for n, p in model.named_parameters():
            if n.endswith(".kpe") or ".conv.weight" in n:
                p.normal_(0, 0.3)
    return model


def make_batch(seed):
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(WORLD * BATCH, 3, 40, 32, generator=gen, dtype=torch.float64)
    labels = torch.randint(0, 10, (WORLD * BATCH,), generator=gen)
    return x, labels


def worker(rank, seed, port, out):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        model = torch.nn.parallel.DistributedDataParallel(make_model(seed, "pelkc"))
        x, labels = make_batch(seed)
        part = slice(rank * BATCH, (rank + 1) * BATCH)
        F.cross_entropy(model(x[part]), labels[part]).backward()
        grads = {n: p.grad.clone() for n, p in model.module.named_parameters()}
        torch.optim.SGD(model.parameters(), lr=0.1).step()
        params = {n: p.detach().clone() for n, p in model.module.named_parameters()}
        torch.save({"grads": grads, "params": params}, f"{out}.{rank}")
    finally:
        dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rel(a, b):
    nb = b.norm().item()
    return (a - b).norm().item() / nb if nb > 0 else (a - b).norm().item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pelkc", required=True, help="the pelkc binary (its compile-train builds the kernels)")
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    os.environ["PELKC_BIN"] = os.path.abspath(a.pelkc)  # the workers inherit it
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "little") % 2**31
    print(f"seed {seed}")

    model = make_model(seed, "dense")  # the whole batch in one process
    x, labels = make_batch(seed)
    F.cross_entropy(model(x), labels).backward()
    ref_grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    ref_params = dict(model.named_parameters())

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "rank")
        mp.spawn(worker, args=(seed, free_port(), out), nprocs=WORLD, join=True)
        results = [torch.load(f"{out}.{r}") for r in range(WORLD)]

    failures = 0
    for r, res in enumerate(results):
        worst = max((rel(g, ref_grads[n]), n) for n, g in res["grads"].items())
        ok = worst[0] < 1e-12 and set(res["grads"]) == set(ref_grads)
        print(f"{'ok  ' if ok else 'FAIL'} rank {r}: {len(res['grads'])} DDP gradients vs one process on the whole "
              f"batch: worst rel L2 {worst[0]:.2e} ({worst[1]}) < 1e-12")
        failures += not ok
        worst = max(rel(p, ref_params[n].detach()) for n, p in res["params"].items())
        ok = worst < 1e-12
        print(f"{'ok  ' if ok else 'FAIL'} rank {r}: after one SGD step, worst parameter rel L2 {worst:.2e} < 1e-12")
        failures += not ok
    if failures:
        print(f"{failures} check(s) failed (seed {seed})")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
