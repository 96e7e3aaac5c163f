"""Entry point of `python -m zoopt bench bbob` for a source checkout."""

import sys

from zoopt._bench import run_task

if __name__ == "__main__":
    sys.exit(run_task("bbob", sys.argv[1:]))
