"""``python -m evaluator.bench`` (one GPU) or ``python -m evaluator.bench --tiny`` (CPU): the throughput benchmark;
see ``evaluator.bench.throughput``."""

from evaluator.bench.throughput import main
from evaluator.runtime import logs

if __name__ == "__main__":
    logs.setup("INFO")
    main()
