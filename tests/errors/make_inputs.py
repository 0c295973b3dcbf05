#!/usr/bin/env python3
"""Write the binary inputs of the error catalogue (cases.txt): damaged
safetensors files for weights/tiny.yaml, damaged .npy files for a model of that
spec, and specs that are not text. Standard library only; deterministic.

usage: /usr/bin/python3 tests/errors/make_inputs.py
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# weights/tiny.yaml's constants, as `pelkc emit ir weights/tiny.yaml` lists them
TINY = [
    ("stem.weight", [4, 2, 2, 2]), ("stem.bias", [4]),
    ("stem_norm.weight", [4]), ("stem_norm.bias", [4]),
    ("stages.0.kpe", [2, 5, 5]),
    ("stages.0.blocks.0.conv.weight", [2, 1, 3, 3]), ("stages.0.blocks.0.conv.bias", [2]),
    ("stages.0.blocks.0.norm.weight", [4]), ("stages.0.blocks.0.norm.bias", [4]),
    ("stages.0.blocks.0.fc1.weight", [8, 4]), ("stages.0.blocks.0.fc1.bias", [8]),
    ("stages.0.blocks.0.fc2.weight", [4, 8]), ("stages.0.blocks.0.fc2.bias", [4]),
    ("stages.0.blocks.0.gamma", [4]),
    ("head_norm.weight", [4]), ("head_norm.bias", [4]),
    ("head.weight", [3, 4]), ("head.bias", [3]),
]


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def entries(tensors=TINY, dtype="F32"):
    """Header entries laid out one after the other, and the data size."""
    header, off = {}, 0
    for name, shape in tensors:
        size = numel(shape) * (2 if dtype == "F16" else 4)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + size]}
        off += size
    return header, off


def safetensors(header, data_len, raw_header=None, header_len=None):
    h = raw_header if raw_header is not None else json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    n = len(h) if header_len is None else header_len
    data = bytes(i % 251 for i in range(data_len))
    return struct.pack("<Q", n) + h + data


def npy(shape, descr="<f4", fortran=False, version=1, data_len=None, header_len=None,
        magic=b"\x93NUMPY", header=None):
    h = header if header is not None else "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
        descr, "True" if fortran else "False",
        "".join("%d, " % d for d in shape) if len(shape) != 1 else "%d," % shape[0])
    pre = 10 if version == 1 else 12
    h += " " * (-(pre + len(h) + 1) % 64) + "\n"
    n = len(h) if header_len is None else header_len
    lenfield = struct.pack("<H", n) if version == 1 else struct.pack("<I", n)
    if data_len is None:
        data_len = numel(shape) * 4
    return magic + bytes([version, 0]) + lenfield + h.encode("latin1") + bytes(data_len)


def write(path, data):
    with open(os.path.join(HERE, path), "wb") as f:
        f.write(data)


def main():
    # ---- safetensors for weights/tiny.yaml ----
    ok, size = entries()
    write("weights/good.safetensors", safetensors(ok, size))
    write("weights/too_short.safetensors", b"PK\x03")
    write("weights/header_past_eof.safetensors", safetensors(ok, size, header_len=1 << 20))
    write("weights/header_not_json.safetensors", safetensors(None, 0, raw_header=b"{dtype: F32"))
    write("weights/header_json_list.safetensors", safetensors(None, 0, raw_header=b"[1, 2, 3]"))
    write("weights/truncated_data.safetensors", safetensors(ok, size)[:-40])

    def damaged(name, fn, data_len=size):
        h = json.loads(json.dumps(ok))
        fn(h)
        write("weights/%s.safetensors" % name, safetensors(h, data_len))

    damaged("entry_not_object", lambda h: h.__setitem__("stem.bias", [0, 16]))
    damaged("missing_dtype", lambda h: h["stem.bias"].pop("dtype"))
    damaged("missing_offsets", lambda h: h["head.bias"].pop("data_offsets"))
    damaged("dtype_not_string", lambda h: h["stem.bias"].__setitem__("dtype", 32))
    damaged("shape_not_list", lambda h: h["stem.bias"].__setitem__("shape", "4"))
    damaged("shape_negative", lambda h: h["stem.bias"].__setitem__("shape", [-4]))
    damaged("shape_fraction", lambda h: h["stem.bias"].__setitem__("shape", [4.5]))
    damaged("rank_too_high", lambda h: h["stem.bias"].__setitem__("shape", [1] * 9 + [4]))
    damaged("dims_overflow", lambda h: h["stem.bias"].__setitem__("shape", [1 << 40, 1 << 40, 1 << 40]))
    damaged("dim_too_big", lambda h: h["stem.bias"].__setitem__("shape", [1 << 62]))
    damaged("offsets_past_end", lambda h: h["head.bias"].__setitem__("data_offsets", [size - 12, size + 4]))
    damaged("offsets_backwards", lambda h: h["stem.bias"].__setitem__(
        "data_offsets", h["stem.bias"]["data_offsets"][::-1]))
    damaged("offsets_three", lambda h: h["stem.bias"]["data_offsets"].append(0))
    damaged("bytes_for_shape", lambda h: h["stem.bias"].__setitem__("shape", [3]))

    def overlap(h):
        h["stem_norm.bias"]["data_offsets"] = [h["stem.bias"]["data_offsets"][0] + 4,
                                               h["stem.bias"]["data_offsets"][0] + 20]
    damaged("overlapping", overlap)

    # a file that names one tensor twice (JSON allows it; json.dumps does not write it)
    raw = json.dumps(ok)[:-1] + ', "stem.bias": %s}' % json.dumps(ok["stem.bias"])
    write("weights/duplicate_name.safetensors", safetensors(None, size, raw_header=raw.encode()))
    damaged("wrong_shape", lambda h: h.__setitem__("stages.0.blocks.0.fc1.weight", {
        "dtype": "F32", "shape": [4, 8], "data_offsets": h["stages.0.blocks.0.fc1.weight"]["data_offsets"]}))
    damaged("wrong_rank", lambda h: h.__setitem__("stages.0.kpe", {
        "dtype": "F32", "shape": [50], "data_offsets": h["stages.0.kpe"]["data_offsets"]}))
    h16, size16 = entries(dtype="F16")
    write("weights/all_f16.safetensors", safetensors(h16, size16))
    f64 = json.loads(json.dumps(ok))
    f64["head.bias"] = {"dtype": "F64", "shape": [3], "data_offsets": [size, size + 24]}
    write("weights/dtype_f64.safetensors", safetensors(f64, size + 24))
    missing, msize = entries([t for t in TINY if t[0] != "stages.0.blocks.0.gamma"])
    write("weights/missing_tensor.safetensors", safetensors(missing, msize))
    extra = json.loads(json.dumps(ok))
    extra["stages.0.blocks.1.gamma"] = {"dtype": "F32", "shape": [4], "data_offsets": [size, size + 16]}
    write("weights/extra_tensor.safetensors", safetensors(extra, size + 16))
    small = json.loads(json.dumps(ok))
    small["stages.0.blocks.0.conv.small.weight"] = {"dtype": "F32", "shape": [2, 1, 4, 4],
                                                    "data_offsets": [size, size + 128]}
    write("weights/small_kernel_even.safetensors", safetensors(small, size + 128))
    name_ctl = json.loads(json.dumps(ok))
    name_ctl["bad\nname"] = {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}
    write("weights/name_newline.safetensors", safetensors(name_ctl, size))

    # ---- .npy inputs for a model of weights/tiny.yaml: [N, 2, 8, 8] float32 ----
    write("npy/good.npy", npy([1, 2, 8, 8]))
    write("npy/wrong_magic.npy", npy([1, 2, 8, 8], magic=b"\x93NUMPZ"))
    write("npy/too_short.npy", b"\x93NUMPY\x01")
    write("npy/text_file.npy", b"1.0, 2.0, 3.0\n4.0, 5.0, 6.0\n")
    write("npy/version_9.npy", npy([1, 2, 8, 8], version=9))
    write("npy/dtype_f8.npy", npy([1, 2, 8, 8], descr="<f8", data_len=1024))
    write("npy/dtype_int.npy", npy([1, 2, 8, 8], descr="<i4"))
    write("npy/big_endian.npy", npy([1, 2, 8, 8], descr=">f4"))
    write("npy/fortran_order.npy", npy([1, 2, 8, 8], fortran=True))
    write("npy/wrong_shape.npy", npy([1, 2, 4, 4]))
    write("npy/wrong_rank.npy", npy([2, 8, 8]))
    write("npy/truncated_data.npy", npy([1, 2, 8, 8], data_len=500))
    write("npy/extra_data.npy", npy([1, 2, 8, 8], data_len=516))
    write("npy/header_past_eof.npy", npy([1, 2, 8, 8], data_len=0, header_len=4000))
    write("npy/no_shape_key.npy", npy([], header="{'descr': '<f4', 'fortran_order': False, }"))
    write("npy/shape_not_tuple.npy", npy([], header="{'descr': '<f4', 'fortran_order': False, 'shape': [1, 2, 8, 8], }"))
    write("npy/shape_overflow.npy", npy([1 << 40, 1 << 40, 1 << 40], data_len=0))
    write("npy/dim_too_big.npy", npy([1 << 41, 0, 8, 8], data_len=0))
    write("npy/shape_negative.npy", npy([], header="{'descr': '<f4', 'fortran_order': False, 'shape': (1, -2, 8, 8), }"))

    # ---- specs that are not text ----
    write("spec/nul_byte.yaml", b"name: t\ninput: {channels: 3,\x00 height: 32, width: 32}\n")
    write("spec/bad_utf8.yaml", b"name: t\ninput: {channels: 3, height: 32, width: 32}\n# caf\xe9\n")
    write("spec/binary_garbage.yaml", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(0, 256, 7)))


if __name__ == "__main__":
    main()
