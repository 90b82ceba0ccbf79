"""`./grade bench LAB`: a lab's benchmark, run for the reference and a
submission beside the machine's own baselines (measure), as a table, JSON
and a plot (report)."""
