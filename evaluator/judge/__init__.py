"""The judge stage: the judge as a LightningModule on every rank (Qwen-VL loading, replicas, logit scoring), the
judge on an OpenAI-compatible server, and the judge from Python (``Judge``, ``JudgeValidation``)."""
