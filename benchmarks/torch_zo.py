"""Entry point of `python -m zoopt bench torch` for a source checkout."""

import sys

from zoopt._bench import run_task

if __name__ == "__main__":
    sys.exit(run_task("torch", sys.argv[1:]))
