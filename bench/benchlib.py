"""What the Python benchmarks share: timing, the machine header, load warnings, the idle gate,
running pelkc and reading its `median_ms: X` line, and the table cells.

    import benchlib                         # bench/benchlib.py; puts python/ on sys.path
    benchlib.torch_peer.prefer_avx512()     # before `import torch`
    import torch
    peer = benchlib.torch_peer.describe()   # the BLAS and ISA torch runs on (python/torch_peer.py)
    stats = benchlib.time_methods({"a": fa, "b": fb}, iters=10, min_time=3, max_time=30, rounds=3)

Nothing here imports torch, so a script can import this before it sets torch's environment.
"""

import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections import namedtuple

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO_ROOT, "python"))
import torch_peer  # noqa: E402,F401  (re-exported: the benchmarks' view of the peer)

REFUSED_STATUS = 2  # exit status of a benchmark that printed torch's times but refused the ratio
MEDIAN_RE = re.compile(r"^\s*median_ms:\s*([-+0-9.eE]+|nan|inf)\s*$", re.IGNORECASE)


# ---- timing ----------------------------------------------------------------------------------------

def time_methods(fns, iters, min_time, max_time, rounds, short=0.2):
    """Median wall time of each fn() after warm-up: {key: (median ms, timed runs, min ms)}.

    Why rounds: on a shared machine a burst of other work can last a second or more; timing the
    methods one after the other lets such a burst land on one method only and flip "best torch".
    So the timed runs are spread over `rounds` round-robin rounds (A B C A B C ...) and each method's
    samples are pooled before taking the median: a burst then hits every method a little.
    Warm-up: one run, plus two more when a run is shorter than `short` seconds (first-call
    allocations, oneDNN primitive creation, FFT plans). Per method, in total: at least `iters`
    runs and `min_time` seconds (fast methods get enough samples for a stable median), but a slow
    method stops for good after `max_time` seconds once it has 3 runs.
    The min only goes to the log: a median far above it means threads were descheduled.
    """
    for fn in fns.values():
        t0 = time.perf_counter()
        fn()
        if time.perf_counter() - t0 < short:
            fn()
            fn()
    samples = {key: [] for key in fns}
    spent = {key: 0.0 for key in fns}
    done = set()
    per_round_n, per_round_t = math.ceil(iters / rounds), min_time / rounds
    for _ in range(rounds):
        for key, fn in fns.items():
            n0, t_round = len(samples[key]), 0.0
            while key not in done and not (len(samples[key]) - n0 >= per_round_n and t_round >= per_round_t):
                t0 = time.perf_counter()
                fn()
                dt = time.perf_counter() - t0
                samples[key].append(dt)
                t_round += dt
                spent[key] += dt
                if (spent[key] >= max_time and len(samples[key]) >= 3) or len(samples[key]) >= 100000:
                    done.add(key)
    return {key: (statistics.median(v) * 1e3, len(v), min(v) * 1e3) for key, v in samples.items()}


def rel_err(y, ref):
    """max |y - ref| / max |ref|, in float64 (a scale-free error for comparing outputs)."""
    return ((y.double() - ref.double()).abs().max() / ref.double().abs().max().clamp_min(1e-30)).item()


# ---- the machine and its load -----------------------------------------------------------------------

def cpu_model():
    """The CPU's model name from /proc/cpuinfo (platform.processor() where unreadable)."""
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(threads, peer):
    """Header lines: the machine, torch and its BLAS and ISA (peer = torch_peer.describe()), threads."""
    import torch
    return ([f"machine: {cpu_model()}, nproc {os.cpu_count()}, {platform.system()} {platform.machine()},"
             f" load average {load_text()}",
             f"torch {torch.__version__}, threads {threads} (torch.get_num_threads() = {torch.get_num_threads()})"]
            + torch_peer.describe_lines(peer))


def load_text():
    """The 1/5/15-minute load averages as text ('?' where unavailable)."""
    try:
        return "/".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "?"


def load_warning():
    """A warning line when the 1-minute load average is above half the CPUs, else None.

    The load average counts runnable processes; with more than half the CPUs already busy before we
    start, the threads we time get descheduled and medians jump by whole scheduler slices.
    """
    try:
        load1 = os.getloadavg()[0]
    except OSError:
        return None
    ncpu = os.cpu_count() or 1
    if load1 > 0.5 * ncpu:
        return (f"WARNING: load average {load1:.2f} on {ncpu} CPUs: other processes are running, timings"
                " will be noisy (rerun on a quiet machine)")
    return None


