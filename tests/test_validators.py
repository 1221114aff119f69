"""Every validator that guards a name, id or ref before use matches the whole value: Python's
`$` also matches before a trailing line break (JavaScript's, wrangler's, does not), so each
uses `\\Z` and a value with a trailing newline is refused."""

from __future__ import annotations

import re

import pytest

from helm_guard import digest, gitio, plan, resolve, slugs
from helm_guard.cloudflare import wrangler
from helm_guard.commands import deploy, gate, verify
from helm_guard.fleet import UUID_RE

UUID = "1a9e6c1e-0d6a-4c33-9b8e-6b2f3f6f0a01"
CASES: list[tuple[str, re.Pattern[str], str]] = [
    ("slug", slugs.SLUG_RE, "acme"),
    ("registry uuid", UUID_RE, UUID),
    ("wrangler worker name", resolve._NAME_RE, "helm-acme"),
    ("wrangler bucket name", resolve._BUCKET_RE, "helm-acme-assets"),
    ("worker name", wrangler.WORKER_NAME_RE, "helm-acme"),
    ("version id", wrangler.VERSION_ID_RE, UUID),
    ("env name", wrangler.ENV_NAME_RE, "staging"),
    ("git ref", gitio._REF_RE, "refs/heads/main"),
    ("trailer key", gitio._TRAILER_KEY_RE, "Helm-Rebind"),
    ("digest", digest.DIGEST_RE, "sha256:" + "0" * 64),
    ("plan sha", plan._SHA_RE, "a" * 40),
    ("plan env", plan._ENV_RE, "staging"),
    ("deploy env", deploy._ENV_RE, "staging"),
    ("gate remote", gate._REMOTE_RE, "origin"),
    ("verify sha", verify._SHA_RE, "a" * 40),
]


@pytest.mark.parametrize(("what", "pattern", "good"), CASES, ids=[c[0] for c in CASES])
def test_validator_refuses_a_trailing_newline(what: str, pattern: re.Pattern[str],
                                              good: str) -> None:
    assert pattern.match(good), what
    assert not pattern.match(good + "\n"), what
    assert not pattern.match(good + "\nx"), what
