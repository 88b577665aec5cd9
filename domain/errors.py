"""Domain errors: plain exceptions ending in ``Error``, with no HTTP codes (style.md §8)."""

from __future__ import annotations

from dataclasses import dataclass


class DomainError(Exception):
    """Base of every error the domain raises."""


@dataclass(frozen=True, slots=True)
class InputIssue:
    """One problem with the input.

    Attributes:
        path: Where it is, as a JSON-style path into the facts, e.g. ``labs[0].unit``.
        reason: What is wrong, in plain words.
    """

    path: str
    reason: str


class InputError(DomainError):
    """The facts cannot be evaluated: an impossible value, an unknown unit or code.

    Inconsistent input is rejected at the edge; the engine never guesses (style.md §4).
    """

    def __init__(self, issues: list[InputIssue] | tuple[InputIssue, ...]) -> None:
        self.issues: tuple[InputIssue, ...] = tuple(issues)
        super().__init__("; ".join(f"{i.path}: {i.reason}" for i in self.issues))


class CatalogError(DomainError):
    """The rule catalogue is inconsistent and refuses to load."""


class PolicyError(DomainError):
    """A local-policy override is malformed (names the offending key)."""


class RuleNotFoundError(DomainError):
    """No rule with that ID exists in the catalogue."""
