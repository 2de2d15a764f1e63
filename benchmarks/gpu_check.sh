#!/usr/bin/env bash
# GPU check of the device backend (simulator/_torch_backend.py): one prepared script.
#
#   benchmarks/gpu_check.sh OUT.json
#
# On a machine with one NVIDIA GPU and the project installed (a CUDA build of torch), from any
# directory. In about 2-3 minutes (hard limits add up to 3m40s; numba compiles its kernels cold
# on a fresh machine, inside the benchmark's limit) it
#   1. runs `python -m benchmarks.throughput --device cuda --agents 1e6,1e7,1e8` with the numba CPU
#      path measured in the same run at 1e6 agents (round-robin with the GPU at that size), the
#      per-family mismatch rates against the numba path, the optional fused Triton kernel (rate
#      and agreement with the eager path, or why it did not run), every family on the GPU and GPU
#      determinism; the JSON goes to OUT.json (checkpointed after every section, so a run cut
#      short by its time limit still leaves what it measured, with "complete": false);
#   2. runs the `gpu` tests of tests/simulator/test_device_backend.py (CUDA vs numba per family on
#      10,000 agents x 200 rounds, CUDA vs torch-cpu bit for bit, memory refusal, determinism, the
#      fused kernel vs the eager path); the CPU tests of that file run in CI;
#   3. adds a "gpu_check" entry to OUT.json: test outcome, per-family mismatch rates the tests
#      printed, return codes and wall time. The pytest log is written next to it (OUT.pytest.txt).
# Exit status: 0 when the benchmark completed and every test passed.
#
# Environment: PYTHON (interpreter, default `python`); for a dry run of this script on a machine
# without a GPU: DEVICE=torch-cpu AGENTS=2e3,2e4 CPU_AGENTS=2e3 TEST_MARKER="not slow" (the gpu
# tests skip themselves there). BENCH_LIMIT_S / TEST_LIMIT_S change the time limits (170 s, 50 s).
set -uo pipefail

out="${1:?usage: benchmarks/gpu_check.sh OUT.json}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
py="${PYTHON:-python}"
device="${DEVICE:-cuda}"
agents="${AGENTS:-1e6,1e7,1e8}"
cpu_agents="${CPU_AGENTS:-1e6}"
bench_limit="${BENCH_LIMIT_S:-170}"
test_limit="${TEST_LIMIT_S:-50}"
log="${out%.json}.pytest.txt"
mkdir -p "$(dirname "$out")"
cd "$root" || exit 2
start=$(date +%s)

if [ "$device" != "torch-cpu" ]; then
    if ! "$py" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
        echo "gpu_check: torch.cuda.is_available() is False with $py; this check needs an NVIDIA GPU" >&2
        exit 3
    fi
fi
"$py" -c 'import torch; print("gpu_check: torch", torch.__version__, "cuda", torch.version.cuda,
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "(no GPU)")'

echo "gpu_check: benchmark, device $device, agents $agents, CPU reference at $cpu_agents (limit ${bench_limit}s)"
timeout "$bench_limit" "$py" -m benchmarks.throughput --device "$device" --agents "$agents" \
    --cpu-agents "$cpu_agents" --rounds 5 --repeats 5 --warmup 2 --determinism-rounds 5 \
    --out "$out" > /dev/null
bench_rc=$?

echo "gpu_check: tests (limit ${test_limit}s), log in $log"
marker="${TEST_MARKER:-gpu}"
timeout "$test_limit" "$py" -m pytest tests/simulator/test_device_backend.py -m "$marker" -q -rA \
    -p no:cacheprovider > "$log" 2>&1
test_rc=$?
tail -n 3 "$log"

"$py" - "$out" "$log" "$bench_rc" "$test_rc" "$start" <<'EOF'
import json, re, sys, time
from pathlib import Path

out, log, bench_rc, test_rc, start = sys.argv[1:]
path = Path(out)
data = json.loads(path.read_text()) if path.exists() else {"complete": False}
text = Path(log).read_text(errors="replace") if Path(log).exists() else ""
lines = [line for line in text.splitlines() if line.strip()]
rates = {}
for dev, fam, rate in re.findall(r"^(cuda )?(\w+): mismatch rate ([0-9.e+-]+)", text, flags=re.M):
    rates.setdefault("cuda" if dev else "torch-cpu", {})[fam] = float(rate)
data["gpu_check"] = {
    "benchmark_returncode": int(bench_rc),
    "benchmark_complete": bool(data.get("complete")),
    "tests_returncode": int(test_rc),
    "tests_summary": lines[-1] if lines else "",
    "tests_failed": [line for line in lines if line.startswith(("FAILED", "ERROR"))],
    "tests_mismatch_rates_10k_agents_200_rounds": rates,
    "wall_s": time.time() - float(start),
}
path.write_text(json.dumps(data, indent=2) + "\n")
print("gpu_check:", json.dumps(data["gpu_check"]))
s = data.get("summary", {})
for key in ("agent_steps_per_s_by_size", "cpu_agent_steps_per_s", "device_speedup_vs_cpu_same_size", "mismatch_rate"):
    if key in s:
        print(f"gpu_check: {key} = {s[key]}")
EOF

if [ "$bench_rc" -ne 0 ] || [ "$test_rc" -ne 0 ]; then
    echo "gpu_check: FAILED (benchmark rc $bench_rc, tests rc $test_rc); see $out and $log" >&2
    exit 1
fi
echo "gpu_check: ok in $(( $(date +%s) - start ))s; wrote $out"
