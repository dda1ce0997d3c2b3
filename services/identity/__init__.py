"""identity: the platform's authorization server and agency registry."""
