"""notify: service_layer."""
