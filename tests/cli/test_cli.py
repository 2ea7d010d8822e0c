"""The `nectarine` command, run in-process through Typer's runner on real indexes."""

import json
import re

import pytest
from typer.testing import CliRunner

from nectarine.cli import app

runner = CliRunner()


def test_every_command_has_help():
    for args in (["--help"], ["ingest", "--help"], ["search", "--help"], ["start", "--help"], ["eval", "retrieval", "--help"],
                 ["ask", "--help"], ["chat", "--help"], ["serve", "--help"], ["gaps", "--help"], ["ticket", "draft", "--help"],
                 ["eval", "answers", "--help"], ["eval", "priority", "--help"], ["eval", "compare", "--help"], ["eval", "all", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, args
        assert "Usage" in result.output


def test_ingest_prints_summary_with_skipped_reasons(kb_copy, tmp_path):
    (kb_copy / "docs" / "broken.md").write_text("---\ntitle: [oops\n---\nbody\n")
    result = runner.invoke(app, ["ingest", str(kb_copy), "--index", str(tmp_path / "idx"), "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert "documents" in result.output and "chunks / second" in result.output
    assert "broken.md" in result.output and "malformed YAML" in result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["documents"] == 10 and len(report["skipped"]) == 1


def test_ingest_exit_codes(tmp_path):
    missing = runner.invoke(app, ["ingest", str(tmp_path / "nope"), "--index", str(tmp_path / "idx")])
    assert missing.exit_code == 2 and "no such file or folder" in missing.output
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "a.md").write_text("")
    nothing = runner.invoke(app, ["ingest", str(tmp_path / "empty"), "--index", str(tmp_path / "idx")])
    assert nothing.exit_code == 1 and "nothing could be ingested" in nothing.output
    unknown = runner.invoke(app, ["ingest", str(tmp_path), "--frobnicate"])
    assert unknown.exit_code == 2 and "No such option" in unknown.output
    backend = runner.invoke(app, ["ingest", str(tmp_path), "--backend", "cuda"])
    assert backend.exit_code == 2 and "choose one of: torch, onnx, onnx-int8, openvino" in backend.output


def test_search_json_and_table(kb_index):
    result = runner.invoke(app, ["search", "429 Retry-After", "--index", str(kb_index), "--json", "-k", "2"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert len(hits) == 2 and hits[0]["chunk"]["url"].endswith("#rate-limits")
    assert {"score", "dense_score", "lexical_score"} <= hits[0].keys()
    table = runner.invoke(app, ["search", "single sign-on on mobile", "--index", str(kb_index), "--source", "docs"])
    assert table.exit_code == 0 and "Results for" in table.output and "sso" in table.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "fuzzy"], "choose one of: hybrid, dense, bm25"),
        (["--source", "wiki"], "choose one of: docs, blog, release-notes, support"),
        (["--version", "latest"], "not a version"),
    ],
)
def test_search_bad_options(kb_index, args, message):
    result = runner.invoke(app, ["search", "x", "--index", str(kb_index), *args])
    assert result.exit_code == 2 and message in result.output


def test_search_missing_index_says_how_to_build(tmp_path):
    result = runner.invoke(app, ["search", "x", "--index", str(tmp_path / "none")])
    assert result.exit_code == 2 and "nectarine ingest corpus/" in result.output


def test_search_history_file(kb_index, tmp_path):
    bad = tmp_path / "h.json"
    bad.write_text("{not json")
    result = runner.invoke(app, ["search", "and on mobile?", "--index", str(kb_index), "--history", str(bad)])
    assert result.exit_code == 2 and "--history" in result.output
    good = tmp_path / "g.json"
    good.write_text(json.dumps([{"role": "user", "content": "How do I configure SAML single sign-on?"}]))
    result = runner.invoke(app, ["search", "and on mobile?", "--index", str(kb_index), "--history", str(good), "--json", "-k", "1"])
    assert json.loads(result.output)[0]["chunk"]["anchor"] == "sso-on-mobile"


def test_ask_json_and_panel(kb_index):
    result = runner.invoke(app, ["ask", "how long before an idle session times out?", "--index", str(kb_index), "--version", "4.4", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["citations"] and 0 <= answer["confidence"] <= 1 and answer["answerer"] == "offline"
    assert re.search(r"\[1\]", answer["text"])
    panel = runner.invoke(app, ["ask", "how do I configure SAML?", "--index", str(kb_index)])
    assert panel.exit_code == 0 and "Sources" in panel.output and "confidence" in panel.output


def test_ask_bad_answerer_lists_choices(kb_index):
    result = runner.invoke(app, ["ask", "x", "--index", str(kb_index), "--answerer", "gpt"])
    assert result.exit_code == 2 and "choose one of" in result.output and "offline" in result.output


def test_chat_reads_until_empty_line(kb_index):
    result = runner.invoke(app, ["chat", "--index", str(kb_index)], input="how do I configure SAML?\nand on mobile?\n\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("Nectarine (offline)") == 2


def test_eval_commands_write_json(tmp_path):
    from support.paths import FIXTURES

    out = tmp_path / "r.json"
    result = runner.invoke(app, ["eval", "retrieval", str(FIXTURES / "beir-tiny"), "--index", str(tmp_path / "idx"), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert set(json.loads(out.read_text())["metrics"]) >= {"ndcg@10", "recall@1", "recall@5", "recall@10", "recall@20", "mrr@10", "latency_ms_p50", "latency_ms_p95"}
    result = runner.invoke(app, ["eval", "answers", str(FIXTURES / "beir-tiny"), "--index", str(tmp_path / "idx"), "--json", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads(out.read_text())["metrics"]
    assert {"answer_similarity", "citation_precision", "handoff_auroc", "false_confident_rate", "deflection_rate", "ece"} <= set(metrics)
    bad = runner.invoke(app, ["eval", "retrieval", str(tmp_path / "nope")])
    assert bad.exit_code == 2 and "not a folder" in bad.output


def test_ticket_draft_cli(tmp_path):
    log = tmp_path / "client.log"
    log.write_text("2026-11-20 09:00:00 INFO start\n2026-11-20 09:00:01 ERROR AUTH-1003 SSO assertion could not be validated. password=hunter2\n")
    result = runner.invoke(app, ["ticket", "draft", "-m", "Nobody in our company can log in since 9am", "--log", str(log),
                                 "--version", "4.6.1", "--priority", "high", "--json"])
    assert result.exit_code == 0, result.output
    draft = json.loads(result.output)
    assert draft["priority"] == "High" and draft["priority_set_by"] == "user" and draft["suggested_priority"] == "Highest"
    assert draft["nectain_version"] == "4.6.1" and "AUTH-1003" in draft["error_messages"]
    assert "hunter2" not in result.output and draft["redactions"] == {"password": 1}
    bad = runner.invoke(app, ["ticket", "draft", "-m", "x", "--priority", "P1"])
    assert bad.exit_code == 2 and "choose one of: Highest, High, Normal, Low" in bad.output
    binary = tmp_path / "shot.png"
    binary.write_bytes(b"\x89PNG\x00\x00")
    bad = runner.invoke(app, ["ticket", "draft", "-m", "x", "--log", str(binary)])
    assert bad.exit_code == 2 and "binary" in bad.output


def test_eval_priority_cli(tmp_path):
    tickets = tmp_path / "t.jsonl"
    tickets.write_text(
        '{"_id": "a", "text": "Nobody in the company can log in since this morning.", "priority": "Highest"}\n'
        '{"_id": "b", "text": "There is a typo on the settings page: Pasword.", "priority": "low"}\n'
    )
    out = tmp_path / "p.json"
    result = runner.invoke(app, ["eval", "priority", str(tickets), "--json", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["metrics"]["accuracy"] == 1.0 and {i["predicted"] for i in data["items"]} == {"Highest", "Low"}
    tickets.write_text('{"text": "x", "priority": "urgent"}\n')
    bad = runner.invoke(app, ["eval", "priority", str(tickets)])
    assert bad.exit_code == 2 and "choose one of" in bad.output


def test_ticket_list_and_show(tmp_path):
    from nectarine.handoff.draft import TicketDraft
    from nectarine.store import TicketStore

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    row = TicketStore(url).submit(TicketDraft(title="Exports fail", description="d", priority="High"), "k1")
    listed = runner.invoke(app, ["ticket", "list", "--database", url])
    assert listed.exit_code == 0 and row.id in listed.output and "Exports fail" in listed.output
    shown = runner.invoke(app, ["ticket", "show", row.id, "--database", url])
    assert shown.exit_code == 0 and json.loads(shown.output)["deliveries"][0]["status"] == "pending"
    missing = runner.invoke(app, ["ticket", "show", "nope", "--database", url])
    assert missing.exit_code == 2 and "ticket list" in missing.output
    down = runner.invoke(app, ["ticket", "list", "--database", "postgresql+psycopg://u:pw@127.0.0.1:1/x"])
    assert down.exit_code == 2 and "u:***@127.0.0.1:1" in down.output


def test_eval_compare_gates_regressions(tmp_path):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps({"metrics": {"ndcg@10": 0.70, "recall@10": 0.80, "ece": 0.05, "latency_ms_p50": 5.0, "queries": 140}}))
    new.write_text(json.dumps({"metrics": {"ndcg@10": 0.705, "recall@10": 0.80, "ece": 0.055, "latency_ms_p50": 9.0, "queries": 140}}))
    ok = runner.invoke(app, ["eval", "compare", str(old), str(new)])
    assert ok.exit_code == 0 and "no regression" in ok.output  # within 0.01, and latency is not gated
    new.write_text(json.dumps({"metrics": {"ndcg@10": 0.67, "recall@10": 0.80, "ece": 0.09, "latency_ms_p50": 5.0, "queries": 140}}))
    bad = runner.invoke(app, ["eval", "compare", str(old), str(new)])
    assert bad.exit_code == 1 and "ndcg@10" in bad.output and "ece" in bad.output
    looser = runner.invoke(app, ["eval", "compare", str(old), str(new), "--tolerance", "0.05"])
    assert looser.exit_code == 0
    slower = tmp_path / "slower.json"  # the same quality, twice the latency
    slower.write_text(json.dumps({"metrics": {"ndcg@10": 0.70, "recall@10": 0.80, "ece": 0.05, "latency_ms_p50": 10.0, "queries": 140}}))
    assert runner.invoke(app, ["eval", "compare", str(old), str(slower)]).exit_code == 0  # latency is not gated by default
    latency = runner.invoke(app, ["eval", "compare", str(old), str(slower), "--gate-latency"])
    assert latency.exit_code == 1 and "latency_ms_p50" in latency.output
    broken = runner.invoke(app, ["eval", "compare", str(old), str(tmp_path / "missing.json")])
    assert broken.exit_code == 2 and "cannot read" in broken.output


def test_html_reports_hold_their_plots_and_tables(tmp_path):
    from support.paths import FIXTURES

    out = tmp_path / "r.html"
    result = runner.invoke(app, ["eval", "retrieval", str(FIXTURES / "beir-tiny"), "--index", str(tmp_path / "idx"), "--report", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert page.count("data:image/png;base64,") == 2  # recall@k by mode, latency histogram
    assert "Worst queries" in page and "hybrid" in page and "bm25" in page and "<script" not in page
    result = runner.invoke(app, ["eval", "answers", str(FIXTURES / "beir-tiny"), "--index", str(tmp_path / "idx"), "--report", str(out)])
    assert result.exit_code == 0 and out.read_text().count("data:image/png;base64,") == 2  # reliability, confidence by kind
    tickets = tmp_path / "t.jsonl"
    tickets.write_text('{"_id": "a", "text": "Nobody can log in, <script>alert(1)</script>", "priority": "Highest"}\n'
                       '{"_id": "b", "text": "typo on the settings page", "priority": "Normal"}\n')
    result = runner.invoke(app, ["eval", "priority", str(tickets), "--report", str(out)])
    page = out.read_text()
    assert result.exit_code == 0, result.output
    assert "<th>precision</th>" in page and "<script>alert" not in page  # the per-class table; ticket text never raw HTML
    assert page.count("data:image/png;base64,") == 1 and "<h3>Errors</h3>" in page


def test_serve_explains_a_missing_index_and_a_bad_setting(kb_index, tmp_path, monkeypatch):
    for name in ("NECTARINE_INDEX", "NECTARINE_CORPUS"):  # serve sets them for its workers; restored after the test
        monkeypatch.setenv(name, "unset")
    missing = runner.invoke(app, ["serve", "--index", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "nectarine ingest" in missing.output
    monkeypatch.setenv("NECTARINE_SITE_KEYS", "not json")
    bad = runner.invoke(app, ["serve", "--index", str(kb_index)])
    assert bad.exit_code == 2 and "NECTARINE_" in bad.output and "site_keys" in bad.output
