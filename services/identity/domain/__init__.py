"""identity's domain: agencies, their credentials, signing keys and token rules.

Pure Python plus cryptographic primitives: no gRPC, HTTP or database imports.
"""
