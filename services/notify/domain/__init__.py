"""notify: domain."""
