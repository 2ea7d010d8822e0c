import pytest

from nectarine.ingest.chunker import ChunkerSettings, StructureAwareChunker, parse_sections, tiktoken_counter
from nectarine.ingest.loaders import load_file
from nectarine.types import Document

from support.paths import KB

count = tiktoken_counter()


def doc(text: str, **kw) -> Document:
    return Document(id=kw.pop("id", "docs/page"), title=kw.pop("title", "Page"), text=text, url="https://x.test/page", **kw)


@pytest.fixture(scope="module")
def chunker(any_embedder):  # structure only: the fake's word-piece estimate will do (and the real model in the slow tier)
    return StructureAwareChunker(ChunkerSettings(max_tokens=80), count_wordpieces=any_embedder.count_wordpieces)


def test_headings_give_path_anchor_and_deep_link(chunker):
    (sso,), _ = load_file(KB / "docs" / "sso.md", KB)
    chunks, _ = chunker.chunk(sso)
    by_anchor = {c.anchor: c for c in chunks}
    rotate = by_anchor["rotate-the-certificate"]
    assert rotate.heading_path == ["Single sign-on", "Configure SAML", "Rotate the certificate"]
    assert rotate.url == "https://docs.example.test/admin/sso#rotate-the-certificate"
    assert rotate.section_ids == ["docs/sso", "docs/sso#configure-saml", "docs/sso#rotate-the-certificate"]
    intro = chunks[0]
    assert intro.anchor == "" and intro.heading_path == ["Single sign-on"] and intro.url == sso.url


def test_comment_inside_code_block_is_not_a_heading():
    sections = parse_sections("## Real\n\n```bash\n# not a heading\nls\n```\n")
    assert [s.headings[-1][0] for s in sections] == ["Real"]
    assert sections[0].blocks[0].kind == "code"


def test_code_block_and_table_stay_whole(chunker):
    (sso,), _ = load_file(KB / "docs" / "sso.md", KB)
    chunks, _ = chunker.chunk(sso)
    code = [c for c in chunks if "openssl" in c.text]
    assert len(code) == 1 and code[0].text.count("```") == 2
    table = [c for c in chunks if "Clock skew" in c.text][0]
    assert "| Setting | Value |" in table.text and "Certificates per IdP" in table.text


def test_budget_splits_long_sections_at_sentences(chunker):
    body = "## Long\n\n" + " ".join(f"Sentence number {i} talks about workflows and approvals." for i in range(60))
    chunks, _ = chunker.chunk(doc(body))
    assert len(chunks) > 3
    assert all(count(c.text) <= 80 for c in chunks)
    assert all(c.text.rstrip().endswith(".") for c in chunks)  # cut between sentences
    assert all(c.anchor == "long" for c in chunks)


def test_numbered_steps_split_between_items_not_inside(chunker):
    steps = "\n".join(f"{i}. Open the settings page number {i} and click the button labelled Save changes now." for i in range(1, 16))
    chunks, _ = chunker.chunk(doc("## Steps\n\n" + steps))
    assert len(chunks) > 1
    for c in chunks:
        for line in c.text.splitlines():
            assert line[0].isdigit() and line.rstrip().endswith("now.")


def test_oversized_code_block_is_cut_by_lines_with_fences_reopened(any_embedder):
    chunker = StructureAwareChunker(ChunkerSettings(max_tokens=60), count_wordpieces=any_embedder.count_wordpieces)
    code = "```python\n" + "\n".join(f"value_{i} = compute_something({i}, option='x')" for i in range(120)) + "\n```"
    chunks, stats = chunker.chunk(doc("## Code\n\n" + code))
    assert stats.oversized_blocks == 1
    assert len(chunks) > 2
    for c in chunks:
        assert c.text.startswith("```python\n") and c.text.endswith("```")
    joined = "".join(c.text for c in chunks)
    assert all(f"value_{i} =" in joined for i in range(120))


def test_every_chunk_fits_the_embedding_model(embedder):
    # A big budget lets pieces exceed the model's 256 word pieces; they must be split again.
    chunker = StructureAwareChunker(ChunkerSettings(max_tokens=600), count_wordpieces=embedder.count_wordpieces)
    text = "## Wide\n\n" + " ".join(f"Paragraph-{i} mentions configuration_{i} and AUTH-{1000 + i}." for i in range(150))
    chunks, stats = chunker.chunk(doc(text))
    assert stats.split_for_embed_limit >= 1
    sizes = embedder.count_wordpieces([c.embed_text for c in chunks])
    assert max(sizes) <= 254
    assert stats.cut_mid_text == 0
    joined = " ".join(c.text for c in chunks)
    assert "Paragraph-0 " in joined and "Paragraph-149 " in joined


def test_chunk_ids_are_stable_and_content_derived(chunker):
    (sso,), _ = load_file(KB / "docs" / "sso.md", KB)
    a, _ = chunker.chunk(sso)
    b, _ = chunker.chunk(sso)
    assert [c.id for c in a] == [c.id for c in b]
    edited = sso.model_copy(update={"text": sso.text.replace("3 minutes", "5 minutes")})
    c, _ = chunker.chunk(edited)
    changed = {x.id for x in c} - {x.id for x in a}
    assert len(changed) == 1 and "5 minutes" in next(x for x in c if x.id in changed).text


def test_plain_text_documents_are_not_parsed_for_headings(chunker):
    d = doc("# not a heading in plain text\n\nSecond paragraph.", metadata={"format": "text"})
    chunks, _ = chunker.chunk(d)
    assert chunks[0].anchor == "" and "# not a heading" in chunks[0].text
