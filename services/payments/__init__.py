"""payments: agencies take fees from citizens (the hosted payment page, providers, refunds)."""
