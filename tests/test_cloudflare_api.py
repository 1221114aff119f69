"""The Cloudflare API door (`helm_guard.cloudflare.api`) against the local emulator."""

from __future__ import annotations

import pytest

from helm_guard.cloudflare import api
from helm_guard.emulator import CloudflareEmulator


@pytest.fixture()
def emu():
    with CloudflareEmulator(token="tok") as e:
        yield e


def client_for(emu, **kw):
    env = {"CLOUDFLARE_API_TOKEN": "tok", "CLOUDFLARE_ACCOUNT_ID": emu.account_id,
           "CLOUDFLARE_API_BASE_URL": emu.base_url}
    return api.Client.from_env(env, **kw)


def test_reads_versions_deployments_scripts(emu):
    vid = emu.seed_version("helm-acme", [{"type": "d1", "name": "DB", "id": "x"}], deploy=True)
    c = client_for(emu)
    assert [s["id"] for s in c.scripts()] == ["helm-acme"]
    deps = c.deployments("helm-acme")
    assert deps[0]["versions"][0]["version_id"] == vid
    assert c.version("helm-acme", vid)["resources"]["bindings"][0]["id"] == "x"
    assert c.requests == 3


def test_api_error_is_a_cloudflare_error_without_the_token(emu):
    c = client_for(emu, max_retries=0)
    with pytest.raises(api.CloudflareError) as err:
        c.deployments("helm-nope")
    assert err.value.status == 404 and err.value.code == 10007
    assert "tok" not in str(err.value)


def test_retries_a_500_then_succeeds(emu):
    emu.seed_version("helm-acme", [], deploy=True)
    emu.fail_next("GET", r"/deployments$", "500")
    c = client_for(emu, max_retries=2)
    assert c.deployments("helm-acme")


def test_settings_refuse_missing_and_cleartext_remote():
    with pytest.raises(api.CloudflareError, match="TOKEN"):
        api.settings_from_env({})
    with pytest.raises(api.CloudflareError, match="ACCOUNT_ID"):
        api.settings_from_env({"CLOUDFLARE_API_TOKEN": "t"})
    good = {"CLOUDFLARE_API_TOKEN": "t", "CLOUDFLARE_ACCOUNT_ID": "0" * 32}
    assert api.settings_from_env(good).base_url == api.DEFAULT_BASE_URL
    for bad in ("http://evil.example/client/v4", "ftp://127.0.0.1/x", "http://10.0.0.1/x"):
        with pytest.raises(api.CloudflareError, match="loopback"):
            api.settings_from_env({**good, "CLOUDFLARE_API_BASE_URL": bad})
    assert api.settings_from_env({**good, "CLOUDFLARE_API_BASE_URL": "http://127.0.0.1:9/v4"})


def test_rate_limiter_waits_for_tokens():
    now = [0.0]
    slept: list[float] = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    lim = api.RateLimiter(rate=2.0, burst=2, clock=lambda: now[0], sleep=sleep)
    assert lim.acquire() == 0 and lim.acquire() == 0
    assert lim.acquire() == pytest.approx(0.5)
    assert sum(slept) == pytest.approx(0.5)


def test_check_never_imports_the_sdk():
    import subprocess
    import sys
    code = ("import sys, helm_guard.cli as c\n"
            "import helm_guard.commands.check\n"
            "assert 'cloudflare' not in sys.modules, 'check imported the SDK'\n")
    subprocess.run([sys.executable, "-c", code], check=True)
