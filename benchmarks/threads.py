"""Entry point of `python -m zoopt bench threads` for a source checkout."""

import sys

from zoopt._bench import run_task

if __name__ == "__main__":
    sys.exit(run_task("threads", sys.argv[1:]))
