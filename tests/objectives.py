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
