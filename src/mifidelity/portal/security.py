"""What keeps the portal's doors shut: web sessions, CSRF tokens, login throttling and response headers.

- A web session is a random 256-bit token in an HttpOnly, SameSite=Strict cookie (Secure when the
  request came over HTTPS, e.g. through a reverse proxy that says so); the database keeps only its
  SHA-256, so a copy of the database does not log anyone in. Sessions end after
  ``idle_minutes`` without a request and ``max_hours`` after login, at logout, and when the
  account's password changes or the account is removed.
- Every POST carries a CSRF token: per web session for logged-in forms, a double-submit cookie for
  the login form (there is no session yet). SameSite=Strict already keeps other sites' requests
  cookie-less; the token also stops a same-site page that is not ours.
- Login throttling, within ``throttle_minutes``: ``max_failures_per_account`` failures for one account
  name *from one address* refuse further tries of that account from that address, even with the right
  password; ``max_failures_per_address`` failures from one address (any names) refuse that address;
  ``max_failures_per_account_everywhere`` failures for one account from all addresses together refuse
  that account (a guessing attack spread over many addresses). So someone who knows a coach's name and
  types wrong passwords locks out themselves, not the coach, who logs in from another address (issue
  27: a lock-out by account name alone was a denial of service on the real user); only an attacker
  with many addresses can still lock an account, for ``throttle_minutes``.
- Headers on every response: a Content-Security-Policy that loads nothing from elsewhere,
  ``X-Frame-Options: DENY``, ``nosniff``, no referrer, ``Cache-Control: no-store``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from mifidelity.portal.accounts import Account
from mifidelity.portal.tables import LoginFailureRow, PortalStore, Role, UserRow, WebSessionRow, aware, utcnow

SESSION_COOKIE = "mifidelity_session"
LOGIN_CSRF_COOKIE = "mifidelity_login_csrf"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class PortalSettings:
    """The portal's security knobs (defaults suit a practice; tests shorten them)."""

    idle_minutes: float = 120.0
    max_hours: float = 12.0
    max_failures_per_account: int = 5  # for one account name from one address
    max_failures_per_address: int = 20  # an office behind one public address shares this
    max_failures_per_account_everywhere: int = 50  # for one account name from all addresses together
    throttle_minutes: float = 15.0
    secure_cookies: bool | None = None  # None: Secure exactly when the request came over HTTPS
    # A live session is looked up in the database again after this long. Logout through the portal takes
    # effect at once; `users passwd` and `users remove` (another process) within this many seconds.
    recheck_seconds: float = 2.0


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def tokens_match(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison; an absent or empty token never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


@dataclass(frozen=True)
class WebSession:
    account: Account
    csrf_token: str
    token_hash: str


class WebSessions:
    """Logged-in browsers, by cookie token."""

    def __init__(self, store: PortalStore, settings: PortalSettings, clock=utcnow):
        self.engine, self.settings, self.clock = store.engine, settings, clock
        self._recent: dict[str, tuple[datetime, WebSession]] = {}  # token hash -> (checked at, session)
        self._lock = threading.Lock()

    def create(self, username: str) -> tuple[str, str]:
        """A new session for ``username``: (cookie token, CSRF token)."""
        token, csrf = new_token(), new_token()
        now = self.clock()
        with Session(self.engine) as db, db.begin():
            db.add(WebSessionRow(token_hash=token_hash(token), username=username, csrf_token=csrf,
                                 created_at=now, last_seen=now))
            # Expired sessions of anyone are swept here (login is rare; requests stay read-only).
            db.execute(delete(WebSessionRow).where(WebSessionRow.last_seen < now - timedelta(minutes=self.settings.idle_minutes)))
        return token, csrf

    def lookup(self, token: str | None) -> WebSession | None:
        """The live session of this cookie token with its account, or None (unknown, expired, account gone)."""
        if not token or len(token) > 100:
            return None
        digest = token_hash(token)
        with self._lock:
            recent = self._recent.get(digest)
        age = (self.clock() - recent[0]).total_seconds() if recent is not None else None
        if age is not None and 0 <= age < self.settings.recheck_seconds:
            return recent[1]
        found = self._lookup(digest)
        with self._lock:
            if found is None:
                self._recent.pop(digest, None)
            else:
                if len(self._recent) > 10000:
                    self._recent.clear()
                self._recent[digest] = (self.clock(), found)
        return found

    def _lookup(self, digest: str) -> WebSession | None:
        now = self.clock()
        # Every request passes here: plain SQL expressions, not ORM objects, to keep it cheap.
        sessions, users = WebSessionRow.__table__.c, UserRow.__table__.c
        query = (select(sessions.csrf_token, sessions.created_at, sessions.last_seen, users.name, users.role,
                        users.created_at.label("user_created"), users.password_changed_at)
                 .join_from(WebSessionRow.__table__, UserRow.__table__, users.name == sessions.username)
                 .where(sessions.token_hash == digest))
        with self.engine.connect() as db:
            row = db.execute(query).first()
        if row is None:
            return None
        last_seen, created = aware(row.last_seen), aware(row.created_at)
        if (now - last_seen > timedelta(minutes=self.settings.idle_minutes)
                or now - created > timedelta(hours=self.settings.max_hours)
                or created < aware(row.password_changed_at)):
            return None
        account = Account(row.name, Role(row.role), aware(row.user_created), aware(row.password_changed_at))
        if now - last_seen > timedelta(minutes=1):  # a write per minute, not per request
            with self.engine.begin() as db:
                db.execute(update(WebSessionRow).where(WebSessionRow.token_hash == digest).values(last_seen=now))
        return WebSession(account, row.csrf_token, digest)

    def end(self, digest: str) -> None:
        with self._lock:
            self._recent.pop(digest, None)
        with Session(self.engine) as db, db.begin():
            db.execute(delete(WebSessionRow).where(WebSessionRow.token_hash == digest))


class LoginThrottle:
    """Counts failed logins per account name and address, per address, and per name, over a sliding window."""

    # How long a login waits for parallel attempts still being checked before it is refused (see attempt).
    PENDING_WAIT_SECONDS = 10.0

    def __init__(self, store: PortalStore, settings: PortalSettings, clock=utcnow):
        self.engine, self.settings, self.clock = store.engine, settings, clock
        self._changed = threading.Condition()
        self._pending: set[int] = set()  # attempts recorded here whose password is still being checked

    def attempt(self, username: str, address: str) -> int | None:
        """Count a login attempt as a failure *before* the password is checked: its row id, or None when
        it is refused (nothing recorded then).

        Check and record happen under one lock, so parallel requests cannot all pass the check before
        any of them is counted. An attempt that would be refused only because of parallel attempts
        whose passwords are still being checked waits for their verdicts (at most
        ``PENDING_WAIT_SECONDS``): right passwords are forgiven (:meth:`succeeded`), so eight
        parallel logins with the right password all get in, while wrong guesses never get more
        tries than the limits allow (:meth:`failed`).
        """
        deadline = time.monotonic() + self.PENDING_WAIT_SECONDS
        with self._changed:
            while True:
                blocked, only_by_pending = self._check(username, address)
                if not blocked:
                    break
                left = deadline - time.monotonic()
                if not only_by_pending or left <= 0:
                    return None
                self._changed.wait(timeout=left)
            with Session(self.engine, expire_on_commit=False) as db, db.begin():
                row = LoginFailureRow(username=username[:255], address=address, at=self.clock())
                db.add(row)
                db.execute(delete(LoginFailureRow).where(LoginFailureRow.at < self._since()))
            self._pending.add(row.id)
            return row.id

    def _since(self) -> datetime:
        return self.clock() - timedelta(minutes=self.settings.throttle_minutes)

    def _counts(self, username: str, address: str, exclude: set[int]) -> tuple[int, int, int]:
        recent = select(func.count()).select_from(LoginFailureRow).where(LoginFailureRow.at >= self._since())
        if exclude:
            recent = recent.where(LoginFailureRow.id.not_in(exclude))
        name = LoginFailureRow.username == username[:255]
        with Session(self.engine) as db:
            return (db.scalar(recent.where(name, LoginFailureRow.address == address)),
                    db.scalar(recent.where(LoginFailureRow.address == address)),
                    db.scalar(recent.where(name)))

    def _over(self, counts: tuple[int, int, int]) -> bool:
        by_pair, by_address, by_name = counts
        return (by_pair >= self.settings.max_failures_per_account or by_address >= self.settings.max_failures_per_address
                or by_name >= self.settings.max_failures_per_account_everywhere)

    def _check(self, username: str, address: str) -> tuple[bool, bool]:
        """(refused now, refused only because of attempts still being checked)."""
        if not self._over(self._counts(username, address, set())):
            return False, False
        return True, bool(self._pending) and not self._over(self._counts(username, address, self._pending))

    def blocked(self, username: str, address: str) -> bool:
        """Too many recent failures for this name from this address, from this address, or for this name anywhere."""
        return self._over(self._counts(username, address, set()))

    def failed(self, attempt: int | None) -> None:
        """The password of ``attempt`` was wrong: it stays counted, and waiting logins hear the verdict."""
        with self._changed:
            self._pending.discard(attempt)
            self._changed.notify_all()

    def succeeded(self, username: str, attempt: int | None = None) -> None:
        """A right password (not throttled) forgives that account's earlier typos, and this attempt."""
        with Session(self.engine) as db, db.begin():
            db.execute(delete(LoginFailureRow).where(LoginFailureRow.username == username))
            if attempt is not None:
                db.execute(delete(LoginFailureRow).where(LoginFailureRow.id == attempt))
        with self._changed:
            self._pending.discard(attempt)
            self._changed.notify_all()


def content_security_policy(script_hashes: tuple[str, ...] = ()) -> str:
    """Nothing from elsewhere: only the listed inline scripts (by hash), same-origin audio and forms.

    Inline styles stay allowed because the reports position their plots with style attributes;
    styles cannot run script or send data out while everything else is 'none'.
    """
    scripts = " ".join(script_hashes) if script_hashes else "'none'"
    return ("default-src 'none'; "
            f"script-src {scripts}; "
            "style-src 'unsafe-inline'; img-src data:; media-src 'self'; "
            "connect-src 'none'; font-src 'none'; object-src 'none'; frame-src 'none'; worker-src 'none'; "
            "manifest-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


STATIC_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    (b"x-robots-tag", b"noindex, nofollow"),
)


class SecurityHeaders:
    """ASGI middleware: the headers above on every response (errors and redirects included).

    A response that set its own Content-Security-Policy (a page with inline scripts) keeps it;
    all others get the policy that allows no script at all.
    """

    def __init__(self, app):
        self.app = app
        self.default_csp = content_security_policy().encode("ascii")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        https = scope.get("scheme") == "https"

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in dict(STATIC_HEADERS)]
                if not any(k.lower() == b"content-security-policy" for k, _ in headers):
                    headers.append((b"content-security-policy", self.default_csp))
                headers.extend(STATIC_HEADERS)
                if https:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)
