"""One gradient estimate against hand-written NumPy, evosax and EvoTorch."""

import sys

from zoopt._bench import run_task

if __name__ == "__main__":
    sys.exit(run_task("grad", sys.argv[1:]))
