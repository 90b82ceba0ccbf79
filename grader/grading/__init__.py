"""Grading one submission, stage by stage (pipeline.STAGES): the lab's
description (lab), staging the files (stage), compiling them in a sandbox
(compile) and refusing what may not be linked (symbols), linking with the
tests (build), running each test alone in a sandbox (sandbox, cgroup, run)
and scoring the runs (score)."""
