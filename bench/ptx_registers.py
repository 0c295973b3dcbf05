#!/usr/bin/python3
"""Registers and spills of every GPU kernel, from `ptxas -v`, as a Markdown table.

  ptx_registers.py --pelkc PATH_TO_PELKC SPEC [--ptxas PTXAS] [--sm 80 90]

For each architecture: `pelkc emit ptx SPEC --sm N`, then `ptxas -arch=sm_N -v`; one row per
kernel with its configuration (the `// pkI_kind: ...` header lines of the module), registers,
spill stores/loads (bytes) and stack frame (bytes) per architecture.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile


def ptxas_info(pelkc, ptxas, spec, sm, tmp):
    ptx = os.path.join(tmp, f"m{sm}.ptx")
    with open(ptx, "w") as f:
        subprocess.run([pelkc, "emit", "ptx", spec, "--sm", str(sm)], stdout=f, check=True)
    keys = {}
    with open(ptx) as f:
        for line in f:
            m = re.match(r"// (pk\d+_\w+): (.*)$", line)
            if m:
                keys[m.group(1)] = m.group(2)
    p = subprocess.run([ptxas, f"-arch=sm_{sm}", "-v", ptx, "-o", os.devnull],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=True)
    info, cur = {}, None
    for line in p.stdout.splitlines():
        m = re.search(r"Function properties for (\S+)", line)
        if m:
            cur = m.group(1)
            continue
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m and cur:
            info.setdefault(cur, {}).update(stack=int(m.group(1)), st=int(m.group(2)), ld=int(m.group(3)))
            continue
        m = re.search(r"Used (\d+) registers", line)
        if m and cur:
            info.setdefault(cur, {})["regs"] = int(m.group(1))
    return keys, info


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pelkc", required=True)
    ap.add_argument("spec")
    ap.add_argument("--ptxas", default=shutil.which("ptxas") or "/usr/local/cuda/bin/ptxas")
    ap.add_argument("--sm", type=int, nargs="+", default=[80, 90])
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {sm: ptxas_info(a.pelkc, a.ptxas, a.spec, sm, tmp) for sm in a.sm}
    keys = results[a.sm[0]][0]
    head = "| kernel | configuration (kind, sizes, eps, threads, live regions lo:size) |"
    rule = "|---|---|"
    for sm in a.sm:
        head += f" sm_{sm} regs | sm_{sm} spill st/ld (B) | sm_{sm} stack (B) |"
        rule += "---:|---:|---:|"
    print(head)
    print(rule)
    for name in sorted(keys, key=lambda n: int(re.match(r"pk(\d+)", n).group(1))):
        row = f"| `{name}` | `{keys[name]}` |"
        for sm in a.sm:
            i = results[sm][1].get(name, {})
            row += f" {i.get('regs', '?')} | {i.get('st', '?')}/{i.get('ld', '?')} | {i.get('stack', '?')} |"
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
