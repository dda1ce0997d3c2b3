"""The runtime every GaaP service shares.

Configuration, the gRPC and HTTP servers and their lifecycle, interceptors
(authentication, error mapping, request ids, logs, metrics), token verification
and database access live here so that identity, payments and notify each hold
only their own domain.
"""
