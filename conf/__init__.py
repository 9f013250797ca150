"""The shipped Hydra configs (``pkg://evaluator.conf``); a package so that the wheel carries them."""
