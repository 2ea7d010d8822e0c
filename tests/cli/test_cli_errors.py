"""The CLI's one error mapping: a NectarineError (or an OSError on a file) from any command becomes one
``error: ...`` line and its exit code; the groups are all listed; serve hands its settings to workers.

Every call here fails before a model is loaded, so the module runs in the fast tier.
"""

import asyncio
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from nectarine.cli import EXIT_CODES, EXIT_ERROR, app
from nectarine.errors import NothingIngested

runner = CliRunner()


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


def assert_one_error(result, code: int, *needles: str) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and (result.exception is None or isinstance(result.exception, SystemExit))
    lines = error_lines(result.output)
    assert len(lines) == 1, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_the_documented_exit_codes():
    assert EXIT_ERROR == 2 and EXIT_CODES == {NothingIngested: 1}


def test_a_missing_index_folder(tmp_path):
    result = runner.invoke(app, ["search", "x", "--index", str(tmp_path / "none")])
    assert_one_error(result, 2, "nectarine ingest corpus/")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["ticket", "draft", "-m", "x", "--priority", "P1"], "choose one of: Highest, High, Normal, Low"),  # OptionError
        (["ticket", "draft", "-m", "x", "--version", "latest"], "not a version"),  # VersionError
        (["ingest", ".", "--dense", "ivf"], "choose one of: flat, hnsw"),  # OptionError raised by the command itself
    ],
)
def test_an_unknown_option_value(args, needle):
    assert_one_error(runner.invoke(app, args), 2, needle)


def test_a_message_is_printed_as_written_not_as_markup():
    result = runner.invoke(app, ["ingest", ".", "--dense", "[bold]ivf"])
    assert_one_error(result, 2, "'[bold]ivf'")


def test_a_malformed_dataset_names_the_file_and_line(tmp_path):
    ds = tmp_path / "ds"
    (ds / "qrels").mkdir(parents=True)
    (ds / "corpus.jsonl").write_text('{"_id": "d1", "title": "t", "text": "x"}\n')
    (ds / "queries.jsonl").write_text('{"_id": "q1", "text": "fine"}\n{not json}\n')
    result = runner.invoke(app, ["eval", "retrieval", str(ds), "--index", str(tmp_path / "idx")])
    assert_one_error(result, 2, "queries.jsonl:2")
    assert not (tmp_path / "idx").exists()  # refused before any index was built


def test_a_malformed_ticket_file_names_the_line(tmp_path):
    tickets = tmp_path / "t.jsonl"
    tickets.write_text('{"text": "fine", "priority": "High"}\nnot json\n')
    assert_one_error(runner.invoke(app, ["eval", "priority", str(tickets)]), 2, "t.jsonl:2")


def test_files_that_cannot_be_read(tmp_path):
    assert_one_error(runner.invoke(app, ["ticket", "draft", "-m", "x", "--log", str(tmp_path / "no.log")]), 2, "no such file")
    assert_one_error(runner.invoke(app, ["eval", "priority", str(tmp_path / "none.jsonl")]), 2, "none.jsonl")
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"metrics": {"ndcg@10": 0.7}}))
    assert_one_error(runner.invoke(app, ["eval", "compare", str(old), str(tmp_path / "gone.json")]), 2, "cannot read the results")
    old.write_text("[]")
    assert_one_error(runner.invoke(app, ["eval", "compare", str(old), str(old)]), 2, "cannot read the results")


def test_a_binary_log(tmp_path):
    shot = tmp_path / "shot.png"
    shot.write_bytes(b"\x89PNG\x00\x00")
    assert_one_error(runner.invoke(app, ["ticket", "draft", "-m", "x", "--log", str(shot)]), 2, "looks binary")  # LogError


def test_nothing_ingested_exits_1(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "a.md").write_text("")
    result = runner.invoke(app, ["ingest", str(tmp_path / "empty"), "--index", str(tmp_path / "idx")])
    assert_one_error(result, 1, "nothing could be ingested")


def test_an_unreachable_database_masks_its_password():
    result = runner.invoke(app, ["ticket", "list", "--database", "postgresql+psycopg://u:pw@127.0.0.1:1/x"])
    assert_one_error(result, 2, "u:***@127.0.0.1:1")
    assert ":pw@" not in result.output


def test_a_bad_setting_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("NECTARINE_RATE_LIMIT", "lots")
    result = runner.invoke(app, ["ticket", "list"])  # the database URL is read from the settings
    assert_one_error(result, 2, "invalid NECTARINE_* setting: NECTARINE_RATE_LIMIT: 'lots' is not a rate")


def test_usage_errors_stay_clicks():
    result = runner.invoke(app, ["search", "x", "--frobnicate"])
    assert result.exit_code == 2 and "No such option" in result.output


def test_help_lists_every_command_and_group():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ("ingest", "search", "ask", "chat", "start", "serve", "gaps", "eval", "ticket"):
        assert f" {name} " in result.output, name
    for group, commands in (("eval", ("retrieval", "answers", "priority", "all", "compare")), ("ticket", ("draft", "list", "show"))):
        listed = runner.invoke(app, [group, "--help"])
        assert listed.exit_code == 0 and all(f" {c} " in listed.output for c in commands), listed.output
        for command in commands:
            assert runner.invoke(app, [group, command, "--help"]).exit_code == 0, (group, command)


def test_python_dash_m_runs_the_cli():
    done = subprocess.run([sys.executable, "-m", "nectarine.cli", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "ticket" in done.stdout


def test_serve_hands_its_settings_to_the_workers(monkeypatch, tmp_path):
    from nectarine.cli.serve import worker_env
    from nectarine.settings import Settings

    monkeypatch.setenv("NECTARINE_TRUSTED_PROXIES", '["10.0.0.0/8"]')
    monkeypatch.setenv("NECTARINE_ADMIN_TOKEN", "s3cret")
    settings = Settings(index=str(tmp_path / "idx"), database_url="sqlite:///x.db", demo=False, refresh_seconds=0.5)
    env = worker_env(settings, workers=1)
    assert env["NECTARINE_INDEX"] == str(tmp_path / "idx") and env["NECTARINE_DEMO"] == "false"
    assert "NECTARINE_WEBHOOK_URL" not in env and "PROMETHEUS_MULTIPROC_DIR" not in env
    for name in list(env):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Settings() == settings  # what each worker's create_app() reads


def test_the_api_maps_nectarine_errors_once():
    from nectarine.api.app import known_error
    from nectarine.errors import DatasetError, IndexLoadError, OptionError, StoreError

    for exc, status in ((OptionError("x"), 422), (DatasetError("x"), 422), (StoreError("db"), 503), (IndexLoadError("i"), 503)):
        response = asyncio.run(known_error(None, exc))
        assert response.status_code == status and json.loads(response.body) == {"detail": str(exc)}
