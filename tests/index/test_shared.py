"""One index, many hosts, through PostgreSQL (nectarine.index.shared, nectarine.api.share).

Unit tests of publishing and pulling against the real PostgreSQL of the test setup, then two real
service processes (``nectarine serve``), each with its own index folder, following one index: a
re-index on one reaches the other while it keeps answering.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from nectarine import Nectarine, ingest
from nectarine.errors import ShareError
from nectarine.index import shared
from nectarine.index.store import current_generation
from support.live import free_port, wait_ready
from support.paths import KB
from support.postgres import fresh_database

pytestmark = pytest.mark.slow  # PostgreSQL, and service processes: the integration tier

KEY = {"X-Site-Key": "demo-public-key"}
EXTRA = "---\ntitle: Quasar tokens\nsource: docs\n---\n\n## Quasar tokens\n\nA quasar token expires after 41 days; renew it in Settings.\n"
# How long a re-index on one host may take to reach another (README, "One index for many hosts"):
# the poll interval plus the download and the load; generous for a loaded 2-core test machine.
PROPAGATION_LIMIT = 20.0


@pytest.fixture
def pg():
    with fresh_database("index_share") as url:
        yield url


@pytest.fixture
def corpus(tmp_path) -> Path:
    dest = tmp_path / "kb"
    shutil.copytree(KB, dest)
    return dest


def build(corpus: Path, root: Path, fake_embedder, extra: str | None = None) -> str:
    if extra is not None:
        (corpus / "docs" / f"{extra}.md").write_text(EXTRA.replace("Quasar", extra.capitalize()))
    return ingest([corpus], root, embedder=fake_embedder).generation


def rows(url: str, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(shared._pg_url(url)) as con:
        return con.execute(sql).fetchall()


def test_publish_then_pull_gives_the_same_generation(pg, corpus, tmp_path, fake_embedder):
    a, b = tmp_path / "a", tmp_path / "b"
    gen = build(corpus, a, fake_embedder)
    assert shared.latest(pg) is None and shared.latest_age(pg) is None and shared.pull_latest(pg, b).reason == "nothing published"
    up = shared.publish_generation(pg, a, part_bytes=4096)  # small parts: files span several rows
    assert up.uploaded and up.generation == gen and 0 <= shared.latest_age(pg) < 60
    assert rows(pg, f"SELECT max(part) FROM {shared.PARTS}")[0][0] > 0
    assert shared.publish_generation(pg, a).uploaded is False  # idempotent

    pulled = shared.pull_latest(pg, b)  # an empty folder
    assert pulled.pulled and pulled.live == gen == current_generation(b) and pulled.bytes == up.bytes
    cmp = filecmp.dircmp(a / gen, b / gen)
    assert not cmp.diff_files and not cmp.left_only and not cmp.right_only
    assert not list(b.glob(".staging-*"))
    nec = Nectarine.load(b, embedder=fake_embedder)
    assert nec.search("idle session timeout", k=1)
    assert shared.pull_latest(pg, b).reason == "up to date"
    assert shared.pull_latest(pg, a).reason == "up to date"


def test_a_half_uploaded_generation_is_never_visible(pg, corpus, tmp_path, fake_embedder, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    first = build(corpus, a, fake_embedder)
    shared.publish_generation(pg, a)
    second = build(corpus, a, fake_embedder, extra="quasar")
    seen = []
    real_parts = shared._parts

    def dying_parts(path, part_bytes):
        for i, block in enumerate(real_parts(path, part_bytes)):
            yield block
            if len(seen) == 3:  # a few parts are in PostgreSQL (uncommitted): what does another connection see?
                raise ConnectionResetError("the uploader died")
            seen.append((shared.latest(pg).name, rows(pg, f"SELECT count(*) FROM {shared.PARTS} WHERE generation = '{second}'")[0][0]))

    monkeypatch.setattr(shared, "_parts", dying_parts)
    with pytest.raises(ConnectionResetError):
        shared.publish_generation(pg, a, second, part_bytes=16 * 1024)
    assert seen == [(first, 0)] * 3  # while uploading: the previous generation, none of the new parts
    assert [p.name for p in shared.published(pg)] == [first]
    assert rows(pg, f"SELECT count(*) FROM {shared.PARTS} WHERE generation = '{second}'")[0][0] == 0  # rolled back
    assert shared.pull_latest(pg, b).live == first

    monkeypatch.setattr(shared, "_parts", real_parts)
    shared.publish_generation(pg, a, second)  # the retry publishes it whole
    assert shared.pull_latest(pg, b).live == second


def test_a_checksum_mismatch_keeps_the_live_generation(pg, corpus, tmp_path, fake_embedder):
    a, b = tmp_path / "a", tmp_path / "b"
    first = build(corpus, a, fake_embedder)
    shared.publish_generation(pg, a)
    assert shared.pull_latest(pg, b).live == first
    second = build(corpus, a, fake_embedder, extra="quasar")
    shared.publish_generation(pg, a)
    import psycopg

    with psycopg.connect(shared._pg_url(pg)) as con:  # one flipped byte in the stored vectors
        con.execute(f"UPDATE {shared.PARTS} SET data = set_byte(data, 100, (get_byte(data, 100) + 1) %% 256) "
                    "WHERE generation = %s AND path = 'vectors.npy' AND part = 0", (second,))
    with pytest.raises(ShareError, match="checksum"):
        shared.pull_latest(pg, b)
    assert current_generation(b) == first and not (b / second).exists() and not list(b.glob(".staging-*"))
    Nectarine.load(b, embedder=fake_embedder).search("session timeout", k=1)  # still serves


def test_only_the_last_two_generations_are_kept(pg, corpus, tmp_path, fake_embedder):
    a = tmp_path / "a"
    gens = []
    for extra in (None, "quasar", "pulsar"):
        gens.append(build(corpus, a, fake_embedder, extra=extra))
        shared.publish_generation(pg, a)
    assert [p.name for p in shared.published(pg)] == gens[:0:-1]
    assert {r[0] for r in rows(pg, f"SELECT DISTINCT generation FROM {shared.PARTS}")} == set(gens[1:])


def test_a_local_build_not_yet_published_is_not_replaced(pg, corpus, tmp_path, fake_embedder):
    """Its upload failed (or is pending): the older published generation must not win over it."""
    a, b = tmp_path / "a", tmp_path / "b"
    first = build(corpus, a, fake_embedder)
    shared.publish_generation(pg, a)
    local = build(corpus, a, fake_embedder, extra="quasar")  # not published
    assert shared.pull_latest(pg, a).reason == "local is newer" and current_generation(a) == local
    # Another host publishes a newer one: that one wins everywhere.
    shutil.copytree(a, b, ignore=shutil.ignore_patterns(".share*"))
    (b / "CURRENT").write_text(first + "\n")
    other = build(corpus, b, fake_embedder, extra="pulsar")
    shared.publish_generation(pg, b)
    assert shared.pull_latest(pg, a).live == other


def test_an_unreachable_share_is_a_share_error(tmp_path):
    with pytest.raises(ShareError, match="cannot reach"):
        shared.pull_latest(f"postgresql://postgres@127.0.0.1:{free_port()}/none", tmp_path / "x")


# --------------------------------------------------------------------------- two hosts


def start(tmp_path: Path, name: str, index: Path, corpus: Path, pg: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "NECTARINE_ADMIN_TOKEN": "tok", "NECTARINE_DATABASE_URL": f"sqlite:///{tmp_path / f'{name}.sqlite'}",
           "NECTARINE_INDEX_SHARE": pg, "NECTARINE_INDEX_SHARE_SECONDS": "0.5", "NECTARINE_REFRESH_SECONDS": "0.2",
           "NECTARINE_RATE_LIMIT": "100000/minute", "NECTARINE_RATE_LIMIT_ANY": "100000/minute",
           "NECTARINE_RATE_LIMIT_ADMIN": "100000/minute", "NECTARINE_EMBED_THREADS": "1"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    cli = Path(sys.executable).with_name("nectarine")
    log = (tmp_path / f"{name}.log").open("w")
    proc = subprocess.Popen([str(cli), "serve", "--index", str(index), "--corpus", str(corpus), "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}"


def test_two_hosts_follow_one_index_through_postgresql(pg, corpus, tmp_path, fake_embedder):
    """Host A (index built here) and host B (empty folder) share only PostgreSQL. B pulls A's index at
    start; a re-index through A's admin route reaches B, which answers every question meanwhile."""
    a, b = tmp_path / "host-a", tmp_path / "host-b"
    first = build(corpus, a, fake_embedder)
    procs = []
    try:
        proc_a, url_a = start(tmp_path, "a", a, corpus, pg)
        procs.append(proc_a)
        wait_ready(url_a, timeout=120)  # A publishes its index: nothing was published yet
        assert httpx.get(f"{url_a}/readyz").json()["share"]["published"] == first
        proc_b, url_b = start(tmp_path, "b", b, tmp_path / "unused", pg)
        procs.append(proc_b)
        wait_ready(url_b, timeout=120)
        ready_b = httpx.get(f"{url_b}/readyz").json()
        assert ready_b["generation"] == first and ready_b["share"]["outcome"] == "ok"

        statuses: list[int] = []
        stop = threading.Event()

        def ask_b() -> None:
            with httpx.Client(timeout=30) as client:
                while not stop.is_set():
                    r = client.post(f"{url_b}/v1/ask", json={"question": "When does a quasar token expire?"}, headers=KEY)
                    statuses.append(r.status_code)

        asker = threading.Thread(target=ask_b, daemon=True)
        asker.start()
        time.sleep(1.0)
        (corpus / "docs" / "quasar.md").write_text(EXTRA)
        report = httpx.post(f"{url_a}/v1/admin/reindex", headers={"Authorization": "Bearer tok"}, timeout=120).json()
        published_at = time.monotonic()
        assert report["generation"] != first and report["added"] == 1
        deadline = published_at + PROPAGATION_LIMIT
        while (gen_b := httpx.get(f"{url_b}/readyz").json()["generation"]) != report["generation"] and time.monotonic() < deadline:
            time.sleep(0.05)
        propagation = time.monotonic() - published_at
        time.sleep(1.0)  # questions keep flowing on the new generation
        stop.set()
        asker.join(timeout=30)
        print(f"\npropagation A -> B: {propagation:.2f} s; questions to B meanwhile: {len(statuses)}")
        assert gen_b == report["generation"], f"B still on {gen_b} after {PROPAGATION_LIMIT} s"
        assert statuses and set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
        answer = httpx.post(f"{url_b}/v1/ask", json={"question": "When does a quasar token expire?"}, headers=KEY).json()["answer"]
        assert any("quasar" in (c.get("title") or "").lower() for c in answer["citations"]), answer
        share_b = httpx.get(f"{url_b}/readyz").json()["share"]
        assert share_b["pulled"] == report["generation"] and share_b["error"] is None
        assert current_generation(b) == report["generation"] and (b / report["generation"] / "manifest.json").is_file()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_a_service_whose_share_is_down_keeps_answering_and_says_why(tmp_path, fake_embedder):
    from support.live import served_corpus

    down = f"postgresql://nectarine:pw@127.0.0.1:{free_port()}/nectarine"
    with served_corpus([KB], tmp_path, fake_embedder, index_share=down, index_share_seconds=0.2) as (url, nec):
        live = nec.reader.folder.name
        deadline = time.monotonic() + 20
        while (share := httpx.get(f"{url}/readyz").json()["share"])["outcome"] != "failed" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert share["outcome"] == "failed" and "cannot reach" in share["error"] and "127.0.0.1" not in share["error"]
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 200 and ready.json()["generation"] == live
        assert httpx.post(f"{url}/v1/ask", json={"question": "idle session timeout?"}, headers=KEY).status_code == 200


