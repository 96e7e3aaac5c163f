"""Low-rank populations in one batched forward against plain inference and full-rank members."""

import sys

from zoopt._bench import run_task

if __name__ == "__main__":
    sys.exit(run_task("lowrank", sys.argv[1:]))
