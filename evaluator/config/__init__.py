"""The run config: its schema (every key, with its default), composing it with Hydra, and the checks that catch a
user's mistakes in one line before torch, Lightning or transformers load."""
