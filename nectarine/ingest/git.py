"""The git source: a local docs-as-code repository, read at a ref, only what changed.

    nectarine ingest --git ../docs-repo --ref main --subdir docs
    NECTARINE_SOURCES='["git:/srv/docs-repo?ref=main&subdir=docs"]'

Files are read from the commit, not the working tree, so uncommitted edits and other branches never
leak in. Each file is stored in the index with its blob id and the commit it was read at: on the next
ingest, a file whose blob is unchanged is kept without being read (that is every file the commits
since the last ingested one did not touch), and a file no longer in the tree leaves the index. Each
page's date is its last commit's date (``git log -1 --format=%cI``), which the citations carry.

The repository must be on this machine (clone or fetch it first); nothing here talks to a remote.
Links and submodules in the tree are passed over and reported, as links out of a folder are.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from ..errors import SkipFile
from .loaders import MAX_FILE_BYTES, Skipped, check_supported, human_bytes, iter_file
from .sources import SourceError, SourceItem

GIT_TIMEOUT = 120  # seconds for one git command


class GitSource:
    """The supported files under ``subdir`` of ``repo`` at ``ref`` (default ``HEAD``)."""

    def __init__(self, repo: str | Path, *, ref: str | None = None, subdir: str | None = None,
                 max_file_bytes: int = MAX_FILE_BYTES) -> None:
        self.repo = Path(repo)
        self.ref = ref or "HEAD"
        self.subdir = str(PurePosixPath(subdir)).strip("/") if subdir else ""
        if self.subdir in (".", ""):
            self.subdir = ""
        self.max_file_bytes = max_file_bytes
        self.label = f"git:{repo}" + (f"?ref={ref}" if ref else "") + (f"{'&' if ref else '?'}subdir={subdir}" if subdir else "")
        self.commit: str | None = None
        self.notes: list[str] = []
        self.skipped: list[Skipped] = []

    def git(self, *args: str, input: bytes | None = None) -> bytes:
        try:
            done = subprocess.run(["git", "-C", str(self.repo), *args], input=input, capture_output=True,
                                  timeout=GIT_TIMEOUT, check=False)
        except FileNotFoundError:
            raise SourceError("git is not installed; install it (apt-get install git) to ingest a repository") from None
        except subprocess.TimeoutExpired:
            raise SourceError(f"git {args[0]} in {self.repo} took over {GIT_TIMEOUT} s") from None
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise SourceError(f"{self.label}: git {args[0]} failed: {message[-1] if message else done.returncode}")
        return done.stdout

    # ------------------------------------------------------------------ the Source protocol

    def check(self) -> None:
        if not self.repo.is_dir():
            raise SourceError(f"{self.repo}: no such folder; give the path of a local git repository (clone it first)")
        try:
            top = self.git("rev-parse", "--show-toplevel").decode().strip()
            prefix = self.git("rev-parse", "--show-prefix").decode().strip().strip("/")
        except SourceError:
            raise SourceError(f"{self.repo} is not a git repository; give the folder you cloned (the one holding .git)") from None
        self.repo = Path(top)
        if prefix:  # a folder inside the repository was given: read that folder
            self.subdir = "/".join(p for p in (prefix, self.subdir) if p)
        try:
            self.commit = self.git("rev-parse", "--verify", "--quiet", f"{self.ref}^{{commit}}").decode().strip()
        except SourceError:
            raise SourceError(f"{self.repo}: no commit {self.ref!r}; give a branch, tag or commit that exists "
                              "(git branch -a lists them)") from None
        if self.subdir and not self.git("ls-tree", "-d", self.commit, "--", self.subdir).strip():
            raise SourceError(f"{self.repo} has no folder {self.subdir!r} at {self.ref}; check --subdir")

    def trusted_domains(self) -> tuple[str, ...]:
        return ()

    def items(self, previous: dict[str, dict], conditional: bool) -> Iterator[SourceItem]:
        if self.commit is None:
            self.check()
        root = self.repo / self.subdir if self.subdir else self.repo
        origin = f"git:{self.repo}" + (f"/{self.subdir}" if self.subdir else "")
        for mode, kind, blob, size, rel in self._tree():
            key = f"{origin}:{rel}"
            label = f"{self.repo.name}@{self.commit[:10]}:{rel}"
            path = self.repo / rel
            item = SourceItem(key=key, label=label, origin=origin, digest=blob, record={"commit": self.commit, "blob": blob})
            if kind == "commit":
                item.problem = "a git submodule; not read (ingest its repository on its own)"
            elif mode == "120000":
                item.problem = "a symbolic link in the repository; not followed (commit the file itself)"
            elif size > self.max_file_bytes and not rel.endswith(".jsonl"):
                item.problem = f"file is {human_bytes(size)}, over the {human_bytes(self.max_file_bytes)} limit for a single page"
            else:
                try:
                    check_supported(path)
                except SkipFile:
                    continue  # not a document (images, config): not part of the knowledge base
                old = previous.get(key) if conditional else None
                if old is None or old.get("sha256") != blob:
                    item.read = self._reader(item, path, root, blob, rel)
                # an unchanged blob: the pipeline keeps it unread (its date and chunks with it)
            yield item

    # ------------------------------------------------------------------ reading

    def _tree(self) -> Iterator[tuple[str, str, str, int, str]]:
        """(mode, type, object id, size, path) of every entry under the subdir at the commit."""
        args = ["ls-tree", "-r", "-z", "--long", self.commit]
        if self.subdir:
            args += ["--", self.subdir]
        for entry in self.git(*args).split(b"\0"):
            if not entry:
                continue
            meta, _, name = entry.partition(b"\t")
            mode, kind, blob, size = meta.decode().split()
            yield mode, kind, blob, int(size) if size.isdigit() else 0, name.decode("utf-8", "surrogateescape")

    def _reader(self, item: SourceItem, path: Path, root: Path, blob: str, rel: str):
        def read():
            raw = self.git("cat-file", "blob", blob)
            date = self.last_commit_date(rel)
            item.record["date"] = date.isoformat() if date else None
            for doc in iter_file(path, root, raw=raw, max_bytes=self.max_file_bytes):
                yield doc if isinstance(doc, Skipped) or date is None else doc.model_copy(update={"date": date})
        return read

    def last_commit_date(self, rel: str) -> dt.date | None:
        """The date of the last commit (up to the ingested one) that touched ``rel``."""
        out = self.git("log", "-1", "--format=%cI", self.commit, "--", rel).decode().strip()
        try:
            return dt.datetime.fromisoformat(out).date() if out else None
        except ValueError:
            return None
