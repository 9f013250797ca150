"""The throughput benchmark, in its CPU smoke form."""
