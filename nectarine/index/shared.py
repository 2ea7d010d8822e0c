"""One index, many hosts: index generations published into PostgreSQL, pulled by every replica.

Each host keeps its own local index folder (:mod:`nectarine.index.store`) and serves from it (FAISS
and BM25 memory-mapped, no network on the query path). PostgreSQL only carries whole generations:

* :func:`publish_generation` stores a generation folder's files in ``nectarine_index_parts`` as
  bytea rows of at most :data:`PART_BYTES` (8 MiB; a file is streamed, never read whole), then its row
  in ``nectarine_index_generations`` (manifest, file list with sizes and SHA-256s, a checksum over
  that list) -- all in **one transaction**, so a half-uploaded generation is never visible and an
  upload that dies leaves nothing behind. Only the newest :data:`KEEP_PUBLISHED` (2) are kept.
* :func:`pull_latest` asks for the newest published generation (one small query). When the local
  ``CURRENT`` names another one, it downloads it (same snapshot: a concurrent prune cannot cut it
  short) into ``.staging-<uuid>`` under the local root, checks every file's size and SHA-256 and the
  generation's checksum, renames the folder into place and publishes it locally with
  :func:`~nectarine.index.store.publish`; ``Nectarine.refresh()`` then switches to it as it does for
  a local re-index. Any failure removes the staging folder and raises :class:`ShareError`: the local
  live generation is untouched. A generation in an index format this version cannot read (or, with
  ``same_model=True``, built in another vector space than the live one) is refused before download.

A small ``.share.json`` in the local root remembers the last generation exchanged with PostgreSQL
(pulled or published). If the newest published generation is that one and the local ``CURRENT`` is
another, the local one was built here after it (its upload failed, or is pending), and it is not
replaced by the older published one.

>>> _pg_url("postgresql+psycopg://u:p@db:5432/nec")
'postgresql://u:p@db:5432/nec'
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import ShareError
from .store import CURRENT, _fsync_tree, current_generation, folder_lock, prune_generations, publish

PART_BYTES = 8 * 1024 * 1024
KEEP_PUBLISHED = 2
GENERATIONS = "nectarine_index_generations"
PARTS = "nectarine_index_parts"
STATE_FILE = ".share.json"
LOCK_FILE = ".share.lock"
SCHEMA_LOCK = 727275  # pg_advisory_xact_lock key for the idempotent CREATE TABLE (the ticket store's is 727274)
GENERATION_NAME = re.compile(r"^gen-[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")

SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS {GENERATIONS} (
        seq BIGSERIAL PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        manifest JSONB NOT NULL,
        files JSONB NOT NULL,
        total_bytes BIGINT NOT NULL,
        checksum TEXT NOT NULL,
        published_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        published_by TEXT NOT NULL DEFAULT '')""",
    f"""CREATE TABLE IF NOT EXISTS {PARTS} (
        generation TEXT NOT NULL,
        path TEXT NOT NULL,
        part INTEGER NOT NULL,
        data BYTEA NOT NULL,
        PRIMARY KEY (generation, path, part))""",
    # Vectors and FAISS files barely compress: store the parts out of line without pglz (faster uploads).
    f"ALTER TABLE {PARTS} ALTER COLUMN data SET STORAGE EXTERNAL",
)


@dataclass(frozen=True)
class Published:
    """A generation row: what :func:`latest` returns."""

    seq: int
    name: str
    total_bytes: int
    checksum: str
    published_at: dt.datetime | None = None


@dataclass(frozen=True)
class PublishResult:
    generation: str
    uploaded: bool  # False: it was already published
    bytes: int
    seconds: float


@dataclass(frozen=True)
class PullResult:
    published: str | None  # the newest published generation (None: nothing published)
    live: str | None  # the local live generation afterwards
    pulled: bool  # a generation was downloaded (or an existing local folder published)
    bytes: int
    seconds: float
    reason: str  # "pulled", "up to date", "nothing published", "local is newer", "busy"


# --------------------------------------------------------------------------- connections


