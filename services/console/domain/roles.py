"""Who may do what in a team: the console's permission matrix.

Pure functions over two enums, so every cell is unit tested. The server checks
``may`` before every action; pages only use it to decide which links to show.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMINISTRATOR = "administrator"
    DEVELOPER = "developer"
    SENDER = "sender"
    VIEWER = "viewer"


class Action(StrEnum):
    # reading
    VIEW_TEAM = "view_team"
    VIEW_AUDIT = "view_audit"
    VIEW_PAYMENTS = "view_payments"
    VIEW_NOTIFICATIONS = "view_notifications"
    # the team itself (administrators)
    INVITE_MEMBER = "invite_member"
    CHANGE_ROLE = "change_role"
    REMOVE_MEMBER = "remove_member"
    MANAGE_SETTINGS = "manage_settings"
    REQUEST_GO_LIVE = "request_go_live"
    # building the service (developers and administrators)
    MANAGE_CREDENTIALS = "manage_credentials"
    MANAGE_WEBHOOKS = "manage_webhooks"
    # running the service
    MANAGE_TEMPLATES = "manage_templates"
    SEND_MESSAGES = "send_messages"
    MANAGE_PAYMENT_LINKS = "manage_payment_links"
    # the refunder permission, on top of any role
    REFUND = "refund"


_READ = frozenset(
    {Action.VIEW_TEAM, Action.VIEW_AUDIT, Action.VIEW_PAYMENTS, Action.VIEW_NOTIFICATIONS}
)
_DEVELOPER = _READ | {
    Action.MANAGE_CREDENTIALS,
    Action.MANAGE_WEBHOOKS,
    Action.MANAGE_TEMPLATES,
}
_SENDER = _READ | {
    Action.MANAGE_TEMPLATES,
    Action.SEND_MESSAGES,
    Action.MANAGE_PAYMENT_LINKS,
}
_ADMINISTRATOR = (
    _DEVELOPER
    | _SENDER
    | {
        Action.INVITE_MEMBER,
        Action.CHANGE_ROLE,
        Action.REMOVE_MEMBER,
        Action.MANAGE_SETTINGS,
        Action.REQUEST_GO_LIVE,
    }
)
ALLOWED: dict[Role, frozenset[Action]] = {
    Role.ADMINISTRATOR: _ADMINISTRATOR,
    Role.DEVELOPER: _DEVELOPER,
    Role.SENDER: _SENDER,
    Role.VIEWER: _READ,
}
# Only the refunder permission grants REFUND, whatever the role: moving money
# back is a separate trust, given person by person.
assert all(Action.REFUND not in actions for actions in ALLOWED.values())


def may(role: Role, action: Action, *, refunder: bool = False) -> bool:
    """Whether a member with ``role`` (and the refunder permission or not) may ``action``."""
    if action is Action.REFUND:
        return refunder
    return action in ALLOWED[role]


def allowed_actions(role: Role, *, refunder: bool = False) -> frozenset[Action]:
    return frozenset(a for a in Action if may(role, a, refunder=refunder))


def parse_role(value: str) -> Role | None:
    try:
        return Role(value)
    except ValueError:
        return None
