#!/usr/bin/env bash
# The benchmark's GPU run, prepared: ./bench/gpu.sh [more bench arguments]
# Both real shapes (Qwen3-VL-8B and -30B-A3B, random weights), 1024x1024 pairs, then the mixed-size set for the
# 8B shape: transformers' generate and logit mode, about 6-7 minutes on one H100 or H200. Then, where vLLM is
# installed (VLLM_PYTHON: its interpreter, default this one), backend=vllm on the 8B shape in both modes (random
# weights: --load-format dummy). Writes bench-*.json and bench.log into $OUT (or bench/).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-bench}
export PYTHONUNBUFFERED=1
python -m evaluator.bench --json "$out/bench-1024.json" --load-check "$@" 2>&1 | tee "$out/bench.log"
python -m evaluator.bench --json "$out/bench-mixed.json" --mixed --shapes qwen3_vl_8b "$@" 2>&1 | tee -a "$out/bench.log"
vllm_python=${VLLM_PYTHON:-python}
if "$vllm_python" -c "import vllm" 2>/dev/null; then
  python -m evaluator.bench.served --shape qwen3_vl_8b --samples 256 --vllm-python "$(command -v "$vllm_python")" \
    --json "$out/bench-vllm.json" 2>&1 | tee -a "$out/bench.log"
else
  echo "backend=vllm not measured: no vLLM in $vllm_python (set VLLM_PYTHON)" | tee -a "$out/bench.log"
fi
