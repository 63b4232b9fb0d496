"""Portal fixtures (the output folder and the accounts are described in portal/helpers.py).

Password hashing uses a smaller scrypt cost here (the production cost is tested in test_accounts).
"""

import pytest

from mifidelity.portal import accounts as accounts_module
from mifidelity.portal.app import create_app
from mifidelity.portal.security import PortalSettings
from mifidelity.portal.tables import PortalStore

from portal.helpers import PASSWORDS, Browser, add_accounts, build_out


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts_module, "SCRYPT_N", 2 ** 10)
        yield


@pytest.fixture(scope="module")
def portal_out(tmp_path_factory):
    return build_out(tmp_path_factory.mktemp("portal"))


@pytest.fixture(scope="module")
def portal_app(portal_out):
    store = PortalStore.for_out(portal_out)
    add_accounts(store)
    return create_app(portal_out, store=store, settings=PortalSettings())


@pytest.fixture
def fresh_app(tmp_path):
    """A portal of its own (for tests that change state: throttling, password changes)."""
    out = build_out(tmp_path)
    store = PortalStore.for_out(out)
    add_accounts(store)
    return create_app(out, store=store, settings=PortalSettings())


@pytest.fixture(scope="module")
def browsers(portal_app):
    """One logged-in browser per account, plus an anonymous one (key None)."""
    logged = {None: Browser(portal_app)}
    for name in PASSWORDS:
        browser = Browser(portal_app)
        assert browser.login(name).status_code == 303
        logged[name] = browser
    return logged
