"""notify: api."""
