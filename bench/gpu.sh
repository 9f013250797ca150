#!/usr/bin/env bash
# The benchmark's GPU run, prepared: ./bench/gpu.sh [more bench arguments]
# Both real shapes (Qwen3-VL-8B and -30B-A3B, random weights), 1024x1024 pairs, then the mixed-size set for the
# 8B shape; about 6-7 minutes on one H100 or H200. Writes bench-*.json and bench.log into $OUT (or bench/).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-bench}
export PYTHONUNBUFFERED=1
python -m evaluator.bench --json "$out/bench-1024.json" --load-check "$@" 2>&1 | tee "$out/bench.log"
python -m evaluator.bench --json "$out/bench-mixed.json" --mixed --shapes qwen3_vl_8b "$@" 2>&1 | tee -a "$out/bench.log"
