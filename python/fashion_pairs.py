"""Fashion-MNIST pairs on a large canvas: are the two items of the same class?

    pairs = fashion_pairs.PairSet(x, y, n=20000, seed=0)   # x, y from fashion_mnist.load()
    xb = pairs.x[idx]                                     # float32 [len(idx), 1, 112, 112]
    yb = pairs.y[idx]                                     # int64: 1 same class, 0 different

A task where a large kernel should matter (examples/fashion_pairs.yaml, python/grid_ablation.py):
each sample puts two 28x28 items (pixel / 255, in [0, 1]) on a 112x112 canvas of zeros, one in a
random quadrant and the other in the diagonally opposite one, each at a random offset inside its
quadrant, so their centres are 40 to 119 pixels apart. Half the pairs are of the same class, half
of two different classes (uniform over the other classes; `classes` restricts the classes drawn).
The label needs both items: a network that pools features globally before a linear head cannot
compare two far-apart items unless its convolutions carried one item's features to the other.

The canvases are composed on demand from the pairs' indices and offsets (20,000 stored canvases
would take 1 GB), deterministically for a seed.
"""

import numpy as np

CANVAS = 112
ITEM = 28
BACKGROUND = 0.0


class _Canvases:
    """x of a PairSet: indexing with an int array or a slice composes those canvases."""

    def __init__(self, pairs):
        self.p = pairs

    def __len__(self):
        return len(self.p.a)

    def __getitem__(self, idx):
        p = self.p
        idx = np.arange(len(p.a))[idx] if isinstance(idx, slice) else np.asarray(idx)
        out = np.full((len(idx), 1, p.canvas, p.canvas), BACKGROUND, np.float32)
        for k, i in enumerate(idx):
            for item, (r, c) in ((p.a[i], p.pos_a[i]), (p.b[i], p.pos_b[i])):
                out[k, 0, r:r + ITEM, c:c + ITEM] = p.images[item, 0] + 0.5
        return out


class PairSet:
    """n pairs drawn from images x [N, 1, 28, 28] with labels y [N]; .x composes canvases, .y is
    int64 [n] (1: same class), .classes the two items' classes [n, 2]."""

    def __init__(self, x, y, n, seed, canvas=CANVAS, classes=tuple(range(10))):
        if canvas < 2 * ITEM:
            raise ValueError(f"a canvas of {canvas} pixels cannot hold two {ITEM}-pixel items in opposite quadrants")
        if len(set(classes)) < 2 or not set(classes) <= set(range(10)):
            raise ValueError(f"classes must be at least two distinct Fashion-MNIST classes 0..9, got {classes}")
        rng = np.random.default_rng(seed)
        self.images, self.canvas = x, canvas
        classes = np.array(sorted(set(classes)))
        by_class = {c: np.flatnonzero(y == c) for c in classes}
        pool = np.concatenate([by_class[c] for c in classes])
        self.a = pool[rng.integers(0, len(pool), n)]
        same = rng.random(n) < 0.5
        rank = np.searchsorted(classes, y[self.a])  # b's class: a's, or one of the others uniformly
        other = classes[(rank + rng.integers(1, len(classes), n)) % len(classes)]
        class_b = np.where(same, y[self.a], other)
        self.b = np.array([by_class[c][rng.integers(len(by_class[c]))] for c in class_b], np.int64)
        half = canvas // 2
        quad = rng.integers(0, 4, n)  # item a's quadrant; item b goes to the opposite one (3 - quad)
        offsets = rng.integers(0, half - ITEM + 1, (n, 4))

        def corner(q, off):
            return np.stack([(q // 2) * half + off[:, 0], (q % 2) * half + off[:, 1]], axis=1)

        self.pos_a, self.pos_b = corner(quad, offsets[:, :2]), corner(3 - quad, offsets[:, 2:])
        self.y = same.astype(np.int64)
        self.classes = np.stack([y[self.a], y[self.b]], axis=1)
        self.x = _Canvases(self)


def load(train_pairs, test_pairs, seed=0, canvas=CANVAS, classes=tuple(range(10))):
    """(x_train, y_train, x_test, y_test) as train_fashion_mnist.train and evaluate take them:
    train pairs from the 60,000 training images, test pairs from the 10,000 test images, the same
    for every training seed (seed chooses the data only)."""
    import fashion_mnist

    x_train, y_train, x_test, y_test = fashion_mnist.load()
    tr = PairSet(x_train, y_train, train_pairs, seed, canvas, classes)
    te = PairSet(x_test, y_test, test_pairs, seed + 1_000_003, canvas, classes)
    return tr.x, tr.y, te.x, te.y
