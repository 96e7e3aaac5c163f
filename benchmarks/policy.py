"""Categorical REINFORCE against hand-written NumPy."""

import sys

from zoopt._bench import run_task

if __name__ == "__main__":
    sys.exit(run_task("policy", sys.argv[1:]))
