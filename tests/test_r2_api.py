"""R2 objects through the API door (`helm_guard.cloudflare.r2`) against the emulator."""

from __future__ import annotations

import pytest

from helm_guard.cloudflare import api, r2
from helm_guard.emulator import CloudflareEmulator


@pytest.fixture()
def emu():
    with CloudflareEmulator(token="tok") as e:
        yield e


def client_for(emu: CloudflareEmulator) -> api.Client:
    env = {"CLOUDFLARE_API_TOKEN": "tok", "CLOUDFLARE_ACCOUNT_ID": emu.account_id,
           "CLOUDFLARE_API_BASE_URL": emu.base_url}
    return api.Client.from_env(env, max_retries=0)


def test_put_get_list_with_prefix_and_cursor(emu: CloudflareEmulator) -> None:
    emu.add_r2_bucket("helm-acme-assets")
    c = client_for(emu)
    for i in range(45):
        r2.put_object(c, "helm-acme-assets", f"backups/db/2026-05-{i:02d}.sql", b"x" * i)
    r2.put_object(c, "helm-acme-assets", "audit_archive/2026-05.jsonl", b"{}\n")
    keys = [o.key for o in r2.list_objects(c, "helm-acme-assets", "backups/db/", per_page=20)]
    assert keys == [f"backups/db/2026-05-{i:02d}.sql" for i in range(45)]
    pages = [r for r in emu.requests if r["method"] == "GET" and r["path"].endswith("/objects")]
    assert len(pages) == 3 and pages[1]["query"]["cursor"] == keys[19]
    assert r2.get_object(c, "helm-acme-assets", "backups/db/2026-05-03.sql") == b"xxx"
    assert r2.get_object(c, "helm-acme-assets", "backups/db/nope.sql") is None
    put = [r for r in emu.requests if r["method"] == "PUT"][0]
    assert put["body"]["raw_bytes"] == 0  # recorded as size + digest, never the bytes


def test_unknown_bucket_and_bad_names(emu: CloudflareEmulator) -> None:
    c = client_for(emu)
    with pytest.raises(api.CloudflareError) as err:
        r2.get_object(c, "helm-nope-assets", "k")
    assert err.value.code == 10006
    for bad in ("Bad_Name", "a", "../x"):
        with pytest.raises(api.CloudflareError, match="bucket"):
            list(r2.list_objects(c, bad))
    for key in ("", "/abs", "a/../b", "x\ny"):
        with pytest.raises(api.CloudflareError, match="key"):
            r2.get_object(c, "helm-acme-assets", key)


def test_put_answers_the_uploaded_objects_metadata(emu: CloudflareEmulator) -> None:
    import hashlib

    emu.add_r2_bucket("helm-acme-assets")
    c = client_for(emu)
    meta = r2.put_object(c, "helm-acme-assets", "backups/db/x.sql", b"abc")
    assert meta["key"] == "backups/db/x.sql" and meta["size"] == "3"
    assert meta["etag"] == hashlib.md5(b"abc").hexdigest()
    assert emu.r2_get_object("helm-acme-assets", "backups/db/x.sql") == b"abc"
