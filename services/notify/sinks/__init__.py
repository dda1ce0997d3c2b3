"""Local sinks for `make run`: mail to var/mail, text messages to var/sms."""
