"""Upload and pull times of the index share (nectarine.index.shared) on a PostgreSQL server.

    eval "$(bash scripts/postgres.sh)"
    .venv/bin/python scripts/bench_index_share.py indexes/default            # an existing index
    .venv/bin/python scripts/bench_index_share.py --synthetic 20000          # a fake-embedder index of ~N chunks

Each run uses a fresh database on the server of $NECTARINE_TEST_POSTGRES_URL (dropped afterwards).
Upload and pull each run in a child process, so their peak memory (max RSS) is their own.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path


def child(mode: str, url: str, root: str) -> None:
    from nectarine.index import shared

    t0 = time.perf_counter()
    if mode == "publish":
        r = shared.publish_generation(url, root)
        out = {"bytes": r.bytes}
    elif mode == "pull":
        r = shared.pull_latest(url, root)
        out = {"bytes": r.bytes, "reason": r.reason}
    else:  # check: the poll's cheap query, repeated
        n = 50
        for _ in range(n):
            shared.behind(url, root)
        out = {"per_check_ms": (time.perf_counter() - t0) / n * 1000}
    out["seconds"] = time.perf_counter() - t0
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over fork and exec from the parent (which built the index).
    hwm = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM:"))
    out["max_rss_mb"] = int(hwm.split()[1]) / 1024
    print(json.dumps(out))


def run(mode: str, url: str, root: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", mode, url, str(root)], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def synthetic(n_chunks: int, where: Path) -> Path:
    """A fake-embedder index of about ``n_chunks`` chunks: pages of sections built from the corpus's words."""
    from nectarine import ingest

    words = " ".join(p.read_text(errors="ignore") for p in Path("corpus").rglob("*.md")).split()
    words = [w for w in words if w.isalpha()] or ["lorem", "ipsum"]
    rng = random.Random(7)
    docs = where / "docs"
    docs.mkdir(parents=True)
    per_doc = 10
    for d in range(max(1, n_chunks // per_doc)):
        sections = [f"## Section {s} of page {d}\n\n" + " ".join(rng.choices(words, k=120)) + "." for s in range(per_doc)]
        (docs / f"page-{d:05d}.md").write_text(f"---\ntitle: Page {d}\nsource: docs\n---\n\n" + "\n\n".join(sections) + "\n")
    t0 = time.perf_counter()
    report = ingest([where], where.parent / "index", model="fake")
    print(f"built {report.chunks} chunks in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return where.parent / "index"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(*sys.argv[2:5])
    ap = argparse.ArgumentParser()
    ap.add_argument("index", nargs="?")
    ap.add_argument("--synthetic", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    base = os.environ.get("NECTARINE_TEST_POSTGRES_URL")
    if not base:
        sys.exit('no PostgreSQL: eval "$(bash scripts/postgres.sh)" first')
    import psycopg

    tmp = Path(tempfile.mkdtemp(prefix="nectarine-share-bench-"))
    admin = base.replace("postgresql+psycopg://", "postgresql://")
    name = f"share_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    url = base.rsplit("/", 1)[0] + f"/{name}"
    try:
        if args.synthetic:
            src = synthetic(args.synthetic, tmp / "corpus")
        else:
            src = tmp / "source"
            shutil.copytree(args.index, src, ignore=shutil.ignore_patterns(".share*", ".sync.lock"))
        gen = (src / "CURRENT").read_text().strip()
        size = sum(p.stat().st_size for p in (src / gen).rglob("*") if p.is_file())
        manifest = json.loads((src / gen / "manifest.json").read_text())
        print(f"index: {manifest['counts'].get('chunks')} chunks, {size / 1e6:.1f} MB in {gen}")
        for i in range(args.repeat):
            with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as con:
                con.execute("DROP TABLE IF EXISTS nectarine_index_parts, nectarine_index_generations")
            (src / ".share.json").unlink(missing_ok=True)
            up = run("publish", url, src)
            dest = tmp / f"replica-{i}"
            down = run("pull", url, dest)
            check = run("check", url, dest)
            print(f"run {i + 1}: upload {up['seconds']:.2f} s (max RSS {up['max_rss_mb']:.0f} MB), "
                  f"pull {down['seconds']:.2f} s (max RSS {down['max_rss_mb']:.0f} MB), poll check {check['per_check_ms']:.1f} ms")
            shutil.rmtree(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
