"""payments and notify as a team's agency: a ``GaapClient`` whose tokens come
from identity's token exchange (RFC 8693), asked for with the console's own
credentials (its agency holds ``identity:act_for_agencies``).

Tokens are kept per (agency, scopes) and renewed shortly before they expire
(``gaap_client.token_exchange.ExchangedTokenSource``), so consecutive pages of one
team reuse one token. The cache is bounded: the least recently used agency's
tokens are dropped first. Each ``connect`` opens the client's channels and
closes them when the page is done, so no channel outlives its page.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import grpc
import httpx

from gaap_client import Credentials, DpopKey, GaapClient, Targets
from gaap_client.token_exchange import ExchangedTokenSource

# Shorter than gaap_client's 60 s default: a delegated token lives five minutes at most.
RENEW_BEFORE = 30.0
MAX_CACHED = 512  # (agency, scopes) pairs: a few per team in use


class ExchangeAgencyCalls:
    """``AgencyCalls`` over identity's token endpoint. ``dpop``: the console's
    DPoP key, when it binds its tokens (each delegated token is then bound too,
    and every call carries a proof by it)."""

    def __init__(
        self,
        token_endpoint: str,
        credentials: Credentials,
        targets: Targets,
        *,
        http: httpx.Client,
        dpop: DpopKey | None = None,
        channel_credentials: grpc.ChannelCredentials | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_cached: int = MAX_CACHED,
    ) -> None:
        self._token_endpoint = token_endpoint
        self._credentials = credentials
        self._targets = targets
        self._http = http
        self._dpop = dpop
        self._channel_credentials = channel_credentials
        self._clock = clock
        self._max = max_cached
        self._sources: OrderedDict[tuple[str, tuple[str, ...]], ExchangedTokenSource] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def tokens(self, agency_id: str, scopes: tuple[str, ...]) -> ExchangedTokenSource:
        """The token source for ``agency_id`` and ``scopes`` (in any order)."""
        key = (agency_id, tuple(sorted(set(scopes))))
        with self._lock:
            source = self._sources.get(key)
            if source is None:
                source = ExchangedTokenSource(
                    self._token_endpoint,
                    self._credentials,
                    agency=agency_id,
                    scopes=key[1],
                    renew_before=RENEW_BEFORE,
                    http=self._http,
                    clock=self._clock,
                    dpop=self._dpop,
                )
                self._sources[key] = source
                if len(self._sources) > self._max:
                    self._sources.popitem(last=False)
            else:
                self._sources.move_to_end(key)
            return source

    def token(self, agency_id: str, scopes: tuple[str, ...]) -> str:
        """A live access token for ``agency_id`` with ``scopes``, from the cache
        while it has more than ``RENEW_BEFORE`` seconds left."""
        return self.tokens(agency_id, scopes).token()

    @contextmanager
    def connect(self, agency_id: str, scopes: tuple[str, ...]) -> Iterator[GaapClient]:
        client = GaapClient(
            self.tokens(agency_id, scopes),
            self._targets,
            channel_credentials=self._channel_credentials,
        )
        try:
            yield client
        finally:
            client.close()
