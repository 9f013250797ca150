"""Inputs: manifests, benchmark layouts, images and the pre-flight check."""