def cpu_busy(seconds=1.0):
    """Fraction of all CPU time spent busy (not idle or iowait) over the next `seconds`, or None.

    Sampled from /proc/stat rather than the load average, which lags by a minute and would still
    count the previous benchmark's own threads.
    """
    def sample():
        with open("/proc/stat") as f:
            v = [int(t) for t in f.readline().split()[1:]]
        return v[3] + v[4], sum(v[:8])  # idle + iowait, total (without guest time, counted in user)
    try:
        i0, t0 = sample()
        time.sleep(seconds)
        i1, t1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return 1.0 - (i1 - i0) / (t1 - t0) if t1 > t0 else None


def busy_warning():
    """A warning line when other processes kept the CPUs more than 25% busy over 1 s, else None."""
    busy = cpu_busy()
    if busy is None or busy <= 0.25:
        return None
    ncpu = os.cpu_count() or 1
    return (f"WARNING: the CPUs were {100 * busy:.0f}% busy over 1 s before measuring ({ncpu} CPUs, load average"
            f" {load_text()}): other processes are running, timings will be noisy (rerun on a quiet machine)")


def wait_for_idle(max_wait, idle=0.9, over=0.3):
    """Wait until the CPUs have been at least `idle` idle for `over` seconds, at most max_wait seconds.

    Returns the number of busy samples skipped, or None if the CPUs never got idle enough.
    """
    deadline, skipped = time.time() + max_wait, 0
    while True:
        busy = cpu_busy(over)
        if busy is None or 1.0 - busy >= idle:
            return skipped
        skipped += 1
        if time.time() >= deadline:
            return None


def add_torch_timing_options(p, min_time, max_time, rounds):
    """--min-time, --max-time and --rounds (time_methods's arguments) on argparse parser p."""
    p.add_argument("--min-time", type=float, default=min_time,
                   help=f"torch: keep timing until this many seconds per method (default {min_time:g})")
    p.add_argument("--max-time", type=float, default=max_time,
                   help=f"torch: stop a slow method after this many seconds once it has 3 runs (default {max_time:g})")
    p.add_argument("--rounds", type=int, default=rounds,
                   help=f"torch: spread each method's timed runs over this many round-robin rounds (default {rounds})")


# ---- pelkc -------------------------------------------------------------------------------------------

PelkcRun = namedtuple("PelkcRun", "ms lines failure")  # lines: stdout before median_ms; failure: log lines


def run_pelkc(cmd, timeout, stderr_tail=20):
    """Run a pelkc timing command whose last stdout line is `median_ms: X`.

    Returns PelkcRun(ms, info lines, None) or, when it fails (does not start, times out, exits
    nonzero, does not end in a finite positive median), PelkcRun(None, [], lines saying why:
    the reason, then the tail of stderr and of stdout).
    """
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return PelkcRun(None, [], [str(e)])
    lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    m = MEDIAN_RE.match(lines[-1]) if lines else None
    if p.returncode != 0 or not m:
        why = f"exit code {p.returncode}" if p.returncode != 0 else "last line of stdout is not 'median_ms: X'"
        tail = [f"  stderr| {ln}" for ln in (p.stderr.strip().splitlines() or ["(no stderr)"])[-stderr_tail:]]
        return PelkcRun(None, [], [why] + tail + [f"  stdout| {ln}" for ln in lines[-5:]])
    ms = float(m.group(1))
    if not math.isfinite(ms) or ms <= 0:
        return PelkcRun(None, [], [f"median_ms is {m.group(1)}"])
    return PelkcRun(ms, lines[:-1], None)


# ---- table cells ---------------------------------------------------------------------------------------

def fmt_ms(v):
    """A time in ms with about 3 significant digits."""
    return f"{v:.3f}" if v < 10 else f"{v:.1f}" if v < 1000 else f"{v:.0f}"


def fmt_ratio(r):
    """A ratio as 'N.NNx'."""
    return f"{r:.2f}x" if r < 10 else f"{r:.1f}x" if r < 100 else f"{r:.0f}x"


def text_table(header, rows, left=()):
    """Fixed-width text table: the columns in `left` left-aligned, the others right-aligned."""
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]

    def fmt(cells):
        return "  ".join(c.ljust(wd) if i in left else c.rjust(wd) for i, (c, wd) in enumerate(zip(cells, widths)))
    return "\n".join([fmt(header), "  ".join("-" * wd for wd in widths)] + [fmt(row) for row in rows])


def markdown_table(header, rows, left=()):
    """The same table as GitHub markdown."""
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" if i in left else "---:" for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)
