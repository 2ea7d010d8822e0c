"""Benchmark: re-crawling an unchanged website costs one 304 per page (issue "Sources", part 2).

Serves a generated site of ``--pages`` HTML pages (default 2,000) with a sitemap and robots.txt from a
real HTTP server on loopback (``tests/support/site.py``: ``http.server`` in a thread of this process,
answering ETag/If-None-Match with 304), then times:

1. the first ingest of the sitemap (every page fetched, parsed, chunked, embedded with the hashing fake
   embedder ``nectarine/index/fake.py``, and written);
2. a re-ingest with nothing changed (every page one conditional GET answered 304; nothing parsed or
   embedded; the index is found up to date);
3. a re-ingest after 1% of the pages changed.

The crawl runs with ``rate=0`` (no rate limit: it is our own server on loopback). With the default
polite rate of 8 requests per second, 2,000 pages take at least 250 s by design; the figure below is
the cost of the crawler itself.

    .venv/bin/python scripts/bench_crawl.py
    .venv/bin/python scripts/bench_crawl.py --pages 500 --rate 8
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from support.site import Page, Site, html_page, sitemap  # noqa: E402

WORDS = "account approval audit backup billing certificate connector dashboard export gateway invoice quota role webhook".split()


def body(i: int, version: int = 0) -> str:
    words = " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(120))
    return html_page(f"Page {i}", f"Page {i} (revision {version}) explains {words}.", date="2026-11-01")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--rate", type=float, default=0.0, help="requests per second (0: no limit)")
    args = ap.parse_args()

    from nectarine import ingest

    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    print(f"machine: {cpu}, {os.cpu_count()} cores, load {', '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M %Z')}")
    site = Site()
    paths = [f"/docs/page-{i}.html" for i in range(args.pages)]
    with site.serve() as base, tempfile.TemporaryDirectory(prefix="bench-crawl-") as tmp:
        site.pages["/robots.txt"] = Page("User-agent: *\nAllow: /\n", content_type="text/plain")
        site.pages["/sitemap.xml"] = Page(sitemap(base, paths), content_type="application/xml")
        for i, p in enumerate(paths):
            site.pages[p] = Page(body(i))
        index = Path(tmp) / "index"
        options = {"rate": args.rate, "max_pages": args.pages + 10}

        def run(label: str) -> None:
            before = sum(site.not_modified.values())
            requests_before = sum(site.requests.values())
            t0 = time.perf_counter()
            r = ingest([f"{base}/sitemap.xml"], index, model="fake", web_options=options)
            s = time.perf_counter() - t0
            print(f"{label:<28} {s:7.1f} s  {args.pages / s:7.0f} pages/s  requests {sum(site.requests.values()) - requests_before:>5}  "
                  f"304s {sum(site.not_modified.values()) - before:>5}  documents {r.documents}  embedded {r.embedded}  "
                  f"up to date {r.up_to_date}  skipped {len(r.skipped)}")

        run("first crawl")
        run("re-crawl, nothing changed")
        for i in range(0, args.pages, 100):
            site.pages[paths[i]] = Page(body(i, version=1))
        run("re-crawl, 1% changed")


if __name__ == "__main__":
    main()