def _pg_url(url: str) -> str:
    """A libpq URL from a SQLAlchemy-style one (``postgresql+psycopg://`` -> ``postgresql://``)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+", 1)[0] not in ("postgresql", "postgres"):
        raise ShareError(f"the index share must be a PostgreSQL URL (postgresql://USER@HOST:PORT/DB), not {_masked(url)!r}")
    return f"postgresql://{rest}"


def _masked(url: str) -> str:
    from ..store.database import masked

    return masked(url)


@contextmanager
def _connect(url: str):
    import psycopg

    try:
        conn = psycopg.connect(_pg_url(url), connect_timeout=10, application_name="nectarine-index-share")
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise ShareError(f"cannot reach the index share at {_masked(url)}: {reason}") from None
    try:
        yield conn
    except psycopg.Error as exc:
        raise ShareError(f"index share at {_masked(url)}: {exc.__class__.__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}") from None
    finally:
        conn.close()


def ensure_schema(conn) -> None:
    """Create the two tables if they are missing (idempotent; one creating session at a time)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        for statement in SCHEMA:
            conn.execute(statement)


def _latest(conn) -> Published | None:
    import psycopg

    try:
        row = conn.execute(f"SELECT seq, name, total_bytes, checksum, published_at FROM {GENERATIONS} ORDER BY seq DESC LIMIT 1").fetchone()
    except psycopg.errors.UndefinedTable:
        conn.rollback()
        return None
    return Published(*row) if row else None


def latest(url: str) -> Published | None:
    """The newest published generation, or None (nothing published yet, or no tables yet)."""
    with _connect(url) as conn:
        return _latest(conn)


def latest_age(url: str) -> float | None:
    """Seconds since the newest generation was published (by the server's clock), or None if none was."""
    import psycopg

    with _connect(url) as conn:
        try:
            row = conn.execute(f"SELECT extract(epoch FROM now() - max(published_at)) FROM {GENERATIONS}").fetchone()
        except psycopg.errors.UndefinedTable:
            return None
        return float(row[0]) if row and row[0] is not None else None


def published(url: str) -> list[Published]:
    """Every generation held in PostgreSQL, newest first."""
    import psycopg

    with _connect(url) as conn:
        try:
            rows = conn.execute(f"SELECT seq, name, total_bytes, checksum, published_at FROM {GENERATIONS} ORDER BY seq DESC").fetchall()
        except psycopg.errors.UndefinedTable:
            return []
        return [Published(*r) for r in rows]


# --------------------------------------------------------------------------- files and checksums


def _files(folder: Path) -> list[str]:
    """The generation's files as sorted POSIX paths relative to it."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _parts(path: Path, part_bytes: int) -> Iterator[bytes]:
    """The file in blocks of at most ``part_bytes`` (one empty block for an empty file)."""
    with path.open("rb") as f:
        block = f.read(part_bytes)
        yield block
        while block := f.read(part_bytes):
            yield block


def checksum(files: list[dict]) -> str:
    """The generation's checksum: SHA-256 over its file list (each path, size and content SHA-256)."""
    listing = [[f["path"], int(f["size"]), f["sha256"]] for f in sorted(files, key=lambda f: f["path"])]
    return hashlib.sha256(json.dumps(listing, separators=(",", ":")).encode()).hexdigest()


def _safe_relative(path: str) -> bool:
    parts = path.split("/")
    return bool(path) and not path.startswith("/") and "\\" not in path and all(p not in ("", ".", "..") for p in parts)


def _check_name(generation: str) -> None:
    if not GENERATION_NAME.match(generation or ""):
        raise ShareError(f"{generation!r} is not a generation name (gen-...)")


# --------------------------------------------------------------------------- local state


