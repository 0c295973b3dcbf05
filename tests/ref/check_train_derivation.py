#!/usr/bin/python3
"""The derivation of the training kernels (spec/TRAIN.md), checked in float64 numpy on random
small cases, written from the document's formulas and not calling pelkc:

  * the forward: brute-force dense correlation = sum_ab theta B_ab (per-region box sums) = the
    summed-area table form sum_uv D[u,v] S(r_u, c_v) with D the 2-D difference of theta;
  * dX: the adjoint identity <conv(X), dY> = <X, conv_mirrored(dY)>, and the mirrored-grid
    box-sum form against the explicit transpose of the conv's matrix;
  * dtheta from the corner sums Gc against the sum over each region's taps, dbias = sum dY;
  * the KPE terms (constant, border): the forward terms from their definitions against the
    table forms, and dh, dtheta's KPE part against the brute-force gradient (the output is
    linear in h and theta: evaluate it on basis vectors);
  * why the tables are double: a float32 table's box sums on a 224 x 224 map lose ~log2(hw) bits.

  check_train_derivation.py [--seed S]     (fresh seed unless given, printed; exit 1 on failure)
"""

import argparse
import os
import sys

import numpy as np

failures = []
TOL = 1e-12


def expect(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    nb = np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / nb) if nb > 0 else float(np.linalg.norm(a))


def random_grid(rng, k):
    """A random composition of k (positive sizes summing to k)."""
    if k == 1:
        return [1]
    cuts = sorted(rng.choice(np.arange(1, k), size=rng.integers(0, min(k - 1, 12) + 1), replace=False))
    edges = [0] + [int(c) for c in cuts] + [k]
    return [edges[i + 1] - edges[i] for i in range(len(edges) - 1)]


def prefix(sizes):
    return np.concatenate([[0], np.cumsum(sizes)]).astype(int)


# ---- brute force, from the conventions' definitions ---------------------------------------------

def dense_kernel(theta, rows, cols):
    """W[i, j] = theta[a, b] for tap (i, j) in region (a, b)."""
    return np.repeat(np.repeat(theta, rows, axis=0), cols, axis=1)


def at(X, p, q):
    """X(p, q), zero outside the map."""
    h, w = X.shape
    return X[p, q] if 0 <= p < h and 0 <= q < w else 0.0


def padded(X, R):
    """X inside an R-wide frame of zeros: padded[x + R, y + R] = X(x, y)."""
    h, w = X.shape
    Xp = np.zeros((h + 2 * R, w + 2 * R))
    Xp[R:R + h, R:R + w] = X
    return Xp


