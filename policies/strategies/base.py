"""The one-method interface every `prefer` strategy implements."""

from __future__ import annotations

from typing import Protocol

from policies.candidate import Candidate, RankContext

__all__ = ["Strategy"]


class Strategy(Protocol):
    """Orders a route's surviving candidates; the first is tried first."""

    name: str

    def rank(self, candidates: list[Candidate], context: RankContext) -> list[Candidate]: ...
