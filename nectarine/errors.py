"""Every error Nectarine raises on purpose, under one root.

Catch ``NectarineError`` to handle them all; each message says what was wrong and what to do. The
CLI maps them to a message and exit code once, the HTTP API to a JSON error once. Kinds that are a
bad value also derive from ``ValueError`` (and operational failures from ``RuntimeError``), so
callers that caught those before still do.

>>> issubclass(OptionError, NectarineError) and issubclass(OptionError, ValueError)
True
"""

from __future__ import annotations


class NectarineError(Exception):
    """The root: anything Nectarine reports as a known failure."""


# ---------------------------------------------------------------- bad input (also ValueError)
class OptionError(NectarineError, ValueError):
    """An option value that is not one of the allowed choices."""


class VersionError(NectarineError, ValueError):
    """A version or version range that cannot be parsed."""


class DatasetError(NectarineError, ValueError):
    """A dataset folder that does not follow the layout; the message names the file and line."""


class LogError(NectarineError, ValueError):
    """A log that cannot be attached as text."""


class InputTooLarge(NectarineError, ValueError):
    """A text past its documented limit (nectarine.types); the message names the limit."""


class IdempotencyConflict(NectarineError, ValueError):
    """An idempotency key reused, in the same session, for a different ticket."""


# ---------------------------------------------------------------- ingest
class SkipFile(NectarineError):
    """A file that cannot be ingested; ``str(exc)`` says why and what to do."""


class NothingIngested(NectarineError, RuntimeError):
    """Every file was skipped, so no index was written."""


# ---------------------------------------------------------------- resources (also RuntimeError)
class EmbedderError(NectarineError, RuntimeError):
    """The embedding model cannot be loaded; the message says what to install or configure."""


class IndexLoadError(NectarineError, RuntimeError):
    """An index that is missing, incompatible or damaged; the message says what to rebuild."""


class SourceError(NectarineError, RuntimeError):
    """A source that cannot be read at all (a sitemap that does not answer, a path that is not a git
    repository): the ingest stops and the live index is left as it was."""


class ShareError(NectarineError, RuntimeError):
    """A generation could not be published to, or pulled from, the shared index (NECTARINE_INDEX_SHARE):
    the local live generation stays in place; the message says why."""


class StoreError(NectarineError, RuntimeError):
    """The ticket database cannot be used; the message names it (password masked) and what to do."""


class PluginError(NectarineError, RuntimeError):
    """A plugin is declared but cannot be loaded; the message names its package and entry point."""


class AnswererUnavailable(NectarineError, RuntimeError):
    """The answerer cannot answer now (endpoint down, model missing); callers fall back to offline."""