def tap_image(X, i, j, k):
    """The map (x, y) -> X(x + i - R, y + j - R): what tap (i, j) reads at every output."""
    h, w = X.shape
    return padded(X, k // 2)[i:i + h, j:j + w]


def corr_brute(X, W):
    """Y(x, y) = sum_ij W[i, j] X(x + i - R, y + j - R), tap by tap."""
    h, w = X.shape
    k = W.shape[0]
    Xp = padded(X, k // 2)
    return sum(W[i, j] * Xp[i:i + h, j:j + w] for i in range(k) for j in range(k))


def box_brute(X, P, Q, a, b, R):
    """B_ab(X)(x, y): the sum of X under region (a, b)'s taps, pixel by pixel."""
    h, w = X.shape
    B = np.zeros((h, w))
    for x in range(h):
        for y in range(w):
            B[x, y] = sum(at(X, x + i - R, y + j - R) for i in range(P[a], P[a + 1])
                          for j in range(Q[b], Q[b + 1]))
    return B


def conv_matrix(W, h, w):
    """The conv as a (hw x hw) matrix A: vec(Y) = A vec(X), column by column from unit images."""
    A = np.zeros((h * w, h * w))
    for q in range(h * w):
        e = np.zeros(h * w)
        e[q] = 1
        A[:, q] = corr_brute(e.reshape(h, w), W).ravel()
    return A


def taps(X, k):
    """taps[i, j] = tap_image(X, i, j, k): [k, k, h, w]."""
    return np.array([[tap_image(X, i, j, k) for j in range(k)] for i in range(k)])


def kpe_constant_brute(W, hk, Xt):
    """h added at every tap, padding included: sum_ij W[i, j] (X(x+i-R, y+j-R) + h[i, j]) - conv(X);
    Xt = taps(X, k)."""
    return np.einsum("ij,ijxy->xy", W, Xt + hk[:, :, None, None]) - np.einsum("ij,ijxy->xy", W, Xt)


_inside = {}


def inside_mask(k, h, w):
    """[k, k, h, w]: 1 where tap (i, j) of output (x, y) lands inside the image."""
    if (k, h, w) not in _inside:
        R = k // 2
        m = np.zeros((k, k, h, w))
        for i in range(k):
            for j in range(k):
                for x in range(h):
                    for y in range(w):
                        m[i, j, x, y] = 0 <= x + i - R < h and 0 <= y + j - R < w
        _inside[k, h, w] = m
    return _inside[k, h, w]


def kpe_border_brute(W, hk, h, w):
    """h only at taps landing inside the image: M(x, y) = sum_ij W h [0 <= x+i-R < h, 0 <= y+j-R < w]."""
    return np.einsum("ij,ijxy->xy", W * hk, inside_mask(W.shape[0], h, w))


# ---- spec/TRAIN.md's formulas ------------------------------------------------------------------

def sat(X):
    """S[i, j] = sum of X over rows < i, columns < j, i in [0, h], j in [0, w]."""
    h, w = X.shape
    S = np.zeros((h + 1, w + 1))
    S[1:, 1:] = X.cumsum(0).cumsum(1)
    return S


def S_at(S, i, j):
    """S(i, j) with i, j clamped to the table (zero padding)."""
    h, w = S.shape[0] - 1, S.shape[1] - 1
    return S[min(max(i, 0), h), min(max(j, 0), w)]


def box_sat(S, r0, r1, c0, c1):
    return S_at(S, r1, c1) - S_at(S, r0, c1) - S_at(S, r1, c0) + S_at(S, r0, c0)


def diff2(theta):
    """D[u, v] = theta[u,v] - theta[u-1,v] - theta[u,v-1] + theta[u-1,v-1], theta 0 outside."""
    kr, kc = theta.shape
    t = np.zeros((kr + 2, kc + 2))
    t[1:-1, 1:-1] = theta
    return t[1:, 1:] - t[:-1, 1:] - t[1:, :-1] + t[:-1, :-1]


def gather_sat(X, theta, rows, cols):
    """Y(x, y) = sum_{u,v} D[u, v] S(x - R + P_u, y - R + Q_v)."""
    h, w = X.shape
    k = sum(rows)
    R = k // 2
    P, Q, D, S = prefix(rows), prefix(cols), diff2(theta), sat(X)
    Y = np.zeros((h, w))
    for x in range(h):
        for y in range(w):
            Y[x, y] = sum(D[u, v] * S_at(S, x - R + P[u], y - R + Q[v])
                          for u in range(len(P)) for v in range(len(Q)))
    return Y


def mirrored(rows, cols, theta):
    """The mirrored grid (both grids reversed) and theta flipped on both axes."""
    return rows[::-1], cols[::-1], theta[::-1, ::-1]


def mirrored_prefix_ok(rows):
    """P'_u = k - P_{k'-u}."""
    P, Pm, k = prefix(rows), prefix(rows[::-1]), sum(rows)
    return all(Pm[u] == k - P[len(rows) - u] for u in range(len(rows) + 1))


def corner_sums(Xs, dYs, rows, cols):
    """Gc[u, v] = sum_{n,x,y} dY_n(x, y) S_n(x - R + P_u, y - R + Q_v)."""
    k = sum(rows)
    R = k // 2
    P, Q = prefix(rows), prefix(cols)
    Gc = np.zeros((len(P), len(Q)))
    for X, dY in zip(Xs, dYs):
        S = sat(X)
        h, w = X.shape
        for x in range(h):
            for y in range(w):
                for u in range(len(P)):
                    for v in range(len(Q)):
                        Gc[u, v] += dY[x, y] * S_at(S, x - R + P[u], y - R + Q[v])
    return Gc


def dtheta_corners(Gc):
    return Gc[1:, 1:] - Gc[:-1, 1:] - Gc[1:, :-1] + Gc[:-1, :-1]


def kpe_border_table_form(W, hk, h, w):
    """M(x, y) = the box sum of V = W h over i in [R-x, R-x+h) ∩ [0,k), j in [R-y, R-y+w) ∩ [0,k)."""
    k = W.shape[0]
    R = k // 2
    Vs = sat(W * hk)
    M = np.zeros((h, w))
    for x in range(h):
        for y in range(w):
            i0, i1 = max(R - x, 0), min(R - x + h, k)
            j0, j1 = max(R - y, 0), min(R - y + w, k)
            M[x, y] = box_sat(Vs, i0, i1, j0, j1)
    return M


def kpe_border_T(E, k):
    """T[i, j] = the box sum of E over x in [R-i, R-i+h) ∩ [0,h), y in [R-j, R-j+w) ∩ [0,w)."""
    h, w = E.shape
    R = k // 2
    Es = sat(E)
    T = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            x0, x1 = max(R - i, 0), min(R - i + h, h)
            y0, y1 = max(R - j, 0), min(R - j + w, w)
            T[i, j] = box_sat(Es, x0, x1, y0, y1) if x0 < x1 and y0 < y1 else 0.0
    return T


def region_sum(A, rows, cols):
    """sum over each region Z_ab of A[i, j]: [k'_r, k'_c]."""
    P, Q = prefix(rows), prefix(cols)
    return np.array([[A[P[a]:P[a + 1], Q[b]:Q[b + 1]].sum() for b in range(len(cols))]
                     for a in range(len(rows))])


# ---- the checks -------------------------------------------------------------------------------

def check_case(rng, name, k, rows, cols, n, h, w):
    R = k // 2
    kr, kc = len(rows), len(cols)
    P, Q = prefix(rows), prefix(cols)
    theta = rng.standard_normal((kr, kc))
    bias = rng.standard_normal()
    hk = rng.standard_normal((k, k))
    W = dense_kernel(theta, rows, cols)
    Xs = rng.standard_normal((n, h, w))
    dYs = rng.standard_normal((n, h, w))
    tag = f"{name}: k {k} rows {rows} cols {cols} n {n} map {h}x{w}"

    # forward: dense = per-region box sums = table form (+ bias)
    X = Xs[0]
    Yd = corr_brute(X, W) + bias
    Yb = sum(theta[a, b] * box_brute(X, P, Q, a, b, R) for a in range(kr) for b in range(kc)) + bias
    Ys = gather_sat(X, theta, rows, cols) + bias
    e = [rel(Yb, Yd), rel(Ys, Yd)]
    expect(max(e) < TOL, f"forward  dense = sum theta B_ab = sum D S(r_u, c_v): {e[0]:.1e} {e[1]:.1e}  [{tag}]")

    # dX: adjoint identity, mirrored grid vs explicit transpose
    dY = dYs[0]
    rm, cm, tm = mirrored(rows, cols, theta)
    Wm = dense_kernel(tm, rm, cm)
    expect(np.array_equal(Wm, W[::-1, ::-1]) and mirrored_prefix_ok(rows) and mirrored_prefix_ok(cols),
           f"dX       the flipped kernel is theta flipped on the mirrored grid, P'_u = k - P_(k'-u)  [{name}]")
    lhs, rhs = float((corr_brute(X, W) * dY).sum()), float((X * corr_brute(dY, Wm)).sum())
    e_adj = abs(lhs - rhs) / max(abs(lhs), 1e-300)
    A = conv_matrix(W, h, w)
    dX_T = (A.T @ dY.ravel()).reshape(h, w)
    dX_def = np.array([[sum(W[i, j] * at(dY, p - i + R, q - j + R) for i in range(k) for j in range(k))
                        for q in range(w)] for p in range(h)])
    dX_mir = gather_sat(dY, tm, rm, cm)
    e = [e_adj, rel(dX_def, dX_T), rel(dX_mir, dX_T)]
    expect(max(e) < TOL, f"dX       <conv(X),dY> = <X,conv'(dY)>; definition, mirrored table form = A^T dY: "
           f"{e[0]:.1e} {e[1]:.1e} {e[2]:.1e}")

    # dtheta (no KPE) from corner sums vs the sum over each region's taps; dbias
    dth_brute = np.zeros((kr, kc))
    for a in range(kr):
        for b in range(kc):
            for Xn, dYn in zip(Xs, dYs):
                dth_brute[a, b] += sum((dYn * tap_image(Xn, i, j, k)).sum()
                                       for i in range(P[a], P[a + 1]) for j in range(Q[b], Q[b + 1]))
    Gc = corner_sums(Xs, dYs, rows, cols)
    dth = dtheta_corners(Gc)
    # the same through linearity: <Y(theta = e_ab, X), dY>
    dth_lin = np.zeros((kr, kc))
    for a in range(kr):
        for b in range(kc):
            eab = np.zeros((kr, kc))
            eab[a, b] = 1
            dth_lin[a, b] = sum((corr_brute(Xn, dense_kernel(eab, rows, cols)) * dYn).sum()
                                for Xn, dYn in zip(Xs, dYs))
    sigma = dYs.sum()
    db_lin = sum((np.ones((h, w)) * dYn).sum() for dYn in dYs)  # Y is bias + ..., dY/dbias = 1
    e = [rel(dth, dth_brute), rel(dth_lin, dth_brute), abs(sigma - db_lin) / abs(db_lin)]
    expect(max(e) < TOL, f"dtheta   corner sums Gc = sum over region taps = <Y(e_ab), dY>; dbias = sum dY: "
           f"{e[0]:.1e} {e[1]:.1e} {e[2]:.1e}")

    # KPE constant: forward term, dh, dtheta's part
    kap = (W * hk).sum()
    Xts = [taps(Xn, k) for Xn in Xs]
    Kc = kpe_constant_brute(W, hk, Xts[0])
    dh_lin = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            eij = np.zeros((k, k))
            eij[i, j] = 1
            dh_lin[i, j] = sum((kpe_constant_brute(W, eij, Xt) * dYn).sum() for Xt, dYn in zip(Xts, dYs))
    dh_doc = W * sigma
    dthk_lin = np.zeros((kr, kc))
    for a in range(kr):
        for b in range(kc):
            eab = np.zeros((kr, kc))
            eab[a, b] = 1
            dthk_lin[a, b] = sum((kpe_constant_brute(dense_kernel(eab, rows, cols), hk, Xt) * dYn).sum()
                                 for Xt, dYn in zip(Xts, dYs))
    dthk_doc = sigma * region_sum(hk, rows, cols)
    e = [rel(Kc, np.full((h, w), kap)), rel(dh_doc, dh_lin), rel(dthk_doc, dthk_lin)]
    expect(max(e) < TOL, f"constant term = sum W h; dh = W sum dY; dtheta += sum dY * sum_Z h: "
           f"{e[0]:.1e} {e[1]:.1e} {e[2]:.1e}")

    # KPE border: forward map (table form), dh = W T, dtheta += sum_Z h T
    Mb = kpe_border_brute(W, hk, h, w)
    Mt = kpe_border_table_form(W, hk, h, w)
    # also: the conv of an all-ones image with W h
    Mo = corr_brute(np.ones((h, w)), W * hk)
    E = dYs.sum(0)
    T = kpe_border_T(E, k)
    dh_lin = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            eij = np.zeros((k, k))
            eij[i, j] = 1
            dh_lin[i, j] = sum((kpe_border_brute(W, eij, h, w) * dYn).sum() for dYn in dYs)
    dthb_lin = np.zeros((kr, kc))
    for a in range(kr):
        for b in range(kc):
            eab = np.zeros((kr, kc))
            eab[a, b] = 1
            dthb_lin[a, b] = sum((kpe_border_brute(dense_kernel(eab, rows, cols), hk, h, w) * dYn).sum()
                                 for dYn in dYs)
    e = [rel(Mt, Mb), rel(Mo, Mb), rel(W * T, dh_lin), rel(region_sum(hk * T, rows, cols), dthb_lin)]
    expect(max(e) < TOL, "border   M table form = definition = conv(ones, W h); dh = W T; dtheta += sum_Z h T: "
           + " ".join(f"{v:.1e}" for v in e))


def check_float32_cancellation(rng):
    """A float32 table's single-pixel box sums on a positive 224 x 224 map vs a double table."""
    h = w = 224
    X = rng.random((h, w))  # positive, mean 0.5: the table's entries grow like 0.5 h w
    S32 = np.zeros((h + 1, w + 1), np.float32)
    S32[1:, 1:] = X.astype(np.float32).cumsum(0, dtype=np.float32).cumsum(1, dtype=np.float32)
    S64 = sat(X)
    b32 = (S32[1:, 1:] - S32[:-1, 1:] - S32[1:, :-1] + S32[:-1, :-1]).astype(np.float64)
    b64 = (S64[1:, 1:] - S64[:-1, 1:] - S64[1:, :-1] + S64[:-1, :-1]).astype(np.float32).astype(np.float64)
    e32 = float(np.abs(b32 - X).mean() / X.mean())
    e64 = float(np.abs(b64 - X).mean() / X.mean())
    expect(e32 > 1e-4 and e64 < 1e-7,
           f"double tables: 224x224 single-pixel box sums, mean rel error float32 table {e32:.1e}, "
           f"double table rounded to float32 {e64:.1e}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "little")
    print(f"seed: {seed}  (reproduce with --seed {seed})")
    rng = np.random.default_rng(seed)
    cases = [
        ("random rows != cols", 7, random_grid(rng, 7), random_grid(rng, 7), 2, 6, 5),
        ("rule 13 c5 m2 / random cols", 13, [2, 2, 1, 1, 1, 1, 1, 2, 2], random_grid(rng, 13), 2, 5, 7),
        ("kernel > map", 15, random_grid(rng, 15), random_grid(rng, 15), 2, 3, 4),
        ("kernel >> map, 1-row map", 21, [10, 1, 10], random_grid(rng, 21), 3, 1, 5),
        ("asymmetric, odd map", 9, [4, 1, 2, 2], [1, 1, 7], 1, 5, 3),
        ("rule 21 c5 m2 / random, 9x11", 21, [2, 4, 2, 1, 1, 1, 1, 1, 2, 4, 2], random_grid(rng, 21), 2, 9, 11),
        ("k 41 on a 4x6 map", 41, random_grid(rng, 41), [20, 1, 20], 2, 4, 6),
        ("one region per axis", 5, [5], [5], 2, 4, 4),
        ("k 1", 1, [1], [1], 2, 3, 2),
    ]
    for case in cases:
        check_case(rng, *case)
    check_float32_cancellation(rng)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
