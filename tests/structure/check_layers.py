#!/usr/bin/env python3
"""The layering of pelkc's C sources, checked over their #include lines.

    common/                       below everything
    runtime/                      what compiled models link: runtime/ (and common/version.h)
    ir/                           the graph IR: common/
    frontend/  -> ir              spec, weights, graph building: common/, ir/
    passes/    -> ir              the passes: common/, ir/
    backends/  -> passes, ir      backends/*.{c,h} (the interface and what every backend
                                  shares), one backend's own folder, runtime/; never another
                                  backend's folder
    cli/       -> everything      but a backend's folder: it sees backends/backend.h only

Also: no source file in these folders longer than MAX_LINES lines.
Run from anywhere: check_layers.py [REPO]; exit 1 with one line per violation.
check_layers.py --self-test plants each kind of violation in a scratch tree and checks all are found.
"""
import os
import re
import sys
import tempfile

MAX_LINES = 800
ALLOWED = {
    "common": {"common"},
    "runtime": {"runtime", "common"},
    "ir": {"ir", "common"},
    "frontend": {"frontend", "ir", "common"},
    "passes": {"passes", "ir", "common"},
    "backends": {"backends", "passes", "ir", "common", "runtime"},
    "cli": {"cli", "backends", "frontend", "passes", "ir", "common", "runtime"},
}
SOURCE_DIRS = list(ALLOWED) + ["tests", "bench", "python", "scripts"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(rel):
    """'backends/llvm/x.c' -> ('backends', 'llvm'); 'backends/x.c' -> ('backends', None)."""
    parts = rel.split("/")
    sub = parts[1] if len(parts) > 2 else None
    return parts[0], sub


def check_file(repo, rel, problems):
    layer, sub = layer_of(rel)
    with open(os.path.join(repo, rel), encoding="utf-8", errors="replace") as f:
        lines = f.readlines()
    for no, line in enumerate(lines, 1):
        m = INCLUDE.match(line)
        if not m:
            continue
        target = os.path.normpath(os.path.join(os.path.dirname(rel), m.group(1)))
        if not os.path.exists(os.path.join(repo, target)):
            continue  # a generated file or a system header found through -I
        t_layer, t_sub = layer_of(target)
        where = f"{rel}:{no}: includes {target}"
        if t_layer not in ALLOWED[layer]:
            if not (layer == "runtime" and target == "common/version.h"):
                problems.append(f"{where}: {layer}/ may not include {t_layer}/")
        elif t_layer == "backends" and t_sub and t_sub != sub:
            problems.append(f"{where}: only backends/{t_sub}/ may include its own files")


def check_lengths(repo, rel, problems):
    with open(os.path.join(repo, rel), encoding="utf-8", errors="replace") as f:
        n = sum(1 for _ in f)
    if n > MAX_LINES:
        problems.append(f"{rel}: {n} lines, more than {MAX_LINES}")


def find_problems(repo):
    problems, files = [], 0
    for top in SOURCE_DIRS:
        for dirpath, _, names in os.walk(os.path.join(repo, top)):
            for name in sorted(names):
                if not name.endswith((".c", ".h", ".py", ".sh", ".in")):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), repo)
                files += 1
                if top in ALLOWED and name.endswith((".c", ".h", ".in")):
                    check_file(repo, rel, problems)
                check_lengths(repo, rel, problems)
    return problems, files


def self_test():
    """A scratch tree with one allowed include and one violation of each rule."""
    planted = {
        "common/diag.h": "",
        "frontend/spec.h": '#include "../common/diag.h"\n',          # allowed
        "ir/ir.h": '#include "../frontend/spec.h"\n',                # ir above frontend
        "backends/backend.h": "",
        "backends/c/emit.h": "",
        "backends/llvm/gen.c": '#include "../backend.h"\n#include "../c/emit.h"\n',  # sibling
        "cli/main.c": '#include "../backends/c/emit.h"\n',           # a backend's internals
        "passes/long.c": "x;\n" * (MAX_LINES + 1),                   # too long
    }
    with tempfile.TemporaryDirectory() as repo:
        for rel, text in planted.items():
            os.makedirs(os.path.join(repo, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(repo, rel), "w") as f:
                f.write(text)
        problems, _ = find_problems(repo)
    want = ["ir/ir.h:1", "backends/llvm/gen.c:2", "cli/main.c:1", "passes/long.c: 801 lines"]
    found = [w for w in want if any(p.startswith(w) for p in problems)]
    print("\n".join(problems))
    if found != want or len(problems) != len(want):
        print(f"check_layers self-test FAILED: wanted {want}, got {len(problems)} problem(s)")
        return 1
    print(f"check_layers self-test: all {len(want)} planted violations found, nothing else")
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    repo = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), "..", ".."))
    problems, files = find_problems(repo)
    for p in problems:
        print(p)
    print(f"check_layers: {files} files, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
