"""Shared pytest set-up: fixtures for the real wrangler + local Cloudflare API emulator."""

pytest_plugins = ["tests.wrangler_fixtures"]
