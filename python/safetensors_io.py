"""Read and write safetensors files (Debian has no safetensors package; the format is small).

A safetensors file is: an unsigned 64-bit little-endian header length n, n bytes of JSON mapping
each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets into the data section
that follows; an optional "__metadata__" maps strings to strings), then the raw little-endian,
C-ordered tensor data. pelkc reads F32 only, so save() writes F32 only.
"""

import json
import os
import struct

import numpy as np

_DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "F16": np.dtype("<f2"),
           "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "U8": np.dtype("u1")}


def _as_numpy(t):
    """A numpy array from a numpy array or a torch tensor (detached, on the CPU)."""
    if hasattr(t, "detach"):
        t = t.detach().cpu().numpy()
    return np.asarray(t)


def save(path, tensors, metadata=None):
    """Write name -> float tensor (numpy or torch) as F32 safetensors; names in sorted order.

    The JSON header is padded with spaces to a multiple of 8 bytes so that the data is aligned.
    The file is written to path + ".tmp" and renamed, so a failed write leaves no partial file.
    """
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = _as_numpy(tensors[name])
        if a.dtype.kind != "f":
            raise ValueError(f"{name}: dtype {a.dtype} is not a float type (pelkc reads F32)")
        data = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * (-len(hjson) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load(path, with_metadata=False):
    """Read a safetensors file into name -> numpy array (native byte order, writable copies).

    Raises ValueError naming the file (and the tensor) for a truncated or inconsistent file.
    With with_metadata, returns (tensors, metadata dict).
    """
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: too short for a safetensors file ({len(raw)} bytes)")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError(f"{path}: header length {n} exceeds the file size {len(raw)}")
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: header is not valid JSON: {e}") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: header is not a JSON object")
    data = memoryview(raw)[8 + n:]
    out, meta = {}, header.get("__metadata__") or {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = _DTYPES.get(info.get("dtype"))
        if dt is None:
            raise ValueError(f"{path}: {name}: unsupported dtype {info.get('dtype')!r}")
        shape = tuple(int(s) for s in info["shape"])
        b, e = info["data_offsets"]
        if not (0 <= b <= e <= len(data)) or e - b != dt.itemsize * int(np.prod(shape, dtype=np.int64)):
            raise ValueError(f"{path}: {name}: data_offsets {info['data_offsets']} do not fit shape "
                             f"{list(shape)} in a data section of {len(data)} bytes")
        out[name] = np.frombuffer(data[b:e], dtype=dt).reshape(shape).astype(dt.newbyteorder("="))
    return (out, meta) if with_metadata else out
