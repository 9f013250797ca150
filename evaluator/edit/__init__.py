"""The editing stage: a diffusers editing pipeline on every rank, writing its edits in the layout the judge reads;
``python -m evaluator.edit``, and ``python -m evaluator.pipeline`` (edit, then judge)."""
