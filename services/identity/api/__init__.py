"""identity's gRPC API: translates messages and nothing more."""
