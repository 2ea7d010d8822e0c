import datetime as dt

import pytest

from nectarine.ingest.loaders import SkipFile, discover, load_file, read_source
from nectarine.types import SourceType

from support.paths import KB


def load(path):
    docs, bad = load_file(path, KB)
    return docs, bad


def test_markdown_front_matter_is_read():
    (doc,), _ = load(KB / "docs" / "sso.md")
    assert doc.id == "docs/sso"
    assert doc.title == "Single sign-on"
    assert doc.source is SourceType.DOCS
    assert doc.url == "https://docs.example.test/admin/sso"
    assert doc.versions == ">=4.0"
    assert doc.date == dt.date(2026, 10, 13)
    assert doc.language == "en"
    assert doc.text.lstrip().startswith("Single sign-on lets")


def test_release_note_metadata_is_derived_from_path():
    (doc,), _ = load(KB / "release-notes" / "4.3.0.md")
    assert doc.source is SourceType.RELEASE_NOTES
    assert doc.version == "4.3.0"
    assert doc.versions == "4.3.0"
    assert doc.url == "/release-notes/4.3.0"  # no url in front matter: derived from the id


def test_html_keeps_main_content_and_drops_boilerplate():
    (doc,), _ = load(KB / "docs" / "api-errors.html")
    assert doc.title == "API error codes"
    assert doc.url == "https://docs.example.test/reference/api-errors"
    assert doc.versions == ">=4.3"
    assert "429 RATE_LIMITED" in doc.text
    assert "## Rate limits {#rate-limits}" in doc.text
    assert "```json" in doc.text
    for boilerplate in ("Sign in", "Getting started", "cookies", "Was this page helpful", "Privacy"):
        assert boilerplate not in doc.text


def test_plain_text_title_is_first_line():
    (doc,), _ = load(KB / "blog" / "hello.txt")
    assert doc.title == "Why we built Nectarine"
    assert doc.source is SourceType.BLOG
    assert "cites its sources" in doc.text


def test_beir_jsonl_records_and_bad_lines(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text(
        '{"_id": "d1", "title": "One", "text": "first text"}\n'
        "{not json}\n"
        '{"title": "no id", "text": "x"}\n'
        '{"_id": 7, "text": "numeric id, no title", "metadata": {"source": "blog", "versions": ">=4.2"}}\n'
    )
    docs, bad = load_file(path, tmp_path)
    assert [d.id for d in docs] == ["d1", "7"]
    assert docs[1].source is SourceType.BLOG and docs[1].versions == ">=4.2"
    assert [b.path for b in bad] == [f"{path}:2", f"{path}:3"]
    assert "invalid JSON" in bad[0].reason and "_id" in bad[1].reason


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.md", b"   \n", "empty"),
        ("binary.md", b"\x89PNG\x00\x00\x00binary", "binary"),
        ("latin1.md", "caf\xe9".encode("latin-1"), "UTF-8"),
        ("bad-fm.md", b"---\ntitle: [unclosed\n---\nbody\n", "malformed YAML front matter"),
        ("list-fm.md", b"---\n- a\n- b\n---\nbody\n", "mapping"),
        ("bad-version.md", b"---\nversions: newest\n---\nbody\n", "version range"),
        ("bad-source.md", b"---\nsource: wiki\n---\nbody\n", "choose one of"),
        ("only-fm.md", b"---\ntitle: x\n---\n\n", "no text"),
        ("image.pdf", b"%PDF-1.4", "unsupported file type .pdf"),
        ("all-bad.jsonl", b"nope\n", "no valid BEIR records"),
    ],
)
def test_bad_files_are_skipped_with_a_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SkipFile) as exc:
        load_file(path, tmp_path, read_source(path))
    assert reason in str(exc.value)


def test_oversized_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.md"
    path.write_text("x" * 2000)
    with pytest.raises(SkipFile, match="over the 1,000 bytes limit"):
        read_source(path, max_bytes=1000)


def test_discover_skips_hidden_and_ignored(tmp_path):
    (tmp_path / "a.md").write_text("a")
    (tmp_path / "README.md").write_text("not content")
    (tmp_path / ".hidden.md").write_text("h")
    (tmp_path / ".nectarineignore").write_text("README.md\n")
    found = [p.name for p, _ in discover([tmp_path])]
    assert found == ["a.md"]


def test_discover_wrong_path_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="pass the folder that holds your docs"):
        list(discover([tmp_path / "nope"]))
