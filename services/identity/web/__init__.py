"""identity's HTTP side: the OAuth token endpoint, discovery and JWKS."""
