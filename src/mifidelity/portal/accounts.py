"""Portal accounts: a name, a role and a salted scrypt hash of the password.

A coach account is named exactly like the coach (the ``INBOX/<coach>/`` folder, ``--coach NAME``,
session.json's ``coach``) and sees exactly that coach's sessions; a supervisor sees all. Passwords
are kept only as ``hashlib.scrypt`` hashes (a memory-hard key derivation from the standard
library, so no extra native dependency): 16 random bytes of salt per password, N = 2**15, r = 8,
p = 1 (32 MiB and about 0.1 s per check on this machine), compared in constant time. The
parameters are stored with each hash, so they can be raised later without breaking old ones.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mifidelity.errors import MifidelityError
from mifidelity.portal.tables import PortalStore, Role, UserRow, WebSessionRow, aware, utcnow

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 15, 8, 1
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # scrypt reads all of it; a megabyte-long "password" is a denial of service
MAX_NAME_LENGTH = 200


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, n: int | None = None, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64) for a new password (``n`` defaults to :data:`SCRYPT_N`)."""
    n = n or SCRYPT_N
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a hash from :func:`hash_password` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        n, r, p = int(n), int(r), int(p)
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt),
                                n=n, r=r, p=p, maxmem=256 * n * r, dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Checked against when the account does not exist, so a wrong name costs as long as a wrong
    password (the time of an answer does not tell which names exist)."""
    return hash_password(_b64(os.urandom(12)))


def check_name(name: str) -> str:
    """An account name as given, or MifidelityError: 1-200 printable characters, no surrounding spaces."""
    if not isinstance(name, str) or not name or len(name) > MAX_NAME_LENGTH:
        raise MifidelityError(f"an account name has 1 to {MAX_NAME_LENGTH} characters")
    if name != name.strip() or any(unicodedata.category(c).startswith("C") for c in name):
        raise MifidelityError("an account name has no control characters and no spaces at either end")
    if name in (".", "..") or "/" in name or "\\" in name:
        raise MifidelityError("an account name cannot contain '/' or '\\' (it is named like a coach's inbox folder)")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise MifidelityError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise MifidelityError(f"a password has at most {MAX_PASSWORD_LENGTH} characters")
    return password


@dataclass(frozen=True)
class Account:
    """A portal user (never carries the password hash)."""

    name: str
    role: Role
    created_at: datetime
    password_changed_at: datetime

    @property
    def is_supervisor(self) -> bool:
        return self.role == Role.SUPERVISOR

    def may_see(self, coach: str | None) -> bool:
        """A supervisor sees every session; a coach the sessions whose coach is exactly their name."""
        return self.is_supervisor or (coach is not None and coach == self.name)


def account_of(row: UserRow) -> Account:
    return Account(row.name, Role(row.role), aware(row.created_at), aware(row.password_changed_at))


class Accounts:
    """Adding, removing, listing accounts and checking passwords."""

    def __init__(self, store: PortalStore):
        self.engine = store.engine

    def add(self, name: str, role: Role | str, password: str) -> Account:
        name, password = check_name(name), check_password(password)
        try:
            role = Role(role)
        except ValueError:
            raise MifidelityError(f"unknown role {role!r}: coach or supervisor") from None
        with Session(self.engine) as db, db.begin():
            if db.get(UserRow, name) is not None:
                raise MifidelityError(f"the account {name!r} exists already (use `users passwd` to change its password)")
            db.add(UserRow(name=name, role=role.value, password_hash=hash_password(password)))
        return self.get(name)

    def get(self, name: str) -> Account | None:
        with Session(self.engine) as db:
            row = db.get(UserRow, name)
            return None if row is None else account_of(row)

    def all(self) -> list[Account]:
        with Session(self.engine) as db:
            return [account_of(row) for row in db.scalars(select(UserRow).order_by(UserRow.role, UserRow.name))]

    def remove(self, name: str) -> None:
        """Delete the account and log out its browsers (its corrections and audit entries stay)."""
        with Session(self.engine) as db, db.begin():
            row = db.get(UserRow, name)
            if row is None:
                raise MifidelityError(f"no account named {name!r}")
            db.delete(row)
            db.execute(delete(WebSessionRow).where(WebSessionRow.username == name))

    def set_password(self, name: str, password: str) -> None:
        """A new password; every browser logged in as this account is logged out."""
        password = check_password(password)
        with Session(self.engine) as db, db.begin():
            row = db.get(UserRow, name)
            if row is None:
                raise MifidelityError(f"no account named {name!r}")
            row.password_hash, row.password_changed_at = hash_password(password), utcnow()
            db.execute(delete(WebSessionRow).where(WebSessionRow.username == name))

    def authenticate(self, name: str, password: str) -> Account | None:
        """The account when the password is right, else None (as slow for unknown names as for wrong passwords)."""
        with Session(self.engine) as db:
            row = db.get(UserRow, name) if name and len(name) <= MAX_NAME_LENGTH else None
            stored = row.password_hash if row is not None else _dummy_hash()
            account = account_of(row) if row is not None else None
        if len(password) > MAX_PASSWORD_LENGTH:
            password, account = "", None  # still hashed below: same time, never a match
        return account if verify_password(password, stored) and account is not None else None
