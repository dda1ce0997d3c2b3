"""GaaP services: identity, payments, notify, and the runtime they share."""
