"""What a team can do: the team home page lists these, each only to members
whose role allows its action, and only once its page exists.

A helper adding a page (payments, notify, payment links...) adds its routes in
its own module and one ``Feature`` here; docs/console.md says how.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.console.domain.roles import Action


@dataclass(frozen=True)
class Feature:
    title: str  # an English message id, translated on the page
    description: str
    path: str  # under /teams/{team_id}
    action: Action  # who sees the link: those who may do this


FEATURES: tuple[Feature, ...] = (
    Feature(
        "Dashboard",
        "The last 7 days at a glance, and what needs attention.",
        "/dashboard",
        Action.VIEW_PAYMENTS,
    ),
    Feature(
        "Team members",
        "See who is in the team; administrators invite people and change roles.",
        "/members",
        Action.VIEW_TEAM,
    ),
    Feature(
        "Audit trail",
        "Every action taken in this team: who, what and when.",
        "/audit",
        Action.VIEW_AUDIT,
    ),
    Feature(
        "Payments",
        "Find payments, see what happened to each, export them and refund.",
        "/payments",
        Action.VIEW_PAYMENTS,
    ),
    Feature(
        "Webhooks",
        "Where payments sends your payments' events; their deliveries, test events.",
        "/webhooks",
        Action.MANAGE_WEBHOOKS,
    ),
    Feature(
        "Message templates",
        "Create, edit and preview the email and text message templates.",
        "/templates",
        Action.VIEW_NOTIFICATIONS,
    ),
    Feature(
        "Send a message",
        "Send one email or text message from a template.",
        "/send",
        Action.SEND_MESSAGES,
    ),
    Feature(
        "Usage today",
        "How many emails and text messages were sent today against the daily limits.",
        "/usage",
        Action.VIEW_NOTIFICATIONS,
    ),
    Feature(
        "Status callback",
        "Where notify sends your messages' delivery statuses; tests and redeliveries.",
        "/callbacks",
        Action.MANAGE_WEBHOOKS,
    ),
    Feature(
        "Payment links",
        "Pages where people pay a fee, with no code: make them, share them, pause them.",
        "/payment-links",
        Action.VIEW_PAYMENTS,
    ),
    Feature(
        "Send to a list",
        "Upload a CSV file or spreadsheet, check its rows, send them and follow the sending.",
        "/upload",
        Action.SEND_MESSAGES,
    ),
    Feature(
        "Notifications",
        "Find notifications by recipient, reference, template, status, date and bulk send.",
        "/notifications",
        Action.VIEW_NOTIFICATIONS,
    ),
    Feature(
        "Credentials",
        "Client secrets, keys and when each was last used.",
        "/credentials",
        Action.MANAGE_CREDENTIALS,
    ),
    Feature(
        "Sign-in settings",
        "Where citizens return, and the name and logo they see when they sign in.",
        "/sign-in-settings",
        Action.MANAGE_SETTINGS,
    ),
    Feature(
        "Go live",
        "Ask a platform operator to make the agency live.",
        "/go-live",
        Action.REQUEST_GO_LIVE,
    ),
)
