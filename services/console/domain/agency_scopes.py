"""Which service scopes a page acting for a team's agency asks identity for.

The console calls payments and notify as the team's agency with a token from
token exchange (RFC 8693); each action gets the scopes its calls need and no
more, so a viewer's page holds a token that reads and never refunds. An action
that does not call payments or notify has no entry."""

from __future__ import annotations

from services.console.domain.roles import Action

SCOPES_FOR: dict[Action, tuple[str, ...]] = {
    Action.VIEW_PAYMENTS: ("payments:read",),
    Action.REFUND: ("payments:read", "payments:refund"),
    # Payment links and payments' webhook subscriptions are created with payments:create.
    Action.MANAGE_PAYMENT_LINKS: ("payments:create", "payments:read"),
    Action.MANAGE_WEBHOOKS: ("payments:create", "payments:read", "notify:templates"),
    Action.VIEW_NOTIFICATIONS: ("notify:read",),
    Action.MANAGE_TEMPLATES: ("notify:templates",),
    # Sending picks a template: notify:read lists them.
    Action.SEND_MESSAGES: ("notify:send", "notify:read"),
}


def scopes_for(action: Action) -> tuple[str, ...]:
    """The scopes of a token for ``action``; ``ValueError`` if it calls no service."""
    try:
        return SCOPES_FOR[action]
    except KeyError:
        raise ValueError(f"{action} does not call payments or notify") from None
