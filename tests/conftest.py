"""Shared pytest set-up: fixtures for the real wrangler + local Cloudflare API emulator, and
the deploy tests' fleet repository."""

import pytest

pytest_plugins = ["tests.wrangler_fixtures", "tests.deploy_helpers"]


@pytest.fixture(autouse=True)
def _close_api_clients(monkeypatch: pytest.MonkeyPatch):
    """Every Cloudflare API client a test opens is closed when the test ends (pytest runs with
    filterwarnings=error: a leaked connection would fail a later, unrelated test)."""
    from helm_guard.cloudflare import api

    opened: list[api.Client] = []
    real = api.Client.__init__

    def init(self: api.Client, *args: object, **kw: object) -> None:
        real(self, *args, **kw)  # type: ignore[arg-type]
        opened.append(self)

    monkeypatch.setattr(api.Client, "__init__", init)
    yield
    for client in opened:
        client.close()
