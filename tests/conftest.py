"""Shared pytest set-up: fixtures for the real wrangler + local Cloudflare API emulator, and
the deploy tests' fleet repository."""

pytest_plugins = ["tests.wrangler_fixtures", "tests.deploy_helpers"]
