"""The runtime: sharding, the strategy, tiny models, where a process sits."""
