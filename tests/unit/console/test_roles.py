"""The permission matrix, cell by cell: every role against every action, with and
without the refunder permission."""

from __future__ import annotations

import pytest

from services.console.domain.roles import Action, Role, allowed_actions, may, parse_role

A = Action
EXPECTED: dict[Role, set[Action]] = {
    Role.ADMINISTRATOR: {
        A.VIEW_TEAM, A.VIEW_AUDIT, A.VIEW_PAYMENTS, A.VIEW_NOTIFICATIONS,
        A.INVITE_MEMBER, A.CHANGE_ROLE, A.REMOVE_MEMBER, A.MANAGE_SETTINGS, A.REQUEST_GO_LIVE,
        A.MANAGE_CREDENTIALS, A.MANAGE_WEBHOOKS, A.MANAGE_TEMPLATES, A.SEND_MESSAGES,
        A.MANAGE_PAYMENT_LINKS,
    },
    Role.DEVELOPER: {
        A.VIEW_TEAM, A.VIEW_AUDIT, A.VIEW_PAYMENTS, A.VIEW_NOTIFICATIONS,
        A.MANAGE_CREDENTIALS, A.MANAGE_WEBHOOKS, A.MANAGE_TEMPLATES,
    },
    Role.SENDER: {
        A.VIEW_TEAM, A.VIEW_AUDIT, A.VIEW_PAYMENTS, A.VIEW_NOTIFICATIONS,
        A.MANAGE_TEMPLATES, A.SEND_MESSAGES, A.MANAGE_PAYMENT_LINKS,
    },
    Role.VIEWER: {A.VIEW_TEAM, A.VIEW_AUDIT, A.VIEW_PAYMENTS, A.VIEW_NOTIFICATIONS},
}  # fmt: skip


@pytest.mark.parametrize("refunder", [False, True])
@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", list(Role))
def test_each_cell_of_the_matrix(role: Role, action: Action, refunder: bool) -> None:
    expected = (action in EXPECTED[role]) or (action is Action.REFUND and refunder)
    assert may(role, action, refunder=refunder) is expected


def test_only_the_refunder_permission_refunds_whatever_the_role() -> None:
    for role in Role:
        assert not may(role, Action.REFUND)
        assert may(role, Action.REFUND, refunder=True)
        assert allowed_actions(role, refunder=True) == allowed_actions(role) | {Action.REFUND}


def test_a_viewer_only_reads() -> None:
    assert all(a.value.startswith("view_") for a in allowed_actions(Role.VIEWER))


def test_roles_parse_from_their_values_only() -> None:
    assert [parse_role(r.value) for r in Role] == list(Role)
    assert parse_role("Administrator") is None
    assert parse_role("owner") is None
    assert parse_role("") is None
