"""Levels of assurance (services/identity/domain/assurance.py): what a sign-in
proved (``amr``), whether a session's level is enough for a request, and which
level an authorization request asks for through ``acr_values`` or ``vtr``."""

from __future__ import annotations

import pytest

from services.identity.domain import assurance
from services.identity.domain.assurance import LOW, MEDIUM


def test_the_levels_are_one_login_vectors_lowest_first() -> None:
    assert (LOW, MEDIUM) == ("Cl", "Cl.Cm")
    assert assurance.LEVELS == ("Cl", "Cl.Cm")


@pytest.mark.parametrize(
    ("acr", "amr"),
    [
        ("Cl", ["pwd"]),
        ("Cl.Cm", ["pwd", "otp", "mfa"]),
    ],
)
def test_amr_names_the_methods_each_level_used(acr: str, amr: list[str]) -> None:
    assert assurance.amr_for(acr) == amr


@pytest.mark.parametrize(
    ("session", "required", "enough"),
    [
        ("Cl", "Cl", True),
        ("Cl.Cm", "Cl", True),
        ("Cl.Cm", "Cl.Cm", True),
        # step-up: a password alone never satisfies a request for a second factor
        ("Cl", "Cl.Cm", False),
        # a session whose level is unknown (or empty) satisfies nothing
        ("", "Cl", False),
        ("P2", "Cl", False),
        ("cl", "Cl", False),
        ("P2", "Cl.Cm", False),
    ],
)
def test_a_session_satisfies_a_requirement_at_or_below_its_level(
    session: str, required: str, enough: bool
) -> None:
    assert assurance.satisfies(session, required) is enough


def test_an_unknown_required_level_is_a_programming_error() -> None:
    with pytest.raises(KeyError):
        assurance.satisfies("Cl.Cm", "P2")


@pytest.mark.parametrize(
    ("acr_values", "vtr", "level"),
    [
        # nothing asked: a password is enough
        (None, None, "Cl"),
        ("", None, "Cl"),
        (None, "", "Cl"),
        ("", "", "Cl"),
        # acr_values: the lowest acceptable level we support
        ("Cl", None, "Cl"),
        ("Cl.Cm", None, "Cl.Cm"),
        ("Cl.Cm Cl", None, "Cl"),
        ("Cl Cl.Cm", None, "Cl"),
        ("P2 Cl.Cm", None, "Cl.Cm"),
        ("  Cl.Cm  ", None, "Cl.Cm"),
        # acr_values is voluntary (OIDC Core §5.5.1.1): unknown values fall back to Cl
        ("P2", None, "Cl"),
        ("cl.cm", None, "Cl"),
        # vtr: One Login's JSON list of vectors
        (None, '["Cl"]', "Cl"),
        (None, '["Cl.Cm"]', "Cl.Cm"),
        (None, '["Cl.Cm", "Cl"]', "Cl"),
        (None, '["P2", "Cl.Cm"]', "Cl.Cm"),
        # vtr wins over acr_values when both are sent
        ("Cl", '["Cl.Cm"]', "Cl.Cm"),
        ("Cl.Cm", '["Cl"]', "Cl"),
        ("Cl", '["P2"]', None),
        # a vtr that names no supported level is refused, not lowered
        (None, '["P2"]', None),
        (None, "[]", None),
        (None, '"Cl"', None),
        (None, '{"Cl": true}', None),
        (None, '["Cl", 2]', None),
        (None, "[Cl]", None),
        (None, "not json", None),
    ],
)
def test_requested_level_is_the_lowest_supported_level_asked_for(
    acr_values: str | None, vtr: str | None, level: str | None
) -> None:
    assert assurance.requested_level(acr_values, vtr) == level
