"""Policy problems and their one renderer, shared by the CLI, the API and the UI.

A problem is a position in a policy file, a message saying what is wrong and, where we can tell, a hint
saying what to write instead. Problems are collected, never raised one by one: `load()` reports them all at
once, sorted by position, compiler-style:

    policy.yaml:7:11: unknown action 'blok'
          - blok
            ^^^^
      hint: did you mean 'block'?
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tutela.errors import TutelaError


@dataclass(frozen=True, slots=True)
class Span:
    """Where something is in a policy file: 1-based line and column, and how many characters it covers."""

    line: int
    col: int
    length: int = 1


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    """One error in a policy file. `source_line` is the text of that line, for the caret display."""

    file: str
    line: int
    col: int
    message: str
    hint: str | None = None
    length: int = 1
    source_line: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The API form: {file, line, col, message, hint}."""
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "message": self.message,
            "hint": self.hint,
        }


class PolicyError(TutelaError):
    """A policy file with errors; `problems` lists every one of them and `str()` is the rendered report."""

    def __init__(self, problems: list[PolicyProblem]) -> None:
        self.problems = problems
        super().__init__(render_text(problems))


class Problems:
    """Collects problems for one source file while it is parsed and checked."""

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self._lines = text.splitlines()
        self._items: list[PolicyProblem] = []

    def add(self, span: Span, message: str, hint: str | None = None) -> None:
        line_text = self._lines[span.line - 1] if 0 < span.line <= len(self._lines) else None
        self._items.append(
            PolicyProblem(self.file, span.line, span.col, message, hint, max(span.length, 1), line_text)
        )

    def sorted(self) -> list[PolicyProblem]:
        return sorted(self._items, key=lambda p: (p.line, p.col, p.message))

    def __bool__(self) -> bool:
        return bool(self._items)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A hint naming the closest known word, or listing the known words when none is close."""
    known = sorted(choices)
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return "expected one of: " + ", ".join(known)


def render_text(problems: list[PolicyProblem]) -> str:
    """The compiler-style report: location and message, the source line with a caret, the hint; a summary."""
    out: list[str] = []
    for problem in problems:
        out.append(f"{problem.file}:{problem.line}:{problem.col}: {problem.message}")
        if problem.source_line is not None:
            out.append("    " + problem.source_line.rstrip())
            out.append("    " + " " * (problem.col - 1) + "^" * problem.length)
        if problem.hint:
            out.append(f"  hint: {problem.hint}")
    count = len(problems)
    out.append(f"{count} error{'s' if count != 1 else ''}")
    return "\n".join(out)


def render_json(problems: list[PolicyProblem]) -> list[dict[str, Any]]:
    """The JSON form of a report: a list of {file, line, col, message, hint}."""
    return [problem.to_json() for problem in problems]
