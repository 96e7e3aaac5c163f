"""Module-level objectives (picklable, for process executors and Dask)."""

import time

import numpy as np


def sphere(X):
    return (X * X).sum(axis=1)


def shifted_abs(X):
    return np.abs(X - 0.3).sum(axis=1) + (X * X).sum(axis=1)


def boom(X):
    raise RuntimeError("objective failed on a worker")


def slow_sphere(X):
    time.sleep(0.02 * len(X))
    return (X * X).sum(axis=1)


class DieOnce:
    """Kills the process evaluating it the first time (a lost worker), then behaves
    as ``shifted_abs``; the flag file remembers across processes."""

    def __init__(self, flag):
        self.flag = str(flag)

    def __call__(self, X):
        import os

        if not os.path.exists(self.flag):
            with open(self.flag, "w") as fh:
                fh.write("died")
            os._exit(1)
        return shifted_abs(X)
