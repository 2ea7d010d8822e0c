"""One Chromium per test module (Debian's, driven by Playwright; see tests/support/browser.py)."""

import pytest

from support.browser import chromium


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b
