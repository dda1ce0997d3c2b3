"""identity's composition root."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from services.identity import metrics
from services.identity.adapters import at_rest, instance_secrets, messaging
from services.identity.adapters.agency_lookup import agency_finder
from services.identity.adapters.logout_outbox import logout_deliveries
from services.identity.adapters.passwords import Argon2PasswordHasher, hashing_slots
from services.identity.adapters.repositories import EngineAssertionLedger
from services.identity.adapters.unit_of_work import identity_transactions
from services.identity.api.grpc import POLICY, IdentityApi, identity_service
from services.identity.domain.lockout import LockoutPolicy
from services.identity.domain.one_time_codes import CodePolicy
from services.identity.domain.signing_keys import ID_TOKEN_ALGORITHMS
from services.identity.domain.throttle import Rule
from services.identity.service_layer.account_activity import AccountActivity
from services.identity.service_layer.accounts import Accounts
from services.identity.service_layer.agencies import AgencyRegistry
from services.identity.service_layer.authenticator import Authenticator
from services.identity.service_layer.authorization_flow import CodeIssuer
from services.identity.service_layer.citizen_tokens import CitizenTokens
from services.identity.service_layer.code_tickets import CodeTickets
from services.identity.service_layer.consents import Consents
from services.identity.service_layer.introspection import Introspector
from services.identity.service_layer.keys import KeyStore
from services.identity.service_layer.logout import BackChannel, Logout
from services.identity.service_layer.operators import Operators
from services.identity.service_layer.passwords import Passwords
from services.identity.service_layer.pending import PendingStore
from services.identity.service_layer.phone_factor import PhoneFactor
from services.identity.service_layer.pushed_requests import PushedRequests
from services.identity.service_layer.registration import Registration
from services.identity.service_layer.request_objects import RequestObjects
from services.identity.service_layer.safeguards import Rules, Safeguards
from services.identity.service_layer.signin import SignIn
from services.identity.service_layer.tokens import AccessTokenIssuer
from services.identity.settings import IdentitySettings
from services.identity.web.account import AccountPages
from services.identity.web.account_kit import Kit
from services.identity.web.app import (
    PAR_PATH,
    REVOKE_PATH,
    TOKEN_PATH,
    USERINFO_PATH,
    create_app,
)
from services.identity.web.busy import busy_page
from services.identity.web.flow_pages import FlowPages
from services.identity.web.oauth_server import TokenServer
from services.identity.web.phone import PhonePages
from services.identity.web.pushed import PushedAuthorizationEndpoint
from services.identity.web.recovery import RecoveryPages
from services.identity.web.registration import RegistrationPages
from services.identity.web.second_factor import Factors
from services.identity.web.signin_flow import signin_flow_routes
from services.identity.web.userinfo import UserInfo
from services.runtime import bootstrap, container, sealing
from services.runtime.access_tokens import AccessTokenVerifier, audience_for
from services.runtime.clock import Clock
from services.runtime.config import PlatformSettings
from services.runtime.db_types import utcnow
from services.runtime.dpop import DpopVerifier, connect_replays
from services.runtime.dpop_nonce import DpopNonces
from services.runtime.errors import StartupError
from services.runtime.keys import KeyCache
from services.runtime.pages import CsrfTokens, Pages
from services.runtime.periodic import PeriodicJob
from services.runtime.process import ServiceSpec
from services.runtime.work_gate import Gate

MIGRATIONS = Path(__file__).parent / "migrations"
WEB = Path(__file__).parent / "web"
ALL_AUDIENCES = ("identity", "payments", "notify")


@dataclass
class Identity:
    """identity's parts, for the CLI and tests as much as for ``main``."""

    database: bootstrap.Database
    registry: AgencyRegistry
    keys: KeyStore
    citizen_tokens: CitizenTokens
    signin: SignIn
    accounts: Accounts
    hasher: Argon2PasswordHasher  # one per process: its gate bounds hashing memory

    def purge_used_assertions(self) -> int:
        """Forget client-assertion ids whose assertions have expired (a replay
        of those is refused by their own ``exp``). The wall clock, not the
        injected one: authlib checks assertions' ``exp`` on it."""
        with identity_transactions(self.database.sessions)() as uow:
            return uow.assertions.purge(utcnow())


