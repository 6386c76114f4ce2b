"""The browser tests run against the same local site as the end-to-end tests."""

from tests.e2e.conftest import site

__all__ = ["site"]
