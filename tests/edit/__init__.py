"""The editing stage: the diffusers pipeline, its layouts, its module and its stage."""
