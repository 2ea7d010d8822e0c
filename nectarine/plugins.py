"""Plugins: every answerer, loader, embedder and delivery sink is found through entry points.

Nectarine's own ones are declared in its ``pyproject.toml`` exactly as a third-party package
declares its own, and all are loaded the same way (the model is simonw/llm's plugins). A package adds
one by naming it under one of these groups in *its* ``pyproject.toml``, nothing in Nectarine changes::

    [project.entry-points."nectarine.answerers"]
    mine = "my_package.answer:MyAnswerer"      # get_answerer("mine", **options) -> MyAnswerer(**options)

    [project.entry-points."nectarine.loaders"]
    ".rst" = "my_package.rst:RstLoader"        # keyed by file suffix (lower case, with the dot)

    [project.entry-points."nectarine.embedders"]
    mine = "my_package.embed:MyEmbedder"       # get_embedder("mine") or get_embedder(model, kind="mine")

    [project.entry-points."nectarine.sinks"]
    jira = "my_package.jira:JiraSink"          # JiraSink.from_settings(settings) -> a sink, or None if not configured

What each group's target must be:

* ``nectarine.answerers``: a callable taking keyword options and returning an answerer
  (:class:`nectarine.answer.base.Answerer`).
* ``nectarine.loaders``: keyed by **file suffix**, so looking up ``.md`` imports the Markdown loader
  alone and a broken ``.rst`` plugin cannot break ``.md``; the target is a class with
  ``load(path, root, raw) -> list[Document]`` (:class:`nectarine.ingest.loaders.Loader`). A loader
  for several suffixes is declared once per suffix.
* ``nectarine.embedders``: a class called as ``cls(model, backend=backend)`` that implements
  :class:`nectarine.index.embedder.Embedder` (``name``, ``dimension``, ``max_wordpieces``,
  ``encode``, ``count_wordpieces``, and ideally ``vector_space`` and ``describe``).
* ``nectarine.sinks``: a class with ``from_settings(settings)`` returning a configured sink or
  ``None`` (:class:`nectarine.handoff.delivery.TicketSink`).

If two packages declare the same name in a group, a package other than Nectarine wins over the
built-in (so a plugin can replace, say, the HTML loader); between two other packages the one whose
distribution name sorts first wins. :func:`installed` lists them all, the shadowed ones marked.

>>> load(ANSWERERS, "offline").__name__
'OfflineAnswerer'
>>> sorted(names(EMBEDDERS))
['fake', 'sentence-transformers']
"""

from __future__ import annotations

import functools
from importlib.metadata import EntryPoint, entry_points
from typing import NamedTuple

from .errors import OptionError, PluginError  # noqa: F401 - PluginError is raised here and re-exported

ANSWERERS = "nectarine.answerers"
LOADERS = "nectarine.loaders"
EMBEDDERS = "nectarine.embedders"
SINKS = "nectarine.sinks"
GROUPS = (ANSWERERS, LOADERS, EMBEDDERS, SINKS)
# What one item of each group is called in messages ("unknown answerer 'x'; installed: ...").
KINDS = {ANSWERERS: "answerer", LOADERS: "file type", EMBEDDERS: "embedder", SINKS: "delivery sink"}
BUILT_IN = "nectarine"


class Plugin(NamedTuple):
    group: str
    name: str
    target: str  # "module:attribute", as declared
    distribution: str  # the package that declares it
    version: str
    active: bool = True  # False: another package declares the same name and wins (see the module docstring)


def _dist(ep: EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "?", ""
    return (dist.metadata["Name"] or dist.name or "?"), (dist.version or "")


def _precedence(ep: EntryPoint) -> tuple[bool, str]:
    name = _dist(ep)[0]
    return (name.lower() == BUILT_IN, name.lower())  # third parties first, then by name


@functools.lru_cache(maxsize=len(GROUPS) * 2)
def _declared(group: str) -> tuple[tuple[EntryPoint, bool], ...]:
    """Every entry point of ``group`` (metadata only, nothing imported), with whether it is the one used."""
    found = sorted(entry_points(group=group), key=lambda ep: (ep.name, _precedence(ep)))
    out, seen = [], set()
    for ep in found:
        out.append((ep, ep.name not in seen))
        seen.add(ep.name)
    return tuple(out)


def registry(group: str) -> dict[str, EntryPoint]:
    """The entry points of ``group`` by name, the winning one per name; cached, nothing is imported."""
    if group not in GROUPS:
        raise OptionError(f"unknown plugin group {group!r}; choose one of: {', '.join(GROUPS)}")
    return {ep.name: ep for ep, active in _declared(group) if active}


def names(group: str) -> list[str]:
    """The names installed in ``group``, sorted (file suffixes for loaders)."""
    return sorted(registry(group))


def load(group: str, name: str):
    """The object the entry point ``name`` of ``group`` points to, imported once.

    Raises :class:`OptionError` naming what is installed if there is no such plugin, and
    :class:`PluginError` naming the package and entry point if it is declared but fails to import.
    """
    ep = registry(group).get(name)
    if ep is None:
        raise OptionError(f"unknown {KINDS.get(group, group)} {name!r}; choose one of: {', '.join(names(group)) or '(none installed)'}")
    return _load(ep)


@functools.lru_cache(maxsize=64)
def _load(ep: EntryPoint):
    try:
        return ep.load()
    except Exception as exc:  # an ImportError, or anything the plugin's module raises on import
        package, version = _dist(ep)
        raise PluginError(
            f"the plugin {ep.name!r} in {ep.group} ({ep.name} = {ep.value}), declared by the package "
            f"{package} {version}, cannot be loaded: {type(exc).__name__}: {exc}. Reinstall or upgrade "
            f"{package}, or uninstall it (pip uninstall {package})"
        ) from exc


def refresh() -> None:
    """Forget what was found and loaded: after installing or removing a package in a running process."""
    _declared.cache_clear()
    _load.cache_clear()


def installed(groups: tuple[str, ...] = GROUPS) -> list[Plugin]:
    """Every plugin declared in ``groups`` (built-ins included), by group and name; nothing is imported."""
    rows = []
    for group in groups:
        for ep, active in _declared(group):
            package, version = _dist(ep)
            rows.append(Plugin(group, ep.name, ep.value, package, version, active))
    return rows


def table_rows(groups: tuple[str, ...] = GROUPS) -> list[tuple[str, str, str, str, str]]:
    """What ``nectarine plugins`` shows: (group, name, target, package, version); a shadowed one says so."""
    winners = {(p.group, p.name): p.distribution for p in installed(groups) if p.active}
    return [
        (p.group.removeprefix("nectarine."), p.name, p.target if p.active else f"{p.target} (not used: {winners[p.group, p.name]} wins)",
         p.distribution, p.version)
        for p in installed(groups)
    ]
