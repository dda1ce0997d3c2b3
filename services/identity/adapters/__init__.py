"""identity's adapters: database tables and repositories, the key store."""