def open_identity(
    platform: PlatformSettings, settings: IdentitySettings, clock: Clock = utcnow
) -> Identity:
    """``clock``: the time every use case runs on (a test moves it instead of
    sleeping or editing rows)."""
    database = bootstrap.open_database(platform, settings, MIGRATIONS)
    sessions = database.sessions
    sealer = sealing.Sealer.from_setting(settings.key_encryption_key, "IDENTITY_KEY_ENCRYPTION_KEY")
    # Repositories seal and unseal with it (TOTP secrets, instance secrets).
    sessions.configure(info={sealing.SESSION_KEY: sealer})
    at_rest.open_sealed(sessions, sealer)  # stops the start if the key is wrong or missing
    keys = KeyStore(
        identity_transactions(sessions),  # its repositories seal with the sessions' sealer
        alg=settings.signing_alg,
        algorithms=ID_TOKEN_ALGORITHMS,
        propagation=timedelta(seconds=settings.key_propagation_seconds),
        clock=clock,
    )
    keys.ensure_signing_key()  # every algorithm's key published before anything is served
    hasher = Argon2PasswordHasher(
        memory_kib=settings.argon2_memory_kib,
        time_cost=settings.argon2_time_cost,
        parallelism=settings.argon2_parallelism,
        gate=Gate(
            "password checks",
            hashing_slots(settings.argon2_memory_kib, budget_mib=settings.argon2_memory_budget_mib),
        ),
    )
    citizen_tokens = CitizenTokens(
        identity_transactions(sessions),
        keys,
        issuer=platform.issuer,
        salt=instance_secrets.get_or_create(sessions, "pairwise_salt"),
        access_ttl=settings.access_token_ttl_seconds,
        refresh_ttl=timedelta(days=settings.refresh_token_days),
        clock=clock,
    )
    signin = SignIn(
        identity_transactions(sessions),
        hasher,
        lockout=lockout_policy(settings),
        idle_timeout=timedelta(minutes=settings.session_idle_minutes),
        max_session=timedelta(hours=settings.session_max_hours),
        clock=clock,
    )
    return Identity(
        database,
        AgencyRegistry(
            identity_transactions(sessions),
            egress=platform.egress,
            find=agency_finder(sessions),
            clock=clock,
        ),
        keys,
        citizen_tokens,
        signin,
        Accounts(identity_transactions(sessions), hasher, clock),
        hasher,
    )


def lockout_policy(settings: IdentitySettings) -> LockoutPolicy:
    return LockoutPolicy(
        max_attempts=settings.lockout_attempts,
        address_attempts=settings.lockout_address_attempts,
        lock_for=timedelta(minutes=settings.lockout_minutes),
    )


def citizen_account_rules(settings: IdentitySettings) -> Rules:
    return Rules(
        codes=CodePolicy(
            lifetime=timedelta(minutes=settings.code_minutes), max_attempts=settings.code_attempts
        ),
        lockout=lockout_policy(settings),
        sends_per_address=Rule(
            "sends-per-address", settings.sends_per_address_per_hour, timedelta(hours=1)
        ),
        posts_per_ip=Rule("posts-per-ip", settings.posts_per_ip_per_hour, timedelta(hours=1)),
        authorizations_per_ip=Rule(
            "authorizations-per-ip", settings.authorizations_per_ip_per_hour, timedelta(hours=1)
        ),
        phone_region=settings.phone_region,
    )


