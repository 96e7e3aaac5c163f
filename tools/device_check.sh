#!/usr/bin/env bash
# The device check: everything zoopt's GPU backend needs a real GPU for, in one
# command, for a machine that reaches no package registry.  Each step runs under
# `timeout`, cut to what is left of a 470 s budget, so the whole stays under 8
# minutes.  Logs go to $OUT (default: a new temporary directory); the summary is
# $OUT/summary.txt.
#
#   OUT=/some/dir bash tools/device_check.sh
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
summary="$OUT/summary.txt"
: > "$summary"
export ZOOPT_CACHE_DIR="$OUT/kernel-cache"
# compute-sanitizer and nvcc usually live in the toolkit, off the default PATH
for d in /usr/local/cuda/bin /usr/local/cuda/compute-sanitizer; do
    [ -d "$d" ] && PATH="$PATH:$d"
done
export PATH
start=$(date +%s)
BUDGET=470

step() {  # step NAME SECONDS COMMAND...
    local name=$1 limit=$2
    shift 2
    local left=$(( BUDGET - ($(date +%s) - start) ))
    if [ "$left" -lt 10 ]; then
        echo "$name: skipped, the time budget is spent" | tee -a "$summary"
        return 124
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    local t0
    t0=$(date +%s)
    timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
    local rc=$?
    echo "$name: rc=$rc in $(( $(date +%s) - t0 )) s (limit $limit s)" | tee -a "$summary"
    tail -n 3 "$OUT/$name.log" | sed 's/^/    /' | tee -a "$summary"
    return $rc
}

step machine 20 bash -c 'nvidia-smi; python -c "import sys, numpy, cupy; print(sys.version); \
print(\"numpy\", numpy.__version__, \"cupy\", cupy.__version__)"; nvcc --version | tail -1'

# Build: a pip build without isolation, else the in-place build (no setuptools needed).
if ! step build-pip 120 python -m pip install --no-build-isolation --no-deps .; then
    step build-inplace 90 python tools/build_inplace.py
    export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
fi

step info 30 python -m zoopt info
# the device tests need no Hypothesis and no conftest (the test extra may be absent)
step pytest-gpu 120 python -m pytest --noconftest -m gpu -p no:cacheprovider -q -rs \
    -o addopts="" -o filterwarnings=default tests/test_gpu_device.py
step probes 30 python tools/device_probes.py
if command -v compute-sanitizer > /dev/null; then
    # the kernels use no shared memory, so memcheck is the check that applies
    step memcheck 60 compute-sanitizer --tool memcheck --error-exitcode 3 \
        python tools/device_probes.py --small
else
    echo "compute-sanitizer: not installed, skipped" | tee -a "$summary"
fi
step bench-gpu 90 python -m zoopt bench gpu
echo "total: $(( $(date +%s) - start )) s; logs in $OUT" | tee -a "$summary"
