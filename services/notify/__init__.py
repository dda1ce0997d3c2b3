"""notify: agencies send residents notices by email and SMS."""
