"""The judge: the LightningModule, loading, logits, replicas, the server backend and the Python API."""
