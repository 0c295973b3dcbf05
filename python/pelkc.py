"""Run a model compiled by pelkc from Python (ctypes; no build step).

    import numpy as np, pelkc
    m = pelkc.Model("model.so")              # prefix="P" for a .so compiled with --prefix P
    m.set_threads(2)
    logits = m.run(x)                        # x: [N, C, H, W] (or [C, H, W]); returns float32 [N, classes]

The C API is runtime/pelkc_model.h. A C-contiguous float32 input is passed to pelkc_run_f32 as it
is (no copy), and the output is written straight into the returned array. Any other float32 array
(strided views, wrong rank or shape) goes to pelkc_run as a halide_buffer_t describing the numpy
array's own strides, so pelkc itself checks the shape and reads the strides (still no copy in
Python); other dtypes are converted to float32 first. Every error raises PelkcError carrying
pelkc's message (pelkc_last_error) and status.
"""

import ctypes
import os

import numpy as np

API_VERSION = 2  # PELKC_API_VERSION in runtime/pelkc_model.h

_HALIDE_FLOAT = 2  # halide_type_float


class PelkcError(RuntimeError):
    """An error reported by a compiled model; .status is the pelkc_status code."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class _Dim(ctypes.Structure):  # halide_dimension_t
    _fields_ = [("min", ctypes.c_int32), ("extent", ctypes.c_int32), ("stride", ctypes.c_int32),
                ("flags", ctypes.c_uint32)]


class _Type(ctypes.Structure):  # halide_type_t
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _Buffer(ctypes.Structure):  # halide_buffer_t (Halide 14)
    _fields_ = [("device", ctypes.c_uint64), ("device_interface", ctypes.c_void_p),
                ("host", ctypes.c_void_p), ("flags", ctypes.c_uint64), ("type", _Type),
                ("dimensions", ctypes.c_int32), ("dim", ctypes.POINTER(_Dim)),
                ("padding", ctypes.c_void_p)]


def _halide_buffer(a):
    """A halide_buffer_t over numpy float32 array a (Halide order: dim[0] is the last axis).
    Returns (buffer, dims); keep both alive while the buffer is used."""
    dims = (_Dim * max(a.ndim, 1))()
    for i, (n, s) in enumerate(zip(reversed(a.shape), reversed(a.strides))):
        dims[i] = _Dim(0, n, s // a.itemsize, 0)
    buf = _Buffer(0, None, a.ctypes.data, 0, _Type(_HALIDE_FLOAT, 32, 1), a.ndim,
                  ctypes.cast(dims, ctypes.POINTER(_Dim)), None)
    return buf, dims


class Model:
    """One model created from a compiled .so (its weights are inside the .so). Two Model objects
    are independent, whether from one .so or from two."""

    def __init__(self, path, prefix="", threads=None):
        self.path = os.path.abspath(path)
        try:
            self._lib = ctypes.CDLL(self.path)
        except OSError as e:
            raise PelkcError(f"cannot load {path}: {e}") from None
        self._m = None

        def fn(name, restype, *argtypes):
            try:
                f = getattr(self._lib, prefix + name)
            except AttributeError:
                raise PelkcError(f"{path}: no symbol {prefix + name}"
                                 + ("" if prefix else " (compiled with --prefix? pass prefix=)")) from None
            f.restype, f.argtypes = restype, list(argtypes)
            return f

        P, i32, i32p = ctypes.c_void_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_int32)
        self._api_version = fn("pelkc_api_version", ctypes.c_int)
        self._built_by = fn("pelkc_built_by", ctypes.c_char_p)
        self._model_name = fn("pelkc_model_name", ctypes.c_char_p)
        self._create = fn("pelkc_create_abi", ctypes.c_int, i32, ctypes.POINTER(P))
        self._free = fn("pelkc_free", None, P)
        self._in_shape = fn("pelkc_input_shape", ctypes.c_int, P, i32p, i32p, i32p)
        self._out_shape = fn("pelkc_output_shape", ctypes.c_int, P, i32p, i32p, i32p)
        self._set_threads = fn("pelkc_set_threads", ctypes.c_int, P, i32)
        self._threads = fn("pelkc_threads", i32, P)
        self._run = fn("pelkc_run", ctypes.c_int, P, ctypes.POINTER(_Buffer), ctypes.POINTER(_Buffer))
        self._run_f32 = fn("pelkc_run_f32", ctypes.c_int, P, P, i32, P)
        self._last_error = fn("pelkc_last_error", ctypes.c_char_p, P)
        self._status_string = fn("pelkc_status_string", ctypes.c_char_p, ctypes.c_int)

        m = P()
        st = self._create(API_VERSION, ctypes.byref(m))
        if st != 0 or not m.value:
            raise PelkcError(f"{path}: pelkc_create: {self._status_string(st).decode()} "
                             f"(the .so implements API {self._api_version()}, this binding {API_VERSION})", st)
        self._m = m
        self.input_shape = self._shape(self._in_shape)
        c, h, w = self._shape(self._out_shape)
        self.output_shape = (c,) if (h, w) == (1, 1) else (c, h, w)  # per image
        if threads is not None:
            self.set_threads(threads)

    def _shape(self, f):
        v = [ctypes.c_int32() for _ in range(3)]
        self._check(f(self._m, *map(ctypes.byref, v)))
        return tuple(x.value for x in v)

    def _check(self, st):
        if st != 0:
            msg = self._last_error(self._m).decode(errors="replace") if self._m else ""
            raise PelkcError(msg or self._status_string(st).decode(), st)

    @property
    def name(self):
        return self._model_name().decode()

    @property
    def built_by(self):
        return self._built_by().decode()

    @property
    def threads(self):
        return int(self._threads(self._m))

    def set_threads(self, n):
        self._check(self._set_threads(self._m, int(n)))

    def run(self, x, out=None):
        """Run a batch x [N, C, H, W] (a single image [C, H, W] gives a batch of 1); returns
        float32 [N, classes] (or [N, C, H, W] for a model that ends in a map). out, if given,
        must be a C-contiguous float32 array of that shape and is filled in place."""
        if self._m is None:
            raise PelkcError("model is closed")
        x = np.asarray(x)
        if x.dtype != np.float32:
            x = np.ascontiguousarray(x, dtype=np.float32)  # a conversion copies anyway
        if x.ndim == 3 and x.shape == self.input_shape:
            x = x[None]
        n = x.shape[0] if x.ndim >= 1 else 0
        if out is None:
            out = np.empty((n,) + self.output_shape, dtype=np.float32)
        elif (out.dtype != np.float32 or not out.flags.c_contiguous or not out.flags.writeable
              or out.shape != (n,) + self.output_shape):
            raise PelkcError(f"out must be a writable C-contiguous float32 array of shape "
                             f"{(n,) + self.output_shape}, got {out.dtype} {out.shape}")
        if x.ndim == 4 and x.shape[1:] == self.input_shape and x.flags.c_contiguous and n >= 1:
            self._check(self._run_f32(self._m, x.ctypes.data, n, out.ctypes.data))
        else:
            if any(s % x.itemsize for s in x.strides):
                x = np.ascontiguousarray(x)  # strides Halide cannot express in elements
            bi, di = _halide_buffer(x)
            bo, do = _halide_buffer(out)
            self._check(self._run(self._m, ctypes.byref(bi), ctypes.byref(bo)))
        return out

    __call__ = run

    def close(self):
        if self._m is not None:
            self._free(self._m)
            self._m = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
