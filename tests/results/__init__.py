"""Results: the output folder, resume, summaries, headlines, reports, comparisons and exports."""
