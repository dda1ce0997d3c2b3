"""In-memory fakes of the ports use cases are written against (one module per
service, plus the runtime's), for fast unit tests with no database."""
