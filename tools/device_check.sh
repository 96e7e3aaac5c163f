#!/usr/bin/env bash
# The device check: everything zoopt's GPU backend needs a real GPU for, in one
# command, for a machine that reaches no package registry.  Each step runs under
# `timeout`; all of it stays under 8 minutes.  Logs go to $OUT (default: a new
# temporary directory); the summary is $OUT/summary.txt.
#
#   OUT=/some/dir bash tools/device_check.sh
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
summary="$OUT/summary.txt"
: > "$summary"
export ZOOPT_CACHE_DIR="$OUT/kernel-cache"
start=$(date +%s)

step() {  # step NAME SECONDS COMMAND...
    local name=$1 limit=$2
    shift 2
    local t0=$(date +%s)
    timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
    local rc=$?
    local line="$name: rc=$rc in $(( $(date +%s) - t0 )) s"
    echo "$line" | tee -a "$summary"
    tail -n 3 "$OUT/$name.log" | sed 's/^/    /' | tee -a "$summary"
    return $rc
}

step machine 30 bash -c 'nvidia-smi; python -c "import sys, numpy, cupy; print(sys.version); \
print(\"numpy\", numpy.__version__, \"cupy\", cupy.__version__)"; nvcc --version | tail -1'

# Build: a pip build without isolation, else the in-place build (no setuptools needed).
if ! step build-pip 240 python -m pip install --no-build-isolation --no-deps .; then
    step build-inplace 240 python tools/build_inplace.py
    export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
fi

step info 60 python -m zoopt info
# the device tests need no Hypothesis and no conftest (the test extra may be absent)
step pytest-gpu 240 python -m pytest --noconftest -m gpu -p no:cacheprovider -q -rs \
    -o addopts="" -o filterwarnings=default tests/test_gpu_device.py
step probes 60 python tools/device_probes.py
if command -v compute-sanitizer > /dev/null; then
    step memcheck 120 compute-sanitizer --tool memcheck --error-exitcode 3 \
        python tools/device_probes.py --small
    step racecheck 120 compute-sanitizer --tool racecheck --error-exitcode 3 \
        python tools/device_probes.py --small
else
    echo "compute-sanitizer: not installed, skipped" | tee -a "$summary"
fi
step bench-gpu 180 python -m zoopt bench gpu
echo "total: $(( $(date +%s) - start )) s; logs in $OUT" | tee -a "$summary"
