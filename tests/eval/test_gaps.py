"""Coverage gaps on a seeded conversation log: planted topics must come out as the top clusters."""

import datetime as dt
import json

from typer.testing import CliRunner

from nectarine.cli import app
from nectarine.store import ConversationLog
from nectarine.types import Answer

PLANTED = {
    "google chat": ["does nectain integrate with google chat?", "can I get workflow notifications in Google Chat",
                    "google chat connector for approvals?", "send alerts to a google chat space", "is there a Google Chat integration",
                    "post task updates into google chat rooms"],
    "sap": ["how do I connect nectain to SAP S/4HANA", "is there an SAP connector", "sync purchase orders from SAP into nectain",
            "SAP integration for invoices?", "can nectain read vendor data from SAP ERP"],
    "dark mode": ["is there a dark mode", "how do I switch nectain to dark theme", "dark mode for the web app please", "night mode / dark theme?"],
}
ANSWERED = ["how do I reset my password", "what is the upload limit", "how do I unlock a user", "how long is the idle timeout",
            "how do I export a report to csv", "what does AUTH-1003 mean"]


def seed(url):
    store = ConversationLog(url)
    start = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    n = 0
    for topic, questions in PLANTED.items():
        for q in questions:
            n += 1
            answer = Answer(question=q, text="I could not find this in Nectain's documentation, blog or release notes.",
                            confidence=0.2, handoff_recommended=topic == "sap")
            turn = store.record_turn(q + " my token=abcdef123456", answer, session_id=f"s{n}", at=start + dt.timedelta(hours=n))
            if topic == "dark mode":
                store.record_feedback(turn, helpful=False, comment="not helpful, password=hunter2", session_id=f"s{n}")
    for q in ANSWERED * 3:
        n += 1
        store.record_turn(q, Answer(question=q, text="An answer [1].", confidence=0.9), at=start + dt.timedelta(hours=n))
    # old noise that --since must leave out
    store.record_turn("ancient question about fax integration", Answer(question="x", text="", confidence=0.1), at=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc))
    store.record_turn("another ancient fax question", Answer(question="x", text="", confidence=0.1), at=dt.datetime(2025, 1, 2, tzinfo=dt.timezone.utc))
    return store


def test_planted_topics_come_out_as_clusters(tmp_path):
    url = f"sqlite:///{tmp_path / 'conv.db'}"
    store = seed(url)
    assert all("abcdef123456" not in t.question for t in store.turns())  # redacted before storage
    assert all("hunter2" not in (t.feedback_comment or "") for t in store.turns())
    out = tmp_path / "gaps.json"
    result = CliRunner().invoke(app, ["gaps", "--database", url, "--since", "2026-10-01", "--json", str(out), "--report", str(tmp_path / "g.html")])
    assert result.exit_code == 0, result.output
    found = json.loads(out.read_text())["gaps"]
    assert [g["size"] for g in found[:3]] == [6, 5, 4]
    topics = [" ".join(g["examples"]).lower() for g in found[:3]]
    assert "google chat" in topics[0] and "sap" in topics[1] and "dark" in topics[2]
    assert found[1]["reasons"]["handoff"] == 5 and found[2]["reasons"]["thumbs down"] == 4
    assert not any("fax" in " ".join(g["examples"]) for g in found)  # before --since
    assert "Google Chat" in (tmp_path / "g.html").read_text()
