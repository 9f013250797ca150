"""The throughput benchmark: ``python -m evaluator.bench``."""
