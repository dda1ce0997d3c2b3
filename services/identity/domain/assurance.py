"""Levels of assurance: what a sign-in proved, and whether it is enough.

``Cl`` is a password; ``Cl.Cm`` a password and a second factor, as GOV.UK One
Login's vectors of trust name them. A request for ``Cl.Cm`` is never satisfied
by a ``Cl`` session: the citizen is asked for the second factor (step-up).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

LOW = "Cl"
MEDIUM = "Cl.Cm"
LEVELS = (LOW, MEDIUM)
_RANK = {LOW: 1, MEDIUM: 2}


def amr_for(acr: str) -> list[str]:
    return ["pwd"] if acr == LOW else ["pwd", "otp", "mfa"]


def satisfies(session_acr: str, required: str) -> bool:
    return _RANK.get(session_acr, 0) >= _RANK[required]


def requested_level(acr_values: str | None, vtr: str | None) -> str | None:
    """The lowest level that satisfies the request, or None if it names none we
    support. ``acr_values`` lists acceptable values in order of preference
    (OIDC Core §3.1.2.1); ``vtr`` is One Login's JSON list of vectors."""
    candidates: Sequence[str]
    if vtr:
        try:
            parsed = json.loads(vtr)
        except ValueError:
            return None
        if not isinstance(parsed, list) or not all(isinstance(v, str) for v in parsed):
            return None
        candidates = parsed
    elif acr_values:
        candidates = acr_values.split()
    else:
        return LOW
    known = [c for c in candidates if c in _RANK]
    if not known:
        # acr_values is a voluntary request (OIDC Core §5.5.1.1); vtr is not.
        return None if vtr else LOW
    return min(known, key=lambda c: _RANK[c])
