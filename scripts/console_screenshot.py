"""Refresh the README's screenshots of the docs team's console: the overview (docs/console-overview.png)
and the coverage gaps (docs/console-gaps.png).

    .venv/bin/python scripts/console_screenshot.py [--index indexes/nectain] [--turns 20000]

Seeds a throw-away database with scripts/seed_turns.py, serves the console on loopback over the given
index (built from corpus/ with the real model, which groups the questions by meaning), signs in and
takes the pictures in Debian's Chromium through Playwright, like the browser tests.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
from seed_turns import seed  # noqa: E402

DOCS = ROOT / "docs"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def main() -> None:
    import uvicorn
    from playwright.sync_api import expect, sync_playwright

    from nectarine import Nectarine
    from nectarine.api import Settings, create_app
    from nectarine.store import TicketStore

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", default=str(ROOT / "indexes" / "nectain"))
    ap.add_argument("--turns", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=60)
    args = ap.parse_args()

    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='console-shot-')) / 'db.sqlite'}"
    seed(url, args.turns, args.days)
    nec = Nectarine.load(args.index)
    nec.attach_store(TicketStore(url))
    token = "screenshot-admin-token"
    app = create_app(Settings(admin_token=token, database_url=url, corpus=str(ROOT / "corpus"), rate_limit="1000/minute",
                              rate_limit_any="100000/minute", rate_limit_admin="100000/minute"), nectarine=nec)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=FLAGS)
            page = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
            page.goto(f"{base}/admin/login")
            page.get_by_test_id("token").fill(token)
            page.get_by_test_id("sign-in").click()
            expect(page.get_by_test_id("chart-latency")).to_have_attribute("data-drawn", "1")
            page.screenshot(path=DOCS / "console-overview.png", full_page=True)
            print(f"wrote {DOCS / 'console-overview.png'}")
            page.get_by_test_id("nav-gaps").click()
            expect(page.get_by_test_id("gap-link").first).to_be_visible(timeout=60_000)
            page.screenshot(path=DOCS / "console-gaps.png")
            print(f"wrote {DOCS / 'console-gaps.png'}")
            browser.close()
    finally:
        server.should_exit = True


if __name__ == "__main__":
    main()
