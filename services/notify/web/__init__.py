"""notify: web."""
