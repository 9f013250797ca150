"""How a reply becomes a score, the same for every backend: judging schemes, prompts (ours and the benchmarks'
official ones), parsing replies, score distributions from log-probabilities, and the result row."""
