#!/usr/bin/env python3
"""Write the fuzzers' seed corpora into tests/fuzz/corpus/<target>/.

usage: /usr/bin/python3 tests/fuzz/make_seeds.py PELKC

Deterministic: running it again rewrites the same files. Uses only the
standard library (safetensors and .npy are written by hand) and the pelkc
binary (for the IR seeds and the tiny spec's weight names).
"""
import json
import os
import shutil
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")

# the spec fuzz_safetensors.c binds against (keep the two in step)
TINY = ("name: tiny\ninput: {channels: 2, height: 8, width: 8}\nstem: {kernel: 2, stride: 2}\n"
        "stages: [{dim: 4, depth: 1, kernel: 5, grid: [2, 1, 2]}]\n"
        "block: {partial: 0.5, mlp_ratio: 2, kpe: border}\nhead: {classes: 3}\n")


def values(n, seed):
    """n deterministic floats in about [-1, 1]."""
    out, s = [], seed * 2654435761 % 2**32 or 1
    for _ in range(n):
        s = (s * 1103515245 + 12345) % 2**31
        out.append(s / 2**30 - 1.0)
    return out


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, raw bytes)."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def f32(shape, seed, positive=False):
    n = 1
    for d in shape:
        n *= d
    v = values(n, seed)
    if positive:
        v = [abs(x) + 0.5 for x in v]
    return struct.pack("<%df" % n, *v)


def npy(shape, descr="<f4", fortran=False, version=1, raw=None):
    h = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
        descr, "True" if fortran else "False",
        "".join("%d, " % d for d in shape) if len(shape) != 1 else "%d," % shape[0])
    pre = 10 if version == 1 else 12
    h += " " * (-(pre + len(h) + 1) % 64) + "\n"
    n = 1
    for d in shape:
        n *= d
    if raw is None:
        raw = f32(shape, 7) if descr.endswith("f4") else b"\0" * (n * int(descr[-1]))
    lenfield = struct.pack("<H", len(h)) if version == 1 else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes([version, 0]) + lenfield + h.encode("latin1") + raw


