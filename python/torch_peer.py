"""What PyTorch runs on here, so that a timing against it can say so, and refuse a ratio when
PyTorch was crippled by its BLAS.

    import torch_peer
    torch_peer.prefer_avx512()             # before `import torch`: AVX-512 kernels where the CPU has them
    import torch
    peer = torch_peer.describe()           # the BLAS torch's sgemm_ calls, ATen's CPU capability, oneDNN
    for line in torch_peer.describe_lines(peer):
        print(line)
    why = torch_peer.refusal(peer)         # None, or why no pelkc/PyTorch ratio may be printed
    torch_peer.set_threads(2)              # torch's threads and the BLAS's own pool

Debian's python3-torch links libblas.so.3, which is whatever the libblas.so.3 alternative points
at: the reference BLAS (libblas3, netlib's plain loops, ~2 GFLOP/s) unless an optimised one
(libopenblas0-pthread, scripts/setup.sh installs it) is installed. Torch's F.linear, bmm and its
NCHW convs go through that BLAS, so a ratio against torch on the reference BLAS says little.
The BLAS is identified by the library that defines the sgemm_ libtorch_cpu binds to (found with
dlsym and dladdr, as the dynamic linker resolves it), then by the entry points only OpenBLAS,
BLIS or MKL export.
"""

import ctypes
import os
import re
import sys

AVX512_FLAGS = {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"}
REFERENCE = "reference BLAS (netlib)"
RTLD_NOLOAD = getattr(os, "RTLD_NOLOAD", 4)
_OPENBLAS_PARALLEL = {0: "sequential", 1: "pthreads", 2: "OpenMP"}


# ---- before torch is imported ------------------------------------------------------------------

def cpu_flags():
    """The CPU's feature flags from /proc/cpuinfo (empty where unreadable)."""
    try:
        with open("/proc/cpuinfo") as f:
            return set(next((ln.split(":", 1)[1].split() for ln in f if ln.startswith("flags")), []))
    except OSError:
        return set()


def prefer_avx512():
    """Select the AVX-512 kernels of ATen and OpenBLAS when the CPU has AVX-512 (call before
    `import torch`; a variable already set is left alone).

    ATEN_CPU_CAPABILITY=avx512: Debian's torch 1.13 picks its AVX2 kernels even on AVX-512 CPUs;
    the AVX-512 ones (GELU, LayerNorm, adds) made PeLK-T about 10% faster on Zen 5.
    OPENBLAS_CORETYPE=SkylakeX: Debian's OpenBLAS 0.3.21 does not know Zen 5 and runs its AVX2
    Haswell kernels there; on Zen 4 it picks Cooperlake, whose sgemm is SkylakeX's (docs/PERF.md
    has the measurements). OpenBLAS reads the variable when it loads (with numpy or torch), so
    calling this after either is imported is an error.
    """
    loaded = [m for m in ("numpy", "torch") if m in sys.modules]
    if loaded:
        raise RuntimeError("torch_peer.prefer_avx512() must run before numpy and torch are imported"
                           f" (already imported: {', '.join(loaded)})")
    if not AVX512_FLAGS <= cpu_flags():
        return
    os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx512")
    os.environ.setdefault("OPENBLAS_CORETYPE", "SkylakeX")


# ---- which BLAS ----------------------------------------------------------------------------------

class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def _loaded_library(fragment):
    """The path of the first library mapped into this process whose name contains fragment."""
    with open("/proc/self/maps") as f:
        for ln in f:
            path = ln.split()[-1]
            if fragment in os.path.basename(path):
                return path
    return None


def _symbol_library(lib, name):
    """The file that defines the symbol `name` as lib would bind it: the global scope first (as
    the dynamic linker searches), then lib and its dependencies. None if nothing defines it."""
    libc = ctypes.CDLL(None)
    libc.dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)]
    for scope in (libc, lib):
        try:
            addr = ctypes.cast(getattr(scope, name), ctypes.c_void_p).value
        except AttributeError:
            continue
        info = _DlInfo()
        if libc.dladdr(addr, ctypes.byref(info)) and info.dli_fname:
            return os.path.realpath(info.dli_fname.decode())
    return None


def _call(lib, name, restype, *args):
    """lib.name(*args) with the given return type, or None where lib does not export it."""
    fn = getattr(lib, name, None)
    if fn is None:
        return None
    fn.restype = restype
    out = fn(*args)
    return out.decode() if isinstance(out, bytes) else out


def _openblas(lib):
    config = _call(lib, "openblas_get_config", ctypes.c_char_p)
    version = re.search(r"OpenBLAS\s+(\S+)", config or "")
    return {"name": "OpenBLAS", "version": version.group(1) if version else "?",
            "threading": _OPENBLAS_PARALLEL.get(_call(lib, "openblas_get_parallel", ctypes.c_int), "?"),
            "kernels": _call(lib, "openblas_get_corename", ctypes.c_char_p) or "?",
            "threads": _call(lib, "openblas_get_num_threads", ctypes.c_int)}


def _blis(lib):
    arch = _call(lib, "bli_arch_query_id", ctypes.c_int)
    layers = [n for n, f in (("OpenMP", "bli_info_get_enable_openmp"), ("pthreads", "bli_info_get_enable_pthreads"))
              if _call(lib, f, ctypes.c_int64)]
    return {"name": "BLIS", "version": _call(lib, "bli_info_get_version_str", ctypes.c_char_p) or "?",
            "threading": "/".join(layers) or "sequential",
            "kernels": _call(lib, "bli_arch_string", ctypes.c_char_p, arch) if arch is not None else "?",
            "threads": _call(lib, "bli_thread_get_num_threads", ctypes.c_int64)}


