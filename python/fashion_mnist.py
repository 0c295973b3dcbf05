"""Fashion-MNIST from Debian's dataset-fashion-mnist package (idx files, gzip), as numpy arrays.

    x_train, y_train, x_test, y_test = fashion_mnist.load()
x: float32 [N, 1, 28, 28] with values pixel / 255 - 0.5 (the preprocessing every script here
uses, for the PyTorch module and the compiled model alike); y: int64 [N] class indices 0..9.
"""

import gzip
import os

import numpy as np

DIR = "/usr/share/datasets/fashion-mnist"
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot")


def _idx(path):
    """An idx file: magic 0x0000 0x08 (ubyte) ndim, then ndim big-endian u32 sizes, then data."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an idx file of unsigned bytes")
    ndim = raw[3]
    shape = tuple(int(v) for v in np.frombuffer(raw, ">u4", ndim, 4))
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: {data.size} bytes of data for shape {shape}")
    return data.reshape(shape)


def load(directory=DIR):
    """(x_train, y_train, x_test, y_test); raises FileNotFoundError naming the package if absent."""
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{directory} not found: install the Debian package dataset-fashion-mnist")

    def images(name):
        return (_idx(os.path.join(directory, name)).astype(np.float32) / 255.0 - 0.5)[:, None]

    def labels(name):
        return _idx(os.path.join(directory, name)).astype(np.int64)

    return (images("train-images-idx3-ubyte.gz"), labels("train-labels-idx1-ubyte.gz"),
            images("t10k-images-idx3-ubyte.gz"), labels("t10k-labels-idx1-ubyte.gz"))
