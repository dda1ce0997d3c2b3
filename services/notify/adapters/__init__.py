"""notify: adapters."""
