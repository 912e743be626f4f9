"""A verdict on a claim: supported, not supported, or inconclusive, with the evidence behind it."""

from __future__ import annotations

from dataclasses import dataclass

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive on this data"


@dataclass
class Verdict:
    claim: str
    verdict: str
    evidence: str
