"""IPC Labs grader: stage, build, sandbox, run, score, report."""
