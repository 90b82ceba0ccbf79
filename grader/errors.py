"""The one kind of error the grader reports to people: what happened, and a
tip when there is a known fix. A GraderError is never the student's fault."""

from __future__ import annotations


class GraderError(Exception):
    def __init__(self, message: str, tip: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.tip = tip
