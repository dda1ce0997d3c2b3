"""The pages' name for authorization requests in progress (kept in the service
layer: ``service_layer/pending.py``)."""

from services.identity.service_layer.pending import Pending, PendingStore

__all__ = ["Pending", "PendingStore"]
