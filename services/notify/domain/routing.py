"""Weighted failover between SMS providers.

Each provider has a configured weight. A failure halves its health (down to a
floor, so it still gets a trickle of traffic and can recover); a success
restores it step by step. The order tried for one message is a weighted random
draw over ``weight * health`` without replacement, so traffic shifts away from a
provider that keeps failing and the others take it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

FLOOR = 1 / 64


@dataclass
class WeightedRouter:
    weights: dict[str, float]
    rng: random.Random = field(default_factory=random.Random)
    health: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.weights or any(w <= 0 for w in self.weights.values()):
            raise ValueError("every provider needs a positive weight")
        self.health = dict.fromkeys(self.weights, 1.0)

    def effective(self, name: str) -> float:
        return self.weights[name] * self.health[name]

    def order(self) -> Sequence[str]:
        left = list(self.weights)
        chosen: list[str] = []
        while left:
            pick = self.rng.choices(left, weights=[self.effective(n) for n in left])[0]
            chosen.append(pick)
            left.remove(pick)
        return chosen

    def failed(self, name: str) -> None:
        self.health[name] = max(FLOOR, self.health[name] / 2)

    def succeeded(self, name: str) -> None:
        self.health[name] = min(1.0, self.health[name] * 2)
