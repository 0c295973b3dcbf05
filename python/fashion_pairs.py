"""Fashion-MNIST pairs on a large canvas, for tasks where a large kernel should matter.

    pairs = fashion_pairs.PairSet(x, y, n=20000, seed=0, task="distance")  # x, y: fashion_mnist.load()
    xb = pairs.x[idx]                                     # float32 [len(idx), 1, 112, 112]
    yb = pairs.y[idx]                                     # int64 labels, 0 or 1

Each sample puts two 28x28 Fashion-MNIST items (pixel / 255, in [0, 1]) on a 112x112 canvas of
zeros (examples/fashion_pairs.yaml, python/grid_ablation.py). Two tasks:

- "distance": are the two items near (centres 44 to 56 pixels apart, label 0) or far (72 to 84
  pixels, label 1)? Items of any class, at random places, in a random direction from each other;
  the classes do not matter. Neither answer can be seen near one item: the items are at least 16
  pixels apart, so a network must carry one item's presence at least 44 pixels to the other and
  tell 56 from 72. Drawn uniformly, far pairs would sit nearer the border (they need room) and an
  item's distance to the borders alone would give the label 70-90% of the time; so the pairs are
  balanced: near and far pairs are kept in equal numbers for every combination of the two items'
  distances to the borders (per axis, in 4-pixel bins up to 28), which leaves 58% (what the
  borders within 8 pixels of an item tell) to 74% (within 42), measured on held-out pairs.
- "distance-uniform": the same pairs drawn uniformly, without that balance: a control that shows
  a network learning the border shortcut (docs/GRID_ABLATION.md).
- "same": are the two items of the same class? One in a random quadrant, the other in the
  diagonally opposite one, each at a random offset inside its quadrant (centres 40 to 119 pixels
  apart); half the pairs are of the same class. The paper-style comparison of two far-apart
  items, but a known hard case for ConvNets (same-different): with this network and budget it
  stays at chance (docs/GRID_ABLATION.md), so the ablation does not use it.

The canvases are composed on demand from the pairs' indices and places (20,000 stored canvases
would take 1 GB), deterministically for a seed.
"""

import numpy as np

CANVAS = 112
ITEM = 28
TASKS = ("distance", "distance-uniform", "same")
NEAR, FAR = (44.0, 56.0), (72.0, 84.0)  # centre-to-centre distances, pixels


class _Canvases:
    """x of a PairSet: indexing with an int array or a slice composes those canvases."""

    def __init__(self, pairs):
        self.p = pairs

    def __len__(self):
        return len(self.p.a)

    def __getitem__(self, idx):
        p = self.p
        idx = np.arange(len(p.a))[idx] if isinstance(idx, slice) else np.asarray(idx)
        out = np.zeros((len(idx), 1, p.canvas, p.canvas), np.float32)
        for k, i in enumerate(idx):
            for item, (r, c) in ((p.a[i], p.pos_a[i]), (p.b[i], p.pos_b[i])):
                out[k, 0, r:r + ITEM, c:c + ITEM] = p.images[item, 0] + 0.5  # the loader's [-0.5, 0.5] -> [0, 1]
        return out


def _distance_places(rng, n, canvas, far):
    """Top-left corners [n, 2] of a and b, centres NEAR or FAR apart (far: bool [n]), inside the canvas."""
    lo = np.where(far, FAR[0], NEAR[0])
    hi = np.where(far, FAR[1], NEAR[1])
    pos_a, pos_b = np.zeros((n, 2), np.int64), np.zeros((n, 2), np.int64)
    todo, room = np.arange(n), canvas - ITEM
    while len(todo):  # rejection: draw a place and a direction until b fits too
        a = rng.uniform(0, room, (len(todo), 2))
        d = rng.uniform(lo[todo], hi[todo])
        t = rng.uniform(0, 2 * np.pi, len(todo))
        b = a + d[:, None] * np.stack([np.cos(t), np.sin(t)], axis=1)
        ok = ((b >= 0) & (b <= room)).all(axis=1)
        pos_a[todo[ok]], pos_b[todo[ok]] = np.rint(a[ok]), np.rint(b[ok])
        todo = todo[~ok]
    return pos_a, pos_b


