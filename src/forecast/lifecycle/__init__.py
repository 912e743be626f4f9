"""A process's life: signals that end a run like Ctrl-C, worker processes that die with their parent, threads per
job, and a job's outcome (its failure record, one line, the exit code)."""
