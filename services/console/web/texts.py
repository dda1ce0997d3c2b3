"""Words the pages show that are not in a template: what each audited action is
called, and the messages use cases and pages raise. All are message ids of the
catalogue (``locales/zh_Hans``); a unit test checks each one is translated."""

from __future__ import annotations

AUDIT_ACTIONS = {
    "sign_up_agency": "Signed up the agency",
    "invite_member": "Invited someone",
    "accept_invitation": "Accepted an invitation",
    "change_role": "Changed a member's role",
    "remove_member": "Removed a member",
    "seed_administrator": "Made an administrator (platform set-up)",
}
NAMES = ("administrator", "developer", "sender", "viewer", "test", "live")
MESSAGES: tuple[str, ...] = (
    "Page not found",
    "This page has expired or the form was sent twice. Please try again.",
    "You did not finish signing in. Please try again.",
    "Sorry, the service is unavailable. Please try again later.",
    "Your role in this team does not allow this",
    "A team must keep at least one administrator",
    "That person is already in the team",
    "You are already in this team",
    "This invitation is for another email address: sign in as the person invited",
    "Verify your email address with GaaP first",
    "Enter the agency's name",
    "The name must be 200 characters or fewer, without controls",
    "Enter an email address",
    "Enter an email address like name@example.com",
    "Choose a role",
    "This invitation has expired or has already been used",
)
# Not-found messages worth showing as they are (others show as "Page not found").
SHOWN_NOT_FOUND = frozenset({"This invitation has expired or has already been used"})

# The payment pages (web/payment_pages.py, service_layer/payments_console.py).
AUDIT_ACTIONS["refund"] = "Refunded a payment"
MESSAGES += (
    "Choose a state from the list",
    "The reference is 255 characters or fewer",
    "Enter a date like 2026-01-31",
    "The end date is before the start date",
    "This page of results no longer exists",
    "The amount is more than is left to refund",
    "Someone refunded this payment meanwhile: check the amount left and try again",
    "This payment cannot be refunded",
    "This page has expired. Please start again.",
    "Enter an amount like 12.50, more than zero",
    "Enter the card's last 4 digits",
    "Enter the URL",
    "Choose event types from the list",
    "Enter an https URL (http only for localhost) like https://…",
    "This subscription is disabled",
    "Enter a currency code like GBP",
    "A report covers at most 366 days",
)
AUDIT_ACTIONS.update(
    {
        "create_webhook": "Added a payments webhook",
        "disable_webhook": "Disabled a payments webhook",
        "test_webhook": "Sent a test webhook event",
        "redeliver_webhook": "Sent a webhook delivery again",
    }
)

# The notify pages (web/notify_pages.py, service_layer/message_templates.py,
# sending_messages.py, status_callbacks.py).
AUDIT_ACTIONS.update(
    {
        "create_template": "Created a message template",
        "update_template": "Changed a message template",
        "send_message": "Sent a message",
        "set_status_callback": "Registered the status callback URL",
        "delete_status_callback": "Stopped the status callbacks",
        "test_status_callback": "Sent a test status callback",
        "redeliver_status_callback": "Sent a notification's status callback again",
    }
)
MESSAGES += (
    "Choose email or text message",
    "Choose a template",
    "Enter the id of one of your notifications",
)

# The payment links' pages (web/payment_link_pages.py, service_layer/payment_links.py,
# domain/payment_links.py).
AUDIT_ACTIONS.update(
    {
        "create_payment_link": "Made a payment link",
        "pause_payment_link": "Paused a payment link",
        "resume_payment_link": "Took payments through a payment link again",
    }
)
MESSAGES += (
    "%(low)s to %(high)s",
    "You have started too many payments. Please wait a minute and try again.",
    "This payment link is paused",
    "This form was already sent. Please start again.",
    "Enter the payment's title",
    "The title must be 100 characters or fewer, without controls",
    "The description must be 1,000 characters or fewer",
    "Choose a currency from the list",
    "Enter an amount",
    "Enter an amount like 12.50, from 0.01 to 100,000",
    "The largest amount must be at least the smallest",
    "Choose a fixed amount or an amount the citizen types",
    "Enter an address starting https://",
    "Enter what the reference is called",
    "The label must be 60 characters or fewer, without controls",
    "Enter a length from 1 to 255",
    "Choose which characters the reference may hold",
    "Enter the amount to pay",
    "Enter an amount within the limits shown",
    "Enter the reference",
    "The reference is too long",
    "The reference holds characters it may not",
)

# Sending to a list and finding notifications (web/bulk_pages.py, search_pages.py,
# service_layer/bulk_sending.py, notification_search.py, domain/spreadsheets.py).
AUDIT_ACTIONS.update(
    {
        "upload_recipients": "Uploaded a recipient list",
        "send_bulk": "Sent messages to a list",
        "cancel_bulk": "Cancelled a bulk send",
    }
)
MESSAGES += (
    "The file is larger than 10 MB",
    "The file is empty",
    "The file must be CSV or an Excel workbook (.xlsx)",
    "A CSV file must be saved as UTF-8",
    "The CSV file is malformed (check its quotation marks)",
    "The file has more than 50,000 rows",
    "Workbooks with macros are not accepted: save it as .xlsx",
    "The workbook cannot be read: save it again as .xlsx",
    "The file has more than 100 columns",
    "The file has a header row but no recipients",
    "The file needs a column for each of",
    "The file names a column more than once",
    "Too many rows have problems: correct the file and upload it again",
    "There are no rows to send",
    "Choose a status from the list",
    "Enter a date like 2026-01-31",
    "The end date is before the start date",
)

# Credentials and sign-in settings (web/credentials_pages.py, service_layer/agency_credentials.py).
AUDIT_ACTIONS.update(
    {
        "rotate_secret": "Rotated the client secret",
        "revoke_secret": "Stopped the previous client secret",
        "replace_jwks": "Uploaded a JWK Set",
        "update_sign_in": "Changed the sign-in settings",
    }
)
MESSAGES += (
    "Enter a JWK Set",
    "The JWK Set must be 64 KB or smaller",
    "This page has expired. Please try again.",
    "Enter at most 20 addresses",
)

# Going live and the operators' pages (web/golive_pages.py, service_layer/going_live.py).
AUDIT_ACTIONS.update(
    {
        "request_go_live": "Asked to go live",
        "approve_go_live": "Approved going live",
        "refuse_go_live": "Refused going live",
        "disable_agency": "Disabled the agency",
    }
)
MESSAGES += (
    "Say what your service does",
    "Give a contact",
    "Too long, or has control characters",
    "Give the reason for refusing",
    "Give the reason for disabling the agency",
    "This agency is already live",
    "A request to go live is already waiting",
    "This request has already been decided",
)
