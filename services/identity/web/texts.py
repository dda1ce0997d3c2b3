"""Messages the citizen-account pages build in Python (errors, notices). Each is
a msgid in the catalogue (``locales/zh_Hans/LC_MESSAGES/messages.po``); a unit
test checks every one is translated. Messages never say whether an address has
an account."""

from __future__ import annotations

ENTER_EMAIL = "Enter your email address"
ENTER_VALID_EMAIL = "Enter an email address in the correct format, like name@example.com"
ENTER_PASSWORD = "Enter your password"
ENTER_NEW_PASSWORD = "Enter a new password"
PASSWORD_TOO_SHORT = "Your password must be at least 8 characters"
PASSWORD_TOO_LONG = "Your password must be 256 characters or fewer"
PASSWORD_COMMON = "This password is too common. Choose a password that is harder to guess"
PASSWORD_LIKE_EMAIL = "Your password must not be your email address"
PASSWORDS_DIFFER = "The passwords do not match"
CURRENT_PASSWORD_WRONG = "Your current password is not right"
ENTER_CODE = "Enter the 6-digit security code"
CODE_WRONG = "The security code is not right"
CODE_EXPIRED = "This security code has expired. Start again to get a new code"
CODE_USED = "This security code has already been used. Start again to get a new code"
CODE_EXHAUSTED = "You have entered the wrong code too many times. Start again to get a new code"
ENTER_RECOVERY_CODE = "Enter one of your recovery codes"
RECOVERY_CODE_WRONG = "This recovery code is not right, or it has already been used"
TOTP_WRONG = "Enter the 6-digit code shown in your authenticator app"
THROTTLED = "There have been too many attempts. Wait %(minutes)d minutes, then try again."
BUSY = "The service is busy right now. Wait a few seconds, then try again."
LINK_EXPIRED = "This link has expired or has already been used. Start again."
CONSENT_CHANGED = (
    "You are now signed in to another account, or what is asked has changed. "
    "Check this list for the account you are signed in to now."
)
CONSENT_NOT_FOUND = "There is nothing to withdraw for this service."
ENTER_PHONE = "Enter your mobile number"
ENTER_VALID_PHONE = (
    "Enter a mobile number in the correct format, like 07700 900 982 or +44 7700 900 982"
)
PHONE_PREMIUM_RATE = "Enter a mobile number: premium-rate numbers cannot be used"
SMS_UNAVAILABLE = "Getting security codes by text message is not available on this service."
