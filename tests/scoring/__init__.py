"""Scoring: schemes, prompts, official wording, parsing replies, log-probabilities."""
