"""Data-parallel vision-language-judge evaluator for image editing.

``python -m evaluator`` scores a data set; from Python, ``Judge`` scores lists of pairs and ``JudgeValidation``
scores a training loop's validation edits.
"""

__all__ = ["Judge", "JudgeValidation"]


def __getattr__(name: str):
    # Imported on first use: `python -m evaluator` and the tests should not pay for what they do not touch.
    if name == "Judge":
        from evaluator.judge.python_api import Judge

        return Judge
    if name == "JudgeValidation":
        from evaluator.judge.callback import JudgeValidation

        return JudgeValidation
    raise AttributeError(f"module 'evaluator' has no attribute {name!r}")