def test_a_generation_this_host_cannot_serve_is_refused_before_download(pg, corpus, tmp_path, fake_embedder):
    import psycopg

    a, b = tmp_path / "a", tmp_path / "b"
    first = build(corpus, a, fake_embedder)
    shared.publish_generation(pg, a)
    shared.pull_latest(pg, b)
    second = build(corpus, a, fake_embedder, extra="quasar")
    shared.publish_generation(pg, a)
    with psycopg.connect(shared._pg_url(pg)) as con:  # as if built with another model
        con.execute(f"UPDATE {shared.GENERATIONS} SET manifest = jsonb_set(manifest, '{{model,vector_space}}', '\"other-model\"') "
                    "WHERE name = %s", (second,))
    with pytest.raises(ShareError, match="restart"):
        shared.pull_latest(pg, b, same_model=True)
    assert current_generation(b) == first and not (b / second).exists()
    with psycopg.connect(shared._pg_url(pg)) as con:  # an index format from a newer Nectarine
        con.execute(f"UPDATE {shared.GENERATIONS} SET manifest = jsonb_set(manifest, '{{format_version}}', '99') WHERE name = %s", (second,))
    with pytest.raises(ShareError, match="format 99"):
        shared.pull_latest(pg, b)
    assert current_generation(b) == first


def test_the_cli_publishes_and_pulls(pg, corpus, tmp_path, fake_embedder):
    from typer.testing import CliRunner

    from nectarine.cli import app

    runner = CliRunner()
    a, b = tmp_path / "a", tmp_path / "b"
    nothing = runner.invoke(app, ["index", "pull", "--from", pg, "--index", str(b)])
    assert nothing.exit_code == 1 and "nothing is published" in nothing.output
    gen = build(corpus, a, fake_embedder)
    up = runner.invoke(app, ["index", "publish", "--to", pg, "--index", str(a)])
    assert up.exit_code == 0 and f"published {gen}" in up.output and "postgres@" in up.output
    down = runner.invoke(app, ["index", "pull", "--index", str(b)], env={"NECTARINE_INDEX_SHARE": pg})
    assert down.exit_code == 0 and f"pulled {gen}" in down.output and current_generation(b) == gen
    listed = runner.invoke(app, ["index", "list", "--from", pg])
    assert listed.exit_code == 0 and gen in listed.output
