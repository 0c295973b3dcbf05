#!/usr/bin/env python3
"""The error catalogue: run pelkc on every malformed input in cases.txt and
check its contract: exit status 1 (no crash, no sanitizer report), nothing on
stdout, exactly the expected line on stderr, and no file written.

usage: run_errors.py PELKC [CASES] [-v] [-k SUBSTRING]
  -v   print every case's stderr (to write or review expectations)
  -k   run only the cases whose name contains SUBSTRING

cases.txt: one block per case (blank lines and '#' lines between are ignored):
  case NAME
  run ARGS...      pelkc's arguments, split on spaces
  err LINE         the exact stderr line
  err~ TEXT        or: text the one stderr line must contain
In ARGS, LINE and TEXT: {in} is this folder, {tmp} a fresh scratch folder (an
output file named there must not appear), {gen} a folder of generated inputs
(a 10 MB spec, a directory), {model} a .so compiled from weights/tiny.yaml.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                   "runtime error:", "Segmentation fault", "core dumped")


def parse_cases(path):
    cases, cur = [], None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            key, _, rest = line.partition(" ")
            if key == "case":
                cur = {"name": rest.strip(), "line": n}
                cases.append(cur)
            elif cur is None:
                sys.exit("%s:%d: a case must start with 'case NAME'" % (path, n))
            elif key == "run":
                cur["args"] = rest.split()
            elif key in ("err", "err~"):
                cur["want"], cur["exact"] = rest, key == "err"
            else:
                sys.exit("%s:%d: unknown line '%s'" % (path, n, key))
    for c in cases:
        if "args" not in c or "want" not in c:
            sys.exit("%s:%d: case %s needs 'run' and 'err'" % (path, c["line"], c["name"]))
    return cases


def generate(gen):
    """Inputs too big or too odd to keep in the repository."""
    head = "name: big\ninput: {channels: 3, height: 32, width: 32}\n"
    with open(os.path.join(gen, "10mb.yaml"), "w") as f:  # a grid of 3.5 million entries
        f.write(head + "stages: [{dim: 8, depth: 1, kernel: 5, grid: [" + "1, " * 3500000 + "1]}]\n")
    with open(os.path.join(gen, "grid_entries.yaml"), "w") as f:  # under 1 MB, 5000 entries
        f.write(head + "stages: [{dim: 8, depth: 1, kernel: 5, grid: [" + "1, " * 5000 + "1]}]\n")
    os.mkdir(os.path.join(gen, "a_directory"))


def main():
    argv = sys.argv[1:]
    verbose = "-v" in argv
    only = None
    if "-k" in argv:
        only = argv[argv.index("-k") + 1]
        del argv[argv.index("-k"):argv.index("-k") + 2]
    argv = [a for a in argv if a != "-v"]
    if not argv:
        sys.exit(__doc__)
    pelkc = os.path.abspath(argv[0])
    here = os.path.dirname(os.path.abspath(__file__))
    cases = parse_cases(argv[1] if len(argv) > 1 else os.path.join(here, "cases.txt"))
    if only:
        cases = [c for c in cases if only in c["name"]]

    root = tempfile.mkdtemp(prefix="pelkc-errors-")
    tmp, gen, fixture = (os.path.join(root, d) for d in ("tmp", "gen", "fixture"))
    for d in (tmp, gen, fixture):
        os.mkdir(d)
    passed = failed = 0
    t0 = time.time()
    try:
        generate(gen)
        model = os.path.join(fixture, "tiny.so")
        if any("{model}" in " ".join(c["args"]) for c in cases):
            r = subprocess.run([pelkc, "compile", os.path.join(here, "weights", "tiny.yaml"),
                                "--random-weights", "1", "--march", "generic", "-o", model],
                               capture_output=True, text=True)
            if r.returncode:
                sys.exit("cannot compile the fixture model: " + r.stderr)
        subst = {"{in}": here, "{tmp}": tmp, "{gen}": gen, "{model}": model}

        def fill(s):
            for k, v in subst.items():
                s = s.replace(k, v)
            return s

        for c in cases:
            args = [fill(a) for a in c["args"]]
            want = fill(c["want"])
            before = sorted(os.listdir(tmp))
            try:
                r = subprocess.run([pelkc] + args, capture_output=True, timeout=20)
                rc, out, err = r.returncode, r.stdout, r.stderr.decode("utf-8", "replace")
            except subprocess.TimeoutExpired:
                rc, out, err = "timeout", b"", ""
            lines = err.splitlines()
            problems = []
            if rc != 1:
                problems.append("exit status %s, expected 1%s" % (
                    rc, " (killed by signal %d)" % -rc if isinstance(rc, int) and rc < 0 else ""))
            if any(m in err for m in SANITIZER_MARKS):
                problems.append("sanitizer or crash report on stderr")
            if out:
                problems.append("stdout is not empty: %r" % out[:200])
            if len(lines) != 1:
                problems.append("%d lines on stderr, expected 1" % len(lines))
            elif c["exact"] and lines[0] != want:
                problems.append("stderr differs:\n    got  %s\n    want %s" % (lines[0], want))
            elif not c["exact"] and want not in lines[0]:
                problems.append("stderr lacks '%s':\n    got  %s" % (want, lines[0]))
            after = sorted(os.listdir(tmp))
            if after != before:
                problems.append("files written: %s" % sorted(set(after) - set(before)))
                for f in set(after) - set(before):
                    p = os.path.join(tmp, f)
                    shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
            if verbose:
                print("%-36s %s" % (c["name"], err.rstrip("\n").replace(here, "{in}")
                                    .replace(gen, "{gen}").replace(tmp, "{tmp}")))
            if problems:
                failed += 1
                print("FAIL %s (cases.txt:%d): %s\n    pelkc %s" % (
                    c["name"], c["line"], "\n  ".join(problems), " ".join(args)))
                if len(lines) != 1:
                    print("    stderr: " + err[:2000].replace("\n", "\n            "))
            else:
                passed += 1
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("error catalogue: %d cases in %.1f s" % (passed + failed, time.time() - t0))
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or not passed else 0)


if __name__ == "__main__":
    main()