def _read_state(root: Path) -> dict:
    try:
        return json.loads((root / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _record(root: Path, generation: str, how: str) -> None:
    tmp = root / f".{STATE_FILE}.{uuid.uuid4().hex[:8]}"
    tmp.write_text(json.dumps({"generation": generation, "how": how,
                               "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}))
    os.replace(tmp, root / STATE_FILE)


# --------------------------------------------------------------------------- publishing


def publish_generation(url: str, root: str | Path, generation: str | None = None, *, part_bytes: int = PART_BYTES,
                       keep: int = KEEP_PUBLISHED) -> PublishResult:
    """Store generation ``generation`` of the local index ``root`` (default: its live one) in PostgreSQL.

    Parts and the generation row are written in one transaction: pullers see the whole generation or
    nothing. Already published: nothing is uploaded. Afterwards only the newest ``keep`` are kept.
    """
    root = Path(root)
    generation = generation or current_generation(root)
    if generation is None:
        raise ShareError(f"no index at {root} to publish; build one with: nectarine ingest corpus/ --index {root}")
    _check_name(generation)
    folder = root / generation
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise ShareError(f"{folder} is not a complete generation (manifest.json: {exc.__class__.__name__})") from None
    import psycopg

    t0 = time.perf_counter()
    with _connect(url) as conn:
        ensure_schema(conn)
        if conn.execute(f"SELECT 1 FROM {GENERATIONS} WHERE name = %s", (generation,)).fetchone():
            conn.rollback()
            _record(root, generation, "published")
            return PublishResult(generation, False, 0, time.perf_counter() - t0)
        conn.rollback()
        try:
            total = _upload(conn, folder, generation, manifest, part_bytes)
        except psycopg.errors.UniqueViolation:  # another process published the same generation meanwhile
            _record(root, generation, "published")
            return PublishResult(generation, False, 0, time.perf_counter() - t0)
        prune(conn, keep)
    _record(root, generation, "published")
    return PublishResult(generation, True, total, time.perf_counter() - t0)


def _upload(conn, folder: Path, generation: str, manifest: dict, part_bytes: int) -> int:
    from psycopg.types.json import Jsonb

    total = 0
    with conn.transaction():
        files = []
        with conn.cursor() as cur:
            for rel in _files(folder):
                digest, size, n = hashlib.sha256(), 0, 0
                for block in _parts(folder / rel, part_bytes):
                    cur.execute(f"INSERT INTO {PARTS} (generation, path, part, data) VALUES (%s, %s, %s, %b)",
                                (generation, rel, n, block))
                    digest.update(block)
                    size += len(block)
                    n += 1
                files.append({"path": rel, "size": size, "sha256": digest.hexdigest(), "parts": n})
                total += size
            # The generation row last, in the same transaction: it is what pullers look for.
            cur.execute(
                f"INSERT INTO {GENERATIONS} (name, manifest, files, total_bytes, checksum, published_by) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (generation, Jsonb(manifest), Jsonb(files), total, checksum(files), f"{socket.gethostname()}:{os.getpid()}"))
    return total


def prune(conn, keep: int = KEEP_PUBLISHED) -> int:
    """Delete all but the newest ``keep`` generations and their parts; returns how many generations went.

    Parts of an upload still in progress are not visible to this transaction, so they are never
    touched; a puller reading a pruned generation keeps reading it from its own snapshot."""
    with conn.transaction():
        gone = conn.execute(f"DELETE FROM {GENERATIONS} WHERE seq NOT IN (SELECT seq FROM {GENERATIONS} ORDER BY seq DESC LIMIT %s)",
                            (max(1, keep),)).rowcount
        conn.execute(f"DELETE FROM {PARTS} p WHERE NOT EXISTS (SELECT 1 FROM {GENERATIONS} g WHERE g.name = p.generation)")
    return gone


# --------------------------------------------------------------------------- pulling


def pull_latest(url: str, root: str | Path, *, wait: bool = True, same_model: bool = False) -> PullResult:
    """Make the newest published generation the local live one, if it is not already.

    ``wait=False``: if another process is pulling into the same folder, return at once ("busy").
    ``same_model``: refuse a generation built in another vector space than the local live one (a
    running service switches generations with the embedder it loaded; a restart loads the new one).
    A generation in an index format this Nectarine cannot read is always refused.
    Raises :class:`ShareError` when PostgreSQL cannot be reached or the download is damaged; the
    local live generation is then unchanged.
    """
    import psycopg

    root = Path(root)
    t0 = time.perf_counter()
    with _connect(url) as conn:
        # One snapshot for the check and the download: a generation pruned meanwhile is still read whole.
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        head = _latest(conn)

        def result(pulled: bool, nbytes: int, reason: str) -> PullResult:
            return PullResult(head.name if head else None, current_generation(root), pulled, nbytes, time.perf_counter() - t0, reason)

        reason = _skip(head, root)
        if reason is not None:
            if reason == "up to date" and _read_state(root).get("generation") != head.name:
                _record(root, head.name, "pulled")
            return result(False, 0, reason)
        _check_name(head.name)
        _check_manifest(conn, head.name, root, same_model)
        with folder_lock(root, LOCK_FILE, wait=wait) as mine:
            if not mine:
                return result(False, 0, "busy")
            if current_generation(root) == head.name:  # another worker on this folder pulled it meanwhile
                return result(False, 0, "up to date")
            staging, nbytes = _download(conn, head, root)
            final = root / head.name
            trash = None
            if final.exists():  # a leftover folder of the same name: replace it with the verified copy
                trash = root / f".staging-old-{uuid.uuid4().hex[:8]}"
                os.rename(final, trash)
            os.rename(staging, final)
            if trash is not None:
                shutil.rmtree(trash, ignore_errors=True)
            publish(root, head.name)
            _record(root, head.name, "pulled")
            prune_generations(root)
        return result(True, nbytes, "pulled")


def _space(manifest: dict) -> str:
    model = manifest.get("model") or {}
    return f"{model.get('vector_space', model.get('name'))} ({manifest.get('dimension')} dimensions)"


def _check_manifest(conn, generation: str, root: Path, same_model: bool) -> None:
    """Refuse, before any download, a generation this host could not serve."""
    from .store import FORMAT_VERSION

    row = conn.execute(f"SELECT manifest FROM {GENERATIONS} WHERE name = %s", (generation,)).fetchone()
    manifest = row[0] if row else {}
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ShareError(f"generation {generation} has index format {manifest.get('format_version')}; this Nectarine reads "
                         f"format {FORMAT_VERSION}: upgrade this host (the live generation is kept)")
    local = current_generation(root)
    if same_model and local is not None:
        try:
            mine = json.loads((root / local / "manifest.json").read_text())
        except (OSError, ValueError):
            return
        if _space(mine) != _space(manifest):
            raise ShareError(f"generation {generation} was built with {_space(manifest)}, this service embeds with {_space(mine)}: "
                             "restart it to load the new model (the live generation is kept until then)")


def _skip(head: Published | None, root: Path) -> str | None:
    """Why the newest published generation is not to be pulled into ``root``; None: pull it."""
    local = current_generation(root)
    if head is None:
        return "nothing published"
    if head.name == local:
        return "up to date"
    if local is not None and _read_state(root).get("generation") == head.name:
        return "local is newer"  # built here after the last exchange; not replaced by an older one
    return None


def behind(url: str, root: str | Path) -> str | None:
    """The newest published generation if :func:`pull_latest` would pull it into ``root``, else None (one query)."""
    head = latest(url)
    return head.name if _skip(head, Path(root)) is None else None


def _download(conn, head: Published, root: Path) -> tuple[Path, int]:
    """The generation's files, verified, in a new staging folder under ``root``; removed on any failure."""
    row = conn.execute(f"SELECT files, checksum FROM {GENERATIONS} WHERE name = %s", (head.name,)).fetchone()
    if row is None:
        raise ShareError(f"generation {head.name} disappeared from the index share; the next poll takes the newest")
    files, expected_checksum = row
    expected = {f["path"]: f for f in files}
    if not all(_safe_relative(p) for p in expected):
        raise ShareError(f"generation {head.name} in the index share names unsafe paths; refusing it")
    staging = root / f".staging-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        got: dict[str, dict] = {}
        out, digest, path, next_part, size = None, None, None, 0, 0

        def close() -> None:
            if out is not None:
                out.close()
                got[path] = {"path": path, "size": size, "sha256": digest.hexdigest()}

        with conn.cursor(name=f"pull_{uuid.uuid4().hex[:8]}") as cur:
            cur.itersize = 1  # one part (at most PART_BYTES) in memory at a time
            # binary: bytea as it is stored, not hex text twice its size
            cur.execute(f"SELECT path, part, data FROM {PARTS} WHERE generation = %s ORDER BY path, part", (head.name,), binary=True)
            for rel, part, data in cur:
                if rel != path:
                    close()
                    if rel not in expected or part != 0:
                        raise ShareError(f"generation {head.name}: unexpected part {rel}#{part} in the index share")
                    target = staging / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    out, digest, path, next_part, size = target.open("wb"), hashlib.sha256(), rel, 0, 0
                if part != next_part:
                    raise ShareError(f"generation {head.name}: {rel} is missing part {next_part} in the index share")
                out.write(data)
                digest.update(data)
                size += len(data)
                next_part += 1
            close()
            out = None
        for rel, want in expected.items():
            have = got.get(rel)
            if have is None or have["size"] != want["size"] or have["sha256"] != want["sha256"]:
                raise ShareError(f"generation {head.name}: {rel} does not match its checksum; the live generation is kept")
        if checksum(list(got.values())) != expected_checksum:
            raise ShareError(f"generation {head.name}: checksum mismatch; the live generation is kept")
        _fsync_tree(staging)
        return staging, sum(f["size"] for f in got.values())
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


__all__ = ["KEEP_PUBLISHED", "PART_BYTES", "CURRENT", "Published", "PublishResult", "PullResult", "ShareError", "checksum",
           "behind", "ensure_schema", "latest", "latest_age", "prune", "publish_generation", "published", "pull_latest"]