def _border_key(pos_a, pos_b, room):
    """Per pair, the two items' distances to the borders, per axis, in 4-pixel bins up to 28 (the
    axes and the two items unordered): what the balanced sampler equalises between the labels."""

    def item(p):
        d = np.sort(np.minimum(np.minimum(p, room - p), 28) // 4, axis=1)
        return d[:, 0] * 8 + d[:, 1]

    a, b = item(pos_a), item(pos_b)
    return np.minimum(a, b) * 64 + np.maximum(a, b)


def _balanced_distance_pairs(rng, n, canvas):
    """(far [n] bool, pos_a, pos_b): near and far pairs in equal numbers per _border_key."""
    room, got = canvas - ITEM, []
    while sum(len(g[0]) for g in got) < n:  # about a quarter of the candidates are kept
        m = 2 * n + 64
        near = _distance_places(rng, m, canvas, np.zeros(m, bool))
        far = _distance_places(rng, m, canvas, np.ones(m, bool))
        kn, kf = _border_key(*near, room), _border_key(*far, room)
        keep_n, keep_f = [], []
        for k in np.intersect1d(kn, kf):
            i, j = np.flatnonzero(kn == k), np.flatnonzero(kf == k)
            c = min(len(i), len(j))
            keep_n.append(i[:c])
            keep_f.append(j[:c])
        i, j = np.concatenate(keep_n), np.concatenate(keep_f)
        got.append((np.r_[np.zeros(len(i), bool), np.ones(len(j), bool)],
                    np.concatenate([near[0][i], far[0][j]]), np.concatenate([near[1][i], far[1][j]])))
    far, pos_a, pos_b = (np.concatenate(parts) for parts in zip(*got))
    pick = rng.permutation(len(far))[:n]
    return far[pick], pos_a[pick], pos_b[pick]


def _opposite_quadrants(rng, n, canvas):
    half = canvas // 2
    quad = rng.integers(0, 4, n)  # item a's quadrant; item b goes to the opposite one (3 - quad)
    offsets = rng.integers(0, half - ITEM + 1, (n, 4))

    def corner(q, off):
        return np.stack([(q // 2) * half + off[:, 0], (q % 2) * half + off[:, 1]], axis=1)

    return corner(quad, offsets[:, :2]), corner(3 - quad, offsets[:, 2:])


class PairSet:
    """n pairs drawn from images x [N, 1, 28, 28] with labels y [N]; .x composes canvases, .y is
    int64 [n] (distance: 1 far; same: 1 same class), .classes the two items' classes [n, 2]."""

    def __init__(self, x, y, n, seed, task="distance", canvas=CANVAS):
        if task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        if canvas < 2 * ITEM or (task != "same" and canvas - ITEM < FAR[1] / np.sqrt(2)):
            raise ValueError(f"a canvas of {canvas} pixels is too small for task {task!r}")
        rng = np.random.default_rng(seed)
        self.images, self.canvas, self.task = x, canvas, task
        self.a = rng.integers(0, len(y), n)
        if task == "distance":
            self.b = rng.integers(0, len(y), n)
            far, self.pos_a, self.pos_b = _balanced_distance_pairs(rng, n, canvas)
            self.y = far.astype(np.int64)
        elif task == "distance-uniform":
            self.b = rng.integers(0, len(y), n)
            far = rng.random(n) < 0.5
            self.pos_a, self.pos_b = _distance_places(rng, n, canvas, far)
            self.y = far.astype(np.int64)
        else:
            same = rng.random(n) < 0.5
            by_class = [np.flatnonzero(y == c) for c in range(10)]
            class_b = np.where(same, y[self.a], (y[self.a] + rng.integers(1, 10, n)) % 10)
            self.b = np.array([by_class[c][rng.integers(len(by_class[c]))] for c in class_b], np.int64)
            self.pos_a, self.pos_b = _opposite_quadrants(rng, n, canvas)
            self.y = same.astype(np.int64)
        self.classes = np.stack([y[self.a], y[self.b]], axis=1)
        self.x = _Canvases(self)


def load(train_pairs, test_pairs, seed=0, task="distance", canvas=CANVAS):
    """(x_train, y_train, x_test, y_test) as train_fashion_mnist.train and evaluate take them:
    train pairs from the 60,000 training images, test pairs from the 10,000 test images, the same
    for every training seed (seed chooses the data only)."""
    import fashion_mnist

    x_train, y_train, x_test, y_test = fashion_mnist.load()
    tr = PairSet(x_train, y_train, train_pairs, seed, task, canvas)
    te = PairSet(x_test, y_test, test_pairs, seed + 1_000_003, task, canvas)
    return tr.x, tr.y, te.x, te.y
