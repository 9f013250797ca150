#!/usr/bin/env bash
# Score with one process per visible GPU (per K GPUs with trainer.gpus_per_replica=K): ./launch.sh [overrides...]
# The editing stage, or both stages in one job: ./launch.sh edit editor=... [overrides...], ./launch.sh pipeline ...
#   NPROC        processes on this node (default: visible GPUs / K, at least 1)
#   NNODES       nodes in the job (default 1); with more than one also set
#   NODE_RANK    this node's index, MASTER_ADDR (node 0's address) and MASTER_PORT (default 29500)
#   PYTHON       interpreter with the evaluator installed (default: python)
# Example: ./launch.sh model=qwen3_vl_30b_a3b data=manifest data.path=pairs.jsonl data.batch_size=2
set -euo pipefail

PYTHON=${PYTHON:-python}
MODULE=evaluator
case "${1:-}" in
  edit|pipeline) MODULE=evaluator.$1; shift ;;
esac
# trainer.gpus_per_replica=K spreads one judge over K GPUs: one process per K GPUs.
K=1
for arg in "$@"; do
  case "$arg" in trainer.gpus_per_replica=*) K=${arg#*=} ;; esac
done
GPUS=$("$PYTHON" -c 'import torch; print(torch.cuda.device_count())')
if [[ "$K" -gt 1 ]]; then
  if (( GPUS < K || GPUS % K )); then
    echo "launch.sh: $GPUS visible GPU(s) do not split into replicas of trainer.gpus_per_replica=$K" >&2
    exit 2
  fi
  NPROC=${NPROC:-$(( GPUS / K ))}
fi
NPROC=${NPROC:-$(( GPUS > 0 ? GPUS : 1 ))}
NNODES=${NNODES:-1}

if [[ "$NNODES" == 1 && -z "${MASTER_ADDR:-}" ]]; then
  # One node: torchrun finds a free port itself, so two jobs on one machine never collide.
  rendezvous=(--standalone)
else
  rendezvous=(--nnodes="$NNODES" --node_rank="${NODE_RANK:?set NODE_RANK for a multi-node job}"
              --master_addr="${MASTER_ADDR:?set MASTER_ADDR to node 0}" --master_port="${MASTER_PORT:-29500}")
fi

exec "$PYTHON" -m torch.distributed.run "${rendezvous[@]}" --nproc_per_node="$NPROC" -m "$MODULE" "$@"
