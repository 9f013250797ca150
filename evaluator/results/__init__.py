"""What a run leaves: the output folder, resume shards, the plan of what is left, summaries and headline numbers
as each benchmark computes them, paired comparisons, the HTML report and charts, leaderboards and exports."""
