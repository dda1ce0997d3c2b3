"""DPoP proofs (RFC 9449): every check of section 4.3, and the key thumbprints.

A DPoP proof is a JWT the client signs with its own key for one request: its
header carries the public key (``jwk``); its claims name the request (``htm``,
``htu``), when it was made (``iat``), a unique id (``jti``) and, at a resource
server, the hash of the access token it goes with (``ath``). A token bound to
the key carries the key's RFC 7638 thumbprint in ``cnf.jkt``.

``DpopVerifier.verify`` refuses with ``InvalidDpopProof`` (an ``Unauthenticated``)
naming the failed check and never echoing the proof or the token. A proof's
``jti`` is accepted once: ``Replays`` remembers it until the proof would be too
old anyway, in memory first and then, across replicas, in Redis when one is
configured (the same store as the rate limits).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import logging
import re
import string
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import jwt
import redis
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwt import PyJWK

from services.runtime.errors import StartupError, Unauthenticated

log = logging.getLogger(__name__)

PROOF_TYPE = "dpop+jwt"
ALGORITHMS: tuple[str, ...] = ("ES256", "PS256")
MAX_PROOF_SIZE = 8192
MAX_JTI_LENGTH = 255
# Members that only a private (or symmetric) key has: a proof must never carry them.
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# RFC 7638 §3.2: the required members of each key type, the only ones hashed.
_THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}
_KEY_TYPES = {"ES256": ("EC", "P-256"), "PS256": ("RSA", None)}
_MIN_RSA_BITS = 2048
# A compact JWS: three unpadded base64url segments (RFC 7515 §7.1, §2); the
# signature may be empty so that an unsecured JWT is refused for its 'alg'.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def challenge(error: str) -> str:
    """The ``WWW-Authenticate`` value of a DPoP refusal (RFC 9449 §7.1)."""
    return f'DPoP error="{error}", algs="{" ".join(ALGORITHMS)}"'


class InvalidDpopProof(Unauthenticated):
    """The request's DPoP proof failed one of RFC 9449's checks."""

    def __init__(self, message: str) -> None:
        super().__init__(message, challenge("invalid_dpop_proof"))


@dataclass(frozen=True)
class Proof:
    """A verified proof: the thumbprint of the key that signed it (``cnf.jkt``)."""

    jkt: str
    jti: str
    iat: int


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


@functools.lru_cache(maxsize=1024)  # a client sends one token with many proofs
def access_token_hash(access_token: str) -> str:
    """``ath``: base64url of the SHA-256 of the access token's ASCII text."""
    return b64url(hashlib.sha256(access_token.encode("ascii", "replace")).digest())


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public EC or RSA JWK."""
    kty = jwk.get("kty")
    members = _THUMBPRINT_MEMBERS.get(kty) if isinstance(kty, str) else None
    if members is None:
        raise InvalidDpopProof("DPoP proof key type must be EC or RSA")
    values = tuple(jwk.get(name) for name in members)
    if not all(isinstance(v, str) and v for v in values):
        raise InvalidDpopProof(f"DPoP proof key lacks one of {', '.join(members)}")
    return _thumbprint(tuple(zip(members, values, strict=True)))


@functools.lru_cache(maxsize=4096)
def _thumbprint(members: tuple[tuple[str, str], ...]) -> str:
    """Computed once per key: the members, in RFC 7638's order, are the cache key."""
    canonical = json.dumps(dict(members), separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


@functools.lru_cache(maxsize=4096)
def _public_key(members: tuple[tuple[str, str], ...], alg: str) -> PyJWK:
    """The parsed public key, once per (key, algorithm)."""
    return PyJWK(dict(members), algorithm=alg)


def _segment(segment: str) -> bytes:
    """One base64url segment decoded; only its canonical encoding is accepted."""
    data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    if b64url(data) != segment:
        raise ValueError("not canonical base64url")
    return data


_ES256 = ec.ECDSA(hashes.SHA256())

SignatureCheck = Callable[[bytes, bytes], bool]


def _signature_check(key: PyJWK) -> SignatureCheck:
    """``check(signing_input, signature)``; ES256 straight on ``cryptography``
    (PyJWT's path rebuilds the ECDSA parameters for every signature)."""
    public = key.key
    if not isinstance(public, ec.EllipticCurvePublicKey):
        return lambda message, signature: bool(key.Algorithm.verify(message, public, signature))

    def es256(message: bytes, signature: bytes) -> bool:
        if len(signature) != 64:  # r and s, 32 bytes each (RFC 7518 §3.4)
            return False
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        try:
            public.verify(encode_dss_signature(r, s), message, _ES256)
        except InvalidSignature:
            return False
        return True

    return es256


@dataclass(frozen=True)
class _ProofKey:
    """What a proof's header says once checked: the key's thumbprint and how to
    check a signature by it."""

    jkt: str
    verify: SignatureCheck


_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")


def _normal_escape(match: re.Match[str]) -> str:
    """An escaped unreserved character decoded; any other escape in upper case."""
    char = chr(int(match.group()[1:], 16))
    return char if char in _UNRESERVED else match.group().upper()


@functools.lru_cache(maxsize=1024)  # a client and a server name the same few URIs
def normalize_uri(uri: str) -> str:
    """``uri`` without its query and fragment, normalised as RFC 9449 §4.3 asks
    (RFC 3986 §6.2.2 and §6.2.3): scheme and host in lower case, the scheme's
    default port dropped, an empty path as ``/``, percent-encodings in upper case
    and unreserved characters decoded."""
    parts = urlsplit(uri.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    path = _PERCENT.sub(_normal_escape, parts.path) or "/"
    return urlunsplit((scheme, host, path, "", ""))


class Replays(Protocol):
    def first_use(self, key: str, expires_at: float) -> bool:
        """Record ``key`` until ``expires_at`` (epoch seconds); False if it was seen."""
        ...


class MemoryReplays:
    """One process's memory of seen proofs (the default without Redis; one replica).

    It holds at most ``max_entries``: when full of unexpired proofs it forgets the
    oldest tenth (logged) rather than refusing every new proof, so a flood of
    proofs cannot stop everyone's calls. In front of Redis it is only a cache;
    alone, it refuses replays of the last ``max_entries`` proofs."""

    def __init__(self, clock: Callable[[], float] = time.time, max_entries: int = 100_000) -> None:
        self._clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._max_entries = max_entries

    def first_use(self, key: str, expires_at: float) -> bool:
        now = self._clock()
        with self._lock:
            known = self._seen.get(key)
            if known is not None and known > now:
                return False
            if len(self._seen) >= self._max_entries:
                self._make_room(now)
            self._seen[key] = expires_at
            return True

    def _make_room(self, now: float) -> None:
        """Drop expired entries and, if still full, the oldest tenth, in one pass
        (caller holds the lock)."""
        live = [(k, v) for k, v in self._seen.items() if v > now]
        keep = self._max_entries - max(1, self._max_entries // 10)
        if len(live) > keep:
            log.warning("DPoP replay memory full; forgetting the %d oldest", len(live) - keep)
            live = live[len(live) - keep :]
        self._seen = dict(live)


class RedisReplays:
    """Seen proofs in Redis, shared by every replica: ``SET NX`` with the expiry."""

    def __init__(
        self, client: redis.Redis, prefix: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._clock = clock

    def first_use(self, key: str, expires_at: float) -> bool:
        ttl_ms = max(1000, int((expires_at - self._clock()) * 1000))
        try:
            return bool(self._client.set(f"{self._prefix}:{key}", b"1", nx=True, px=ttl_ms))
        except redis.RedisError:
            # Fail closed: a proof that cannot be checked for replay is refused.
            log.error("DPoP replay store unavailable; refusing the proof")
            raise InvalidDpopProof("DPoP proof cannot be checked right now; retry") from None


class LayeredReplays:
    """Memory first (a replay to the same replica costs no round trip), then the
    shared store (a replay to another replica is refused too)."""

    def __init__(self, local: Replays, shared: Replays) -> None:
        self._local = local
        self._shared = shared

    def first_use(self, key: str, expires_at: float) -> bool:
        return self._local.first_use(key, expires_at) and self._shared.first_use(key, expires_at)


def connect_replays(redis_url: str, prefix: str) -> Replays:
    """Memory and Redis when a URL is configured (checked at start), else memory."""
    local = MemoryReplays()
    if not redis_url:
        return local
    try:
        client = redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=2)
        client.ping()
    except (redis.RedisError, ValueError) as exc:
        raise StartupError(f"cannot reach Redis at REDIS_URL: {exc}") from None
    return LayeredReplays(local, RedisReplays(client, prefix))


class DpopVerifier:
    """Checks proofs against one request. ``max_age``: how old a proof's ``iat``
    may be; ``leeway``: how far ahead of this clock it may be."""

    def __init__(
        self,
        *,
        replays: Replays,
        algorithms: Sequence[str] = ALGORITHMS,
        max_age: int = 120,
        leeway: int = 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        unknown = set(algorithms) - set(_KEY_TYPES)
        if unknown:
            raise ValueError(f"DPoP algorithms not supported: {sorted(unknown)}")
        self.algorithms = tuple(algorithms)
        self._replays = replays
        self._max_age = max_age
        self._leeway = leeway
        self._clock = clock

    def verify(
        self, proof: str, *, method: str, uri: str, access_token: str | None = None
    ) -> Proof:
        """The proof's key, if ``proof`` is valid for a ``method`` request to ``uri``
        (with ``access_token``, at a resource server); else ``InvalidDpopProof``."""
        if not proof or len(proof) > MAX_PROOF_SIZE or not _COMPACT_JWS.fullmatch(proof):
            raise InvalidDpopProof("DPoP proof is not a single signed JWT")
        signing_input, _, signature = proof.rpartition(".")
        # A client signs every proof with one key, so the encoded header repeats:
        # its checks, the key's parsing and thumbprint run once per header.
        key = _checked_header(signing_input.partition(".")[0], self.algorithms)
        claims = self._claims(signing_input, signature, key)
        self._check_request(claims, method, uri)
        iat = self._check_time(claims)
        if access_token is not None:
            ath = claims.get("ath")
            if not isinstance(ath, str) or not hmac.compare_digest(
                ath.encode("ascii", "replace"), access_token_hash(access_token).encode("ascii")
            ):
                raise InvalidDpopProof("DPoP proof 'ath' does not match the access token")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
            raise InvalidDpopProof(f"DPoP proof needs a 'jti' of 1 to {MAX_JTI_LENGTH} characters")
        jkt = key.jkt
        # Keyed by the key and the jti, hashed so a stored key holds no client input.
        replay_key = b64url(hashlib.sha256(f"{jkt}.{jti}".encode()).digest())
        if not self._replays.first_use(replay_key, iat + self._max_age + self._leeway):
            raise InvalidDpopProof("DPoP proof was used before; make a new proof per request")
        return Proof(jkt=jkt, jti=jti, iat=iat)

    def _claims(self, signing_input: str, signature: str, key: _ProofKey) -> dict[str, Any]:
        try:
            signature_bytes = _segment(signature)
            payload = _segment(signing_input.partition(".")[2])
        except ValueError:
            raise InvalidDpopProof("DPoP proof is not a valid signed JWT") from None
        if not key.verify(signing_input.encode("ascii"), signature_bytes):
            raise InvalidDpopProof("DPoP proof signature does not verify with its 'jwk'")
        try:
            claims = json.loads(payload)
        except (ValueError, RecursionError):
            raise InvalidDpopProof("DPoP proof is not a valid signed JWT") from None
        if not isinstance(claims, dict):
            raise InvalidDpopProof("DPoP proof is not a valid signed JWT")
        return claims

    def _check_request(self, claims: dict[str, Any], method: str, uri: str) -> None:
        if claims.get("htm") != method:
            raise InvalidDpopProof(f"DPoP proof 'htm' must be {method!r}")
        htu = claims.get("htu")
        if not isinstance(htu, str) or normalize_uri(htu) != normalize_uri(uri):
            raise InvalidDpopProof(f"DPoP proof 'htu' must be {normalize_uri(uri)!r}")

    def _check_time(self, claims: dict[str, Any]) -> int:
        iat = claims.get("iat")
        if isinstance(iat, bool) or not isinstance(iat, int | float):
            raise InvalidDpopProof("DPoP proof needs a numeric 'iat'")
        now = self._clock()
        if iat > now + self._leeway:
            raise InvalidDpopProof("DPoP proof 'iat' is in the future; check the clock")
        if iat < now - self._max_age:
            raise InvalidDpopProof(
                f"DPoP proof is older than {self._max_age} seconds; make a new proof"
            )
        return int(iat)


@functools.lru_cache(maxsize=1024)
def _checked_header(segment: str, algorithms: tuple[str, ...]) -> _ProofKey:
    """A proof's encoded header checked (RFC 9449 §4.3 checks 4, 5 and 7); cached
    per header and allow-list (an 8 KiB proof bounds the cache at 8 MiB)."""
    try:
        header = json.loads(_segment(segment))
    except (ValueError, RecursionError):
        raise InvalidDpopProof("DPoP proof is not a signed JWT") from None
    if not isinstance(header, dict):
        raise InvalidDpopProof("DPoP proof is not a signed JWT")
    if "crit" in header or "b64" in header:
        raise InvalidDpopProof("DPoP proof header uses a JWS extension this server does not know")
    if header.get("typ") != PROOF_TYPE:
        raise InvalidDpopProof(f"DPoP proof 'typ' must be {PROOF_TYPE!r}")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms:
        raise InvalidDpopProof(
            f"DPoP proof algorithm {alg!r} is not accepted; accepted: {', '.join(algorithms)}"
        )
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise InvalidDpopProof("DPoP proof header needs the public key as 'jwk'")
    if _PRIVATE_MEMBERS & jwk.keys():
        raise InvalidDpopProof("DPoP proof 'jwk' must be a public key (it has private members)")
    kty, crv = _KEY_TYPES[alg]
    if jwk.get("kty") != kty or (crv is not None and jwk.get("crv") != crv):
        raise InvalidDpopProof(f"DPoP proof key does not fit {alg} (needs {crv or kty})")
    jkt = thumbprint(jwk)  # every required member present
    members = tuple((name, str(jwk[name])) for name in _THUMBPRINT_MEMBERS[kty])
    if kty == "RSA":
        n = base64.urlsafe_b64decode(str(jwk["n"]) + "==")
        if len(n.lstrip(b"\0")) * 8 < _MIN_RSA_BITS:
            raise InvalidDpopProof(f"DPoP proof RSA key is under {_MIN_RSA_BITS} bits")
    try:
        key = _public_key(members, alg)
    except (jwt.PyJWTError, ValueError):
        raise InvalidDpopProof("DPoP proof 'jwk' is not a valid public key") from None
    return _ProofKey(jkt=jkt, verify=_signature_check(key))


@dataclass(frozen=True)
class DpopBinding:
    """How a resource server checks a DPoP-bound token's proof: ``htm`` POST and
    ``htu`` the service's public ``base_url`` followed by the gRPC method path
    (``/package.Service/Method``), for gRPC and JSON calls alike."""

    verifier: DpopVerifier
    base_url: str

    def check(self, proof: str | None, *, method: str, access_token: str, jkt: str) -> None:
        """Refuse unless ``proof`` is a fresh proof for this call by the key ``jkt``."""
        if not proof:
            raise InvalidDpopProof(
                "this access token is bound to a DPoP key: send a DPoP proof "
                "(metadata 'dpop', HTTP header 'DPoP') with every call"
            )
        uri = self.base_url.rstrip("/") + method
        verified = self.verifier.verify(proof, method="POST", uri=uri, access_token=access_token)
        if not hmac.compare_digest(verified.jkt.encode(), jkt.encode("ascii", "replace")):
            raise InvalidDpopProof(
                "DPoP proof is signed by another key than the one the access token is bound to"
            )


def bound_key(claims: Mapping[str, Any]) -> str | None:
    """The thumbprint a token is bound to (``cnf.jkt``), or None for a bearer token."""
    cnf = claims.get("cnf")
    if cnf is None:
        return None
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    if not isinstance(jkt, str) or not jkt:
        raise Unauthenticated("access token claim 'cnf' must hold a key thumbprint 'jkt'")
    return jkt