def tiny_consts(pelkc, spec_path):
    """(name, shape) of every constant of the graph as built from the spec."""
    out = subprocess.run([pelkc, "emit", "ir", spec_path, "--print-after-all"], check=True,
                         capture_output=True, text=True).stdout
    consts = []
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("}"):
            break
        if line.startswith("const @"):
            name, shape = line[len("const @"):].split(": f32[")
            consts.append((name, [int(x) for x in shape.rstrip("]").split(",")]))
    return consts


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def main():
    pelkc = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "pelkc")
    for t in ("spec", "safetensors", "npy", "ir"):
        shutil.rmtree(os.path.join(CORPUS, t), ignore_errors=True)

    # ---- specs: the examples, the variants, and a few grid forms ----
    for d in ("examples", "tests/specs"):
        for f in sorted(os.listdir(os.path.join(ROOT, d))):
            if f.endswith(".yaml"):
                with open(os.path.join(ROOT, d, f), "rb") as src:
                    write("spec", f, src.read())
    write("spec", "tiny.yaml", TINY)
    write("spec", "rows_cols_rule.yaml", TINY.replace(
        "grid: [2, 1, 2]", "grid: {rows: {center: 3, base: 2}, cols: [1, 3, 1]}"))
    write("spec", "anchors.yaml", "name: a\ninput: &in {channels: 2, height: 8, width: 8}\n"
          "stages: [&s {dim: 4, depth: 1, kernel: 3}, *s]\nblock: {partial: 1, mlp_ratio: 0.5, "
          "kpe: none}\n")
    write("spec", "block_style.yaml", "name: b\ninput:\n  channels: 1\n  height: 9\n  width: 9\n"
          "stem:\n  kernel: 3\n  stride: 1\nstages:\n  - dim: 2\n    depth: 0\n    kernel: 1\n"
          "head:\n  classes: 1\n")

    # ---- safetensors: the tiny spec's weights, with and without the optional parts ----
    tmp = os.path.join(CORPUS, "tiny.yaml.tmp")
    with open(tmp, "w") as f:
        f.write(TINY)
    try:
        consts = tiny_consts(pelkc, tmp)
    finally:
        os.unlink(tmp)
    base = [(n, "F32", s, f32(s, i + 1)) for i, (n, s) in enumerate(consts)]
    p = "stages.0.blocks.0.conv."
    g = 2
    bn = [(p + "bn.weight", "F32", [g], f32([g], 91)), (p + "bn.bias", "F32", [g], f32([g], 92)),
          (p + "bn.running_mean", "F32", [g], f32([g], 93)),
          (p + "bn.running_var", "F32", [g], f32([g], 94, positive=True))]
    small = [(p + "small.weight", "F32", [g, 1, 3, 3], f32([g, 1, 3, 3], 95))]
    small_bn = [(n.replace("conv.bn.", "conv.small_bn."), t, s, r) for n, t, s, r in bn]
    write("safetensors", "tiny.safetensors", safetensors(base, {"format": "pt"}))
    write("safetensors", "tiny_bn.safetensors", safetensors(base + bn))
    write("safetensors", "tiny_small.safetensors", safetensors(base + small))
    write("safetensors", "tiny_bn_small.safetensors", safetensors(base + bn + small + small_bn))
    write("safetensors", "reversed.safetensors", safetensors(list(reversed(base))))
    write("safetensors", "one_f16.safetensors", safetensors([("x", "F16", [2, 3], b"\1" * 12)]))
    write("safetensors", "empty.safetensors", safetensors([]))
    write("safetensors", "scalar.safetensors", safetensors([("s", "F32", [], f32([1], 3))]))

    # ---- npy ----
    write("npy", "f4_4d.npy", npy([1, 2, 3, 4]))
    write("npy", "f4_2d_v2.npy", npy([3, 5], version=2))
    write("npy", "f4_scalar.npy", npy([]))
    write("npy", "f4_empty.npy", npy([0, 4]))
    write("npy", "f4_1d.npy", npy([6]))
    write("npy", "f8.npy", npy([2, 2], descr="<f8"))
    write("npy", "fortran.npy", npy([2, 3], fortran=True))
    write("npy", "big_endian.npy", npy([2], descr=">f4", raw=b"\0" * 8))

    # ---- IR: small graphs as built and after every pass, and hand-written ones ----
    for spec in ("v12_one_stage_mlp2p5_nokpe", "v01_list_grid_border", "v09_partial_zero_stage"):
        path = os.path.join(ROOT, "tests", "specs", spec + ".yaml")
        final = subprocess.run([pelkc, "emit", "ir", path], check=True, capture_output=True,
                               text=True).stdout
        write("ir", spec + ".ir", final)
        dense = subprocess.run([pelkc, "emit", "ir", path, "--periph", "dense"], check=True,
                               capture_output=True, text=True).stdout
        write("ir", spec + "_dense.ir", dense)
    # the tiny spec with BatchNorm and a small kernel: every pass has something to do
    wdir = os.path.join(CORPUS, "safetensors")
    tmp = os.path.join(CORPUS, "tiny.yaml.tmp")
    with open(tmp, "w") as f:
        f.write(TINY)
    try:
        dump = subprocess.run([pelkc, "emit", "ir", tmp, "--print-after-all", "--weights",
                               os.path.join(wdir, "tiny_bn_small.safetensors")], check=True,
                              capture_output=True, text=True).stdout
    finally:
        os.unlink(tmp)
    graphs, cur = [], []
    for line in dump.splitlines(keepends=True):
        if line.startswith("# ----"):
            if cur:
                graphs.append("".join(cur))
            cur = []
        else:
            cur.append(line)
    graphs.append("".join(cur))
    seen = set()
    for i, text in enumerate(graphs):
        if text not in seen:
            seen.add(text)
            write("ir", "tiny_step%d.ir" % i, text)
    write("ir", "layernorm.ir", "graph t {\n  input %x: f32[N,2,4,4]\n  const @w: f32[2]\n"
          "  const @b: f32[2]\n  %y: f32[N,2,4,4] = layernorm(%x, @w, @b) {eps=1e-06}\n"
          "  output %y\n}\n")
    write("ir", "pool.ir", "graph p {\n  input %x: f32[N,3,2,2]\n  %p: f32[N,3] = avgpool(%x)\n"
          "  %q: f32[N,3] = gelu(%p)\n  %r: f32[N,3] = add(%q, %p)\n  output %r\n}\n")


if __name__ == "__main__":
    main()