def _mkl(lib):
    buf = ctypes.create_string_buffer(256)
    lib.MKL_Get_Version_String(buf, len(buf))
    return {"name": "MKL", "version": buf.value.decode().strip(), "threading": "?", "kernels": "?",
            "threads": _call(lib, "MKL_Get_Max_Threads", ctypes.c_int)}


def identify_blas(path):
    """{name, version, threading, kernels, threads} of the BLAS library at path (already loaded)."""
    lib = ctypes.CDLL(path, mode=RTLD_NOLOAD | os.RTLD_LAZY)
    for probe, describe_lib in (("openblas_get_config", _openblas), ("bli_info_get_version_str", _blis),
                                ("MKL_Get_Version_String", _mkl)):
        if hasattr(lib, probe):
            return describe_lib(lib)
    return _by_name(path)


def _by_name(path):
    """A BLAS without those entry points, named by its file: Debian puts each provider's
    libblas.so.3 in a folder named after it (blas/ holds the reference; BLIS's copy hides BLIS's
    own symbols); a libblas or librefblas elsewhere is taken for the reference."""
    folder, base = os.path.basename(os.path.dirname(path)), os.path.basename(path)
    provider = re.match(r"(openblas|blis|atlas)(?:-(pthread|openmp|serial))?$", folder)
    if provider:
        return {"name": {"openblas": "OpenBLAS", "blis": "BLIS", "atlas": "ATLAS"}[provider.group(1)],
                "version": "?", "threading": provider.group(2) or "?", "kernels": "?", "threads": None}
    version = re.search(r"\.so\.([0-9.]+)$", base)
    name = REFERENCE if folder == "blas" or re.match(r"lib(ref)?c?blas\.so", base) else "unknown BLAS"
    return {"name": name, "version": version.group(1) if version else "?", "threading": "none",
            "kernels": "generic loops" if name == REFERENCE else "?", "threads": None}


def torch_blas():
    """The BLAS torch's matrix products call: identify_blas's dict plus its path ('?' unknown)."""
    libtorch = _loaded_library("libtorch_cpu.so")
    if libtorch is None:
        return {"name": "unknown BLAS", "version": "?", "threading": "?", "kernels": "?", "threads": None,
                "path": "? (libtorch_cpu.so is not loaded)"}
    path = _symbol_library(ctypes.CDLL(libtorch, mode=RTLD_NOLOAD | os.RTLD_LAZY), "sgemm_")
    if path is None:
        return {"name": "unknown BLAS", "version": "?", "threading": "?", "kernels": "?", "threads": None,
                "path": "? (no sgemm_ found)"}
    return dict(identify_blas(path), path=path)


# ---- the whole peer ------------------------------------------------------------------------------

def describe():
    """What torch runs on: {'torch', 'blas': torch_blas(), 'capability', 'onednn', 'env'}."""
    import torch
    show = torch.__config__.show()
    cap = re.search(r"CPU capability usage:\s*(\S+)", show)
    dnnl = re.search(r"MKL-DNN v(\S+)", show)
    return {"torch": torch.__version__, "blas": torch_blas(), "capability": cap.group(1) if cap else "?",
            "onednn": (f"on (v{dnnl.group(1)})" if dnnl else "on") if torch.backends.mkldnn.is_available() else "off",
            "env": {k: os.environ[k] for k in ("ATEN_CPU_CAPABILITY", "OPENBLAS_CORETYPE") if k in os.environ}}


def describe_lines(peer):
    """Two lines for a benchmark's header: the BLAS, then the ISA (ATen's kernels, oneDNN)."""
    b = peer["blas"]
    threads = f", {b['threads']} threads" if b.get("threads") else ""
    env = ", ".join(f"{k}={v}" for k, v in peer["env"].items()) or "none set"
    return [f"torch BLAS: {b['name']} {b['version']} ({b['threading']}{threads}, kernels {b['kernels']}):"
            f" {b['path']}",
            f"torch ISA: ATen CPU capability {peer['capability']}, oneDNN {peer['onednn']}; environment: {env}"]


def refusal(peer):
    """None when a pelkc/PyTorch ratio may be printed; otherwise the one-line reason it may not.

    The only refusal is the reference BLAS: its sgemm is plain loops, ~15-50x slower than an
    optimised BLAS here, and every matrix product torch runs on it makes the ratio meaningless.
    """
    b = peer["blas"]
    if b["name"] != REFERENCE:
        return None
    return (f"PyTorch's BLAS is the {REFERENCE} ({b['path']}): its matrix products run 15-50x slower than"
            " an optimised BLAS, so no pelkc/PyTorch ratio is reported. Install libopenblas0-pthread"
            " (sh scripts/setup.sh does) and check `update-alternatives --display libblas.so.3-x86_64-linux-gnu`.")


def set_threads(n):
    """torch's thread count, and the BLAS's own pool where it has one (OpenBLAS's pthreads do not
    follow torch.set_num_threads)."""
    import torch
    torch.set_num_threads(n)
    path = torch_blas()["path"]
    if not os.path.isabs(path):
        return
    lib = ctypes.CDLL(path, mode=RTLD_NOLOAD | os.RTLD_LAZY)
    for name, argtype in (("openblas_set_num_threads", ctypes.c_int), ("bli_thread_set_num_threads", ctypes.c_int64)):
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.argtypes, fn.restype = [argtype], None
            fn(n)
