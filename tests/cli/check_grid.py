#!/usr/bin/python3
"""`pelkc grid`: the text drawing of small kernels, exactly; the PNG's size and pixels.

  check_grid.py PELKC SOURCE_DIR

The PNG is decoded here with zlib (no image library): IHDR size, then pixels at places computed
from the geometry the command documents (a 16-pixel margin, a 24-pixel title band, cell =
clamp(768 // k, 4, 32) pixels per tap, width at least 400): the centre tap in the own-weight blue
(32, 96, 160), region boundaries black, the margin white.
"""
import os
import struct
import subprocess
import sys
import tempfile
import zlib

PELKC, SRC = sys.argv[1], sys.argv[2]
failures = []


def run(*args):
    return subprocess.run([PELKC, *args], capture_output=True, text=True)


def expect(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


# ---- text: Fig. 1a of the paper (5x5 over [2, 1, 2]) and an asymmetric rows/cols grid ----
out = run("grid", "--kernel", "5", "--grid", "[2, 1, 2]")
want = """kernel 5, grid 3x3 (9 of 25 weights per channel)
rows [2, 1, 2]
cols [2, 1, 2]
one character per tap: '#' has its own weight, '.' shares its region's weight
+--+-+--+
|..|.|..|
|..|.|..|
+--+-+--+
|..|#|..|
+--+-+--+
|..|.|..|
|..|.|..|
+--+-+--+
"""
expect(out.returncode == 0 and out.stdout == want, "5x5 [2,1,2] drawn exactly")
if out.stdout != want:
    print(out.stdout, out.stderr)

out = run("grid", "--kernel", "3", "--grid", "{rows: [1, 1, 1], cols: [2, 1]}")
want_art = """+--+-+
|..|#|
+--+-+
|..|#|
+--+-+
|..|#|
+--+-+
"""
expect(out.returncode == 0 and out.stdout.endswith(want_art) and "grid 3x2" in out.stdout,
       "3x3 rows [1,1,1] cols [2,1] drawn exactly")

# a spec's stage: PeLK-T stage 3 (kernel 13, default rule: [2,2,1,1,1,1,1,2,2])
out = run("grid", os.path.join(SRC, "examples/pelk_t.yaml"), "--stage", "3")
lines = out.stdout.splitlines()
art = [l for l in lines if l[:1] in "+|"]
expect(len(art) == 13 + 10 and all(len(l) == 13 + 10 for l in art), "stage 3: 23x23 characters")
expect(art[7] == "|..|..|#|#|#|#|#|..|..|", "stage 3: a centre row has 5 own-weight taps")
expect(sum(l.count("#") for l in art) == 25, "stage 3: 25 taps with their own weight")

# ---- errors: one line, exit 1, no file ----
with tempfile.TemporaryDirectory() as t:
    png = os.path.join(t, "g.png")
    out = run("grid", os.path.join(SRC, "examples/pelk_t.yaml"), "--stage", "4", "--png", png)
    expect(out.returncode == 1 and out.stderr.count("\n") == 1 and "has 4 stages (0 to 3)" in out.stderr
           and not os.path.exists(png), "--stage 4 of a 4-stage spec refused")
    out = run("grid", "--kernel", "5", "--grid", "[2, 2, 2]", "--png", png)
    expect(out.returncode == 1 and out.stderr.count("\n") == 1 and not os.path.exists(png),
           "a grid not summing to the kernel refused")


# ---- PNG ----
def read_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        crc = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0]
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind}"
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype = ihdr[:4]
    assert depth == 8 and ctype in (2, 6), f"unexpected PNG format depth {depth} type {ctype}"
    bpp = 3 if ctype == 2 else 4
    raw, rows, prev = zlib.decompress(idat), [], bytearray(w * bpp)
    stride = w * bpp
    for y in range(h):  # undo the per-row filters
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, lambda x, y: tuple(rows[y][x * bpp:x * bpp + 3])


with tempfile.TemporaryDirectory() as t:
    for k, grid, center_region in [(51, None, None), (5, "[2, 1, 2]", None)]:
        png = os.path.join(t, f"k{k}.png")
        args = (["grid", os.path.join(SRC, "examples/pelk_t.yaml"), "--stage", "0"] if grid is None
                else ["grid", "--kernel", str(k), "--grid", grid])
        out = run(*args, "--png", png)
        cell = max(4, min(32, 768 // k))
        want_w, want_h = max(400, k * cell + 32), k * cell + 32 + 24
        expect(out.returncode == 0 and os.path.exists(png), f"k={k}: PNG written")
        w, h, pix = read_png(png)
        expect((w, h) == (want_w, want_h), f"k={k}: PNG is {w}x{h}, want {want_w}x{want_h}")
        x0, y0 = 16, 40
        mid = x0 + (k // 2) * cell + cell // 2, y0 + (k // 2) * cell + cell // 2
        expect(pix(*mid) == (32, 96, 160), f"k={k}: centre tap own-weight blue, got {pix(*mid)}")
        expect(pix(x0, y0 + cell // 2) == (0, 0, 0) and pix(x0 + cell // 2, y0) == (0, 0, 0),
               f"k={k}: outer boundary black")
        expect(pix(2, h - 2) == (255, 255, 255), f"k={k}: margin white")
        corner = pix(x0 + 2, y0 + 2)
        expect(corner != (32, 96, 160) and corner != (0, 0, 0) and corner != (255, 255, 255),
               f"k={k}: corner region shaded as shared, got {corner}")

sys.exit(1 if failures else 0)
