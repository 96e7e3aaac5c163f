"""Entry point of `python -m zoopt bench projection` for a source checkout."""

import sys

from zoopt._bench import run_task

if __name__ == "__main__":
    sys.exit(run_task("projection", sys.argv[1:]))