def build(
    platform: PlatformSettings, settings: IdentitySettings, clock: Clock = utcnow
) -> ServiceSpec:
    # argon2id's memory goes back to the system after each hash, so the hashing
    # gate bounds the process's memory, not just the hashes running at once.
    container.return_large_blocks()
    identity = open_identity(platform, settings, clock)
    sessions = identity.database.sessions
    try:
        at_rest.refuse_live_without_key(sessions, sealed=bool(settings.key_encryption_key))
    except StartupError:
        identity.database.close()
        raise
    metrics.register(sessions)
    issuer = platform.issuer
    local_keys = KeyCache(identity.keys.jwks, max_age=30)

    def seconds() -> float:  # the same clock, for the parts that count in seconds
        return clock().timestamp()

    tokens = AccessTokenIssuer(
        identity.keys, issuer=issuer, ttl_seconds=settings.access_token_ttl_seconds, clock=seconds
    )
    introspector = Introspector(
        AccessTokenVerifier(
            issuer=issuer,
            audience=[identity.citizen_tokens.userinfo_audience]
            + [audience_for(s) for s in ALL_AUDIENCES],
            keys=local_keys,
            clock=seconds,
        ),
        identity.citizen_tokens,
        identity.registry,
    )
    # One verifier (and replay memory) for the token and pushed-authorization endpoints.
    dpop = DpopVerifier(
        replays=connect_replays(platform.redis_url, "gaap:identity:dpop"),
        clock=seconds,
    )
    # Stateless server nonces (RFC 9449 §8, §9): every replica derives them from
    # the instance secret the replicas share through the database.
    nonces = (
        DpopNonces(
            instance_secrets.get_or_create(sessions, "dpop_nonce_key"),
            clock=seconds,
        )
        if settings.dpop_nonces
        else None
    )
    token_server = TokenServer(
        registry=identity.registry,
        tokens=tokens,
        citizen_tokens=identity.citizen_tokens,
        introspector=introspector,
        assertions=EngineAssertionLedger(identity.database.engine).first_use,
        issuer=issuer,
        token_endpoint=issuer + TOKEN_PATH,
        pushed_endpoint=issuer + PAR_PATH,
        revocation_endpoint=issuer + REVOKE_PATH,
        dpop=dpop,
        nonces=nonces,
    )
    pushed = PushedRequests(
        identity_transactions(sessions),
        RequestObjects(identity_transactions(sessions), issuer, clock),
        clock,
        required_for_all=settings.require_pushed_authorization_requests,
    )
    userinfo = UserInfo(
        AccessTokenVerifier(
            issuer=issuer,
            audience=identity.citizen_tokens.userinfo_audience,
            keys=local_keys,
            clock=seconds,
        ),
        identity.citizen_tokens,
        identity.registry,
        endpoint=issuer + USERINFO_PATH,
        dpop=dpop,
        nonces=nonces,
    )
    uow = identity_transactions(sessions)
    pending = PendingStore(uow, clock)
    back_channel = BackChannel(
        lambda token: logout_deliveries(sessions, token, egress=platform.egress),
        identity.citizen_tokens,
        identity.keys,
        issuer=issuer,
        clock=seconds,
    )
    flow = FlowPages(
        issuer=issuer,
        pages=Pages(WEB / "templates", WEB / "locales"),
        csrf=CsrfTokens(instance_secrets.get_or_create(sessions, "csrf_key")),
        signin=identity.signin,
        pending=pending,
        lock_minutes=settings.lockout_minutes,
        clock=clock,
    )
    postbox, notify_channel = messaging.postbox(settings, token_server)
    # Citizen accounts: each part gets only what it uses.
    hasher = identity.hasher
    code_key = instance_secrets.get_or_create(sessions, "code_key")
    rules = citizen_account_rules(settings)
    safeguards = Safeguards(uow, postbox, rules, clock=clock)
    # Wrong authenticator codes at sign-in lock like the others: the owner is emailed.
    identity.signin.lock_alert = safeguards.lock_alert
    tickets = CodeTickets(identity_transactions(sessions), code_key, rules.codes, clock=clock)
    activity = AccountActivity(uow, safeguards, back_channel, clock=clock)
    passwords = Passwords(uow, hasher, postbox, tickets, safeguards, back_channel, clock=clock)
    authenticator = Authenticator(uow, code_key, safeguards, clock=clock)
    flow.safeguards = safeguards
    factors = Factors(flow.csrf, safeguards)
    flow_pages = signin_flow_routes(
        flow,
        registry=identity.registry,
        consents=Consents(uow, clock),
        codes=CodeIssuer(identity_transactions(sessions), identity.citizen_tokens),
        factors=factors,
        logout=Logout(uow, identity.signin, back_channel, clock=clock),
        keys=local_keys,
        activity=activity,
        pushed=pushed,
    )
    kit = Kit(flow, safeguards, factors)
    account = AccountPages(kit, activity, passwords, authenticator)
    account_pages = [
        *RegistrationPages(
            kit, Registration(uow, hasher, postbox, tickets, safeguards, clock=clock), activity
        ).routes(),
        *RecoveryPages(kit, passwords, authenticator).routes(),
        *account.routes(),
        *PhonePages(
            kit, account, PhoneFactor(uow, postbox, tickets, safeguards, clock=clock)
        ).routes(),
    ]
    # identity verifies tokens for its own API from its own key store, not over HTTP.
    verifier = bootstrap.token_verifier(
        "identity", platform, fetch=identity.keys.jwks, clock=seconds
    )
    return bootstrap.assemble(
        "identity",
        platform,
        settings,
        verifier,
        bootstrap.Parts(
            grpc_services=[
                identity_service(
                    IdentityApi(
                        identity.registry,
                        identity.keys,
                        introspector,
                        userinfo.claims,
                        identity.citizen_tokens,
                        Operators(uow, clock),
                    )
                )
            ],
            policy=POLICY,
            database=identity.database,
            http_app=create_app(
                issuer=issuer,
                token_server=token_server,
                keys=identity.keys,
                pages=[*flow_pages, *account_pages],
                userinfo=userinfo.endpoint,
                pushed=PushedAuthorizationEndpoint(
                    token_server, pushed, endpoint=issuer + PAR_PATH
                ).respond,
                require_par=settings.require_pushed_authorization_requests,
                busy=busy_page(flow),
            ),
            jobs=[
                PeriodicJob("purge-used-assertions", 600, identity.purge_used_assertions),
                PeriodicJob("purge-pending-authorizations", 600, pending.purge),
                PeriodicJob("purge-pushed-authorization-requests", 600, pushed.purge),
                PeriodicJob("purge-verification-tickets", 3600, tickets.purge),
                PeriodicJob("purge-throttle-counters", 600, safeguards.throttle.purge),
                PeriodicJob("purge-signin-failures", 3600, safeguards.passwords.purge),
                back_channel.job,
                back_channel.purge_job,
            ],
            on_stop=[
                back_channel.outbox.close,
                postbox.close,
                *([notify_channel.close] if notify_channel else []),
                identity.database.close,
            ],
        ),
    )
