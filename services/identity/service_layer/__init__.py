"""identity's use cases: what the CLI, the gRPC API and the HTTP endpoints call."""
