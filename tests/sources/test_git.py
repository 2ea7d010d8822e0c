"""The git source on real repositories created in tmp_path."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from typer.testing import CliRunner

from nectarine import ingest
from nectarine.cli import app
from nectarine.index.store import IndexReader
from nectarine.ingest.git import GitSource
from nectarine.ingest.sources import SourceError


def git(repo, *args, date: str | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Docs", "GIT_AUTHOR_EMAIL": "docs@example.com", "GIT_COMMITTER_NAME": "Docs",
           "GIT_COMMITTER_EMAIL": "docs@example.com", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo.parent)}
    if date:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout.strip()


def commit(repo, files: dict[str, str | None], message: str, date: str) -> str:
    for rel, text in files.items():
        path = repo / rel
        if text is None:
            git(repo, "rm", "-q", rel)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        git(repo, "add", rel)
    git(repo, "commit", "-q", "-m", message, date=date)
    return git(repo, "rev-parse", "HEAD")


def page(title: str, body: str) -> str:
    return f"# {title}\n\n## Steps\n\n{body}\n"


@pytest.fixture
def repo(tmp_path):
    repo = tmp_path / "docs-repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, {"docs/sso.md": page("SSO", "Upload the certificate."), "docs/export.md": page("Export", "Exports run nightly."),
                  "README.md": page("Readme", "Not part of the docs."), "docs/logo.png": "PNG"},
           "first", "2026-10-01T09:00:00+00:00")
    commit(repo, {"docs/export.md": page("Export", "Exports run hourly.")}, "hourly exports", "2026-11-15T12:00:00+00:00")
    return repo


def chunks(index) -> dict[str, dict]:
    reader = IndexReader.open(index)
    try:
        return {json.loads(d)["doc_id"]: json.loads(d) for *_x, d in reader.all_rows()}
    finally:
        reader.close()


def test_reads_the_subdir_at_the_ref_with_last_commit_dates(repo, tmp_path, fake_embedder):
    report = ingest([GitSource(repo, ref="main", subdir="docs")], tmp_path / "idx", embedder=fake_embedder)
    docs = chunks(tmp_path / "idx")
    assert set(docs) == {"sso", "export"}  # README is outside docs/, the PNG is not a document
    assert docs["sso"]["date"] == "2026-10-01" and docs["export"]["date"] == "2026-11-15"
    assert report.documents == 2 and not report.skipped


def test_only_files_changed_since_the_last_ingested_commit_are_read(repo, tmp_path, fake_embedder, monkeypatch):
    index = tmp_path / "idx"
    ingest([f"git:{repo}?ref=main&subdir=docs"], index, embedder=fake_embedder)
    first_commit = IndexReader.open(index).files()["files"]
    assert {r["commit"] for r in first_commit.values()} == {git(repo, "rev-parse", "HEAD")}

    commit(repo, {"docs/sso.md": page("SSO", "Upload the new certificate, then test."), "docs/new.md": page("New", "Brand new."),
                  "docs/export.md": None}, "edit, add, delete", "2026-12-01T08:00:00+00:00")
    read = []
    original = GitSource.git

    def spy(self, *args, **kw):
        if args[0] == "cat-file":
            read.append(args[-1])
        return original(self, *args, **kw)

    monkeypatch.setattr(GitSource, "git", spy)
    report = ingest([f"git:{repo}?ref=main&subdir=docs"], index, embedder=fake_embedder)
    docs = chunks(index)
    assert set(docs) == {"sso", "new"} and "new certificate" in docs["sso"]["text"]
    assert docs["sso"]["date"] == "2026-12-01"
    assert len(read) == 2  # sso.md and new.md: the blobs that changed, nothing else
    assert report.added == 1 and report.changed == 1

    read.clear()
    again = ingest([f"git:{repo}?ref=main&subdir=docs"], index, embedder=fake_embedder)
    assert again.up_to_date and read == []


def test_a_folder_inside_the_repository_reads_that_folder(repo, tmp_path, fake_embedder):
    ingest([GitSource(repo / "docs")], tmp_path / "idx", embedder=fake_embedder)
    assert set(chunks(tmp_path / "idx")) == {"sso", "export"}


def test_an_older_ref_is_read_from_its_commit_not_the_working_tree(repo, tmp_path, fake_embedder):
    first = git(repo, "rev-list", "--max-parents=0", "HEAD")
    (repo / "docs" / "sso.md").write_text(page("SSO", "An uncommitted edit."))
    ingest([GitSource(repo, ref=first, subdir="docs")], tmp_path / "idx", embedder=fake_embedder)
    docs = chunks(tmp_path / "idx")
    assert "nightly" in docs["export"]["text"] and "uncommitted" not in docs["sso"]["text"]


def test_wrong_repository_ref_or_subdir_says_what_to_do(repo, tmp_path, fake_embedder):
    plain = tmp_path / "plain-folder"
    plain.mkdir()
    with pytest.raises(SourceError, match="not a git repository"):
        ingest([GitSource(plain)], tmp_path / "i", embedder=fake_embedder)
    with pytest.raises(SourceError, match="no such folder"):
        ingest([GitSource(tmp_path / "nowhere")], tmp_path / "i", embedder=fake_embedder)
    with pytest.raises(SourceError, match="no commit 'nope'"):
        ingest([GitSource(repo, ref="nope")], tmp_path / "i", embedder=fake_embedder)
    with pytest.raises(SourceError, match="no folder 'manual'"):
        ingest([GitSource(repo, subdir="manual")], tmp_path / "i", embedder=fake_embedder)
    with pytest.raises(SourceError, match="unknown option branch"):
        ingest([f"git:{repo}?branch=main"], tmp_path / "i", embedder=fake_embedder)


def test_links_in_the_repository_are_not_followed(repo, tmp_path, fake_embedder):
    (repo / "docs" / "passwd.md").symlink_to("/etc/passwd")
    git(repo, "add", "docs/passwd.md")
    git(repo, "commit", "-q", "-m", "link", date="2026-12-02T00:00:00+00:00")
    report = ingest([GitSource(repo, subdir="docs")], tmp_path / "idx", embedder=fake_embedder)
    assert any("symbolic link" in s.reason for s in report.skipped)
    assert "passwd" not in chunks(tmp_path / "idx")


def test_cli_git_options(repo, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", "--git", str(repo), "--ref", "main", "--subdir", "docs", "--index", str(tmp_path / "idx"),
                                 "--model", "fake"])
    assert result.exit_code == 0, result.output
    assert "documents" in result.output and set(chunks(tmp_path / "idx")) == {"sso", "export"}
    stray = runner.invoke(app, ["ingest", "corpus", "--ref", "main", "--index", str(tmp_path / "idx"), "--model", "fake"])
    assert stray.exit_code == 2 and "--ref and --subdir go with --git" in stray.output
