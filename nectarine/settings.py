"""Every setting of the service (and of ``nectarine serve``), read once from ``NECTARINE_*``.

Only the shells (``nectarine.api`` and ``nectarine.cli``) read the environment; library classes take
explicit arguments. Lists and maps are given as JSON, e.g.
``NECTARINE_TRUSTED_PROXIES='["10.0.0.0/8"]'``.

>>> Settings(rate_limit="5/minute").rate_limit
'5/minute'
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEMO_ORIGINS = ["http://127.0.0.1:8000", "http://localhost:8000"]
DEFAULT_DATABASE_URL = "sqlite:///data/nectarine.db"
DEFAULT_CACHE = "~/.cache/nectarine"
DEFAULT_LLM_BASE_URL = "http://127.0.0.1:8080/v1"
DEFAULT_LLM_MODEL = "local-model"


class Settings(BaseSettings):
    """Service settings; each is read from ``NECTARINE_<NAME>`` (lists and maps as JSON)."""

    model_config = SettingsConfigDict(env_prefix="NECTARINE_")

    index: str = "indexes/default"  # the CLI's default too
    corpus: str = "corpus"  # what an admin re-index reads
    database_url: str = DEFAULT_DATABASE_URL
    # Public site keys of the pages that embed the panel, each with the origins allowed to use it.
    site_keys: dict[str, list[str]] = Field(default_factory=lambda: {"demo-public-key": list(DEMO_ORIGINS)})
    require_site_key: bool = True
    admin_token: SecretStr | None = None  # admin routes answer 503 until one is set
    rate_limit: str = "30/minute"  # per site key and client address, for /v1/ask and /v1/chat
    rate_limit_other: str = "120/minute"  # feedback, tickets, sources
    rate_limit_any: str = "600/minute"  # every route, per client address (health, docs and the panel's files included)
    rate_limit_admin: str = "60/minute"  # admin routes, per client address
    # Wrong admin tokens allowed per client address before it is locked out (429) for the rest of the window.
    admin_lockout: str = "10 per 15 minutes"
    # Where the limits are counted: memory:// is this process alone; redis://HOST:PORT/DB is shared by
    # every worker and host that names it (`serve --workers N` warns without it).
    rate_limit_storage: str = "memory://"
    # Addresses (or networks) of the proxies or load balancers in front of the service. Only a request
    # from one of them has its client address taken from X-Forwarded-For; empty (the default) trusts none.
    trusted_proxies: list[str] = Field(default_factory=list)
    max_body_bytes: int = 2_000_000  # on the bytes received, chunked or not
    history_turns: int = 6  # how much of a session /v1/chat reads a follow-up with
    refresh_seconds: float = 2.0
    threads: int = 0  # request threads per worker; 0: 4 with the offline answerer (CPU work), 40 with an LLM (network waits)
    # Ticket drafts and submissions run at most this many at once per worker, in threads of their own:
    # a client sending the largest drafts the limits allow can then never take the threads answers need.
    handoff_threads: int = Field(default=1, ge=1, le=16)
    answerer: str = "offline"  # or openai (NECTARINE_LLM_BASE_URL, NECTARINE_LLM_MODEL, NECTARINE_LLM_API_KEY), llamacpp
    # The OpenAI-compatible endpoint the openai answerer talks to, the model it asks for, and its API key
    # (none: local servers such as llama.cpp's or vLLM's need none). Passed to OpenAICompatibleAnswerer.
    llm_base_url: str = DEFAULT_LLM_BASE_URL
    llm_model: str = DEFAULT_LLM_MODEL
    llm_api_key: SecretStr | None = None
    # Domains (each with its subdomains) the docs may send readers to, besides nectain.com and the other
    # defaults of nectarine.ingest.safety: a JSON list, or comma-separated as in earlier releases.
    trusted_domains: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Where the embedding model exported to ONNX is kept (~ is expanded to the user's home).
    cache: str = Field(default=DEFAULT_CACHE, validate_default=True)
    embed_threads: int = Field(default=0, ge=0)  # onnxruntime threads per embedding; 0: min(4, cores)
    # Documents flagged at ingest as unsafe (asking for credentials or personal data to be sent elsewhere)
    # that an admin has reviewed and allows in answers, by document id or path.
    allow_flagged: list[str] = Field(default_factory=list)
    demo: bool = True  # serve the demo Nectain page at /
    webhook_url: str | None = None  # where submitted tickets are delivered (HMAC-signed JSON)
    webhook_secret: SecretStr | None = None
    smtp_host: str | None = None  # and/or by email: NECTARINE_SMTP_HOST plus NECTARINE_SMTP_TO
    smtp_port: int = 25
    smtp_to: str | None = None
    smtp_from: str = "nectarine@localhost"
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    delivery_seconds: float = 15.0
    # What a scheduled sync re-ingests into the index (nectarine.api.sync): the same paths, URLs (a
    # sitemap, or a start URL to crawl) and git:PATH?ref=..&subdir=.. sources as `nectarine ingest`, as a
    # JSON list (or one source). Every sync reads them all: a source left out loses its pages.
    sources: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Seconds between syncs ("900", or "15m", "6h"); 0: no schedule (POST /v1/admin/sync still runs one).
    sync_interval: Annotated[float, NoDecode] = 0.0
    # One index for many hosts (nectarine.index.shared): a PostgreSQL URL where every generation this
    # service builds is published, and from which every instance pulls the newest one into its own
    # index folder, checking every index_share_seconds. None: the index folder alone (shared on disk or not).
    index_share: str | None = None
    index_share_seconds: float = Field(default=5.0, gt=0)

    @field_validator("rate_limit", "rate_limit_other", "rate_limit_any", "rate_limit_admin", "admin_lockout")
    @classmethod
    def _a_rate(cls, v: str) -> str:
        from limits import parse

        try:
            parse(v)
        except ValueError:
            raise ValueError(f"{v!r} is not a rate; write it like '30/minute' or '10 per 15 minutes'") from None
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for item in v:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network; write e.g. 10.0.0.5 or 10.0.0.0/8") from None
        return v

    @field_validator("trusted_domains", mode="before")
    @classmethod
    def _domain_list(cls, v):
        if isinstance(v, str):  # from the environment: JSON, or comma-separated
            text = v.strip()
            if text.startswith("["):
                try:
                    v = json.loads(text)
                except ValueError:
                    raise ValueError(f"{v!r} is not a JSON list; write e.g. [\"partner.com\"] or partner.com,other.org") from None
            else:
                v = text.split(",")
        if isinstance(v, (list, tuple)):
            v = [str(d).strip().lower().lstrip(".") for d in v]
            return [d for d in v if d]
        return v

    @field_validator("sources", mode="before")
    @classmethod
    def _source_list(cls, v):
        if isinstance(v, str):
            text = v.strip()
            if text.startswith("["):
                try:
                    v = json.loads(text)
                except ValueError:
                    raise ValueError(f"{v!r} is not a JSON list; write e.g. [\"corpus\", \"https://docs.example.com/sitemap.xml\"]") from None
            else:
                v = [text] if text else []
        if isinstance(v, (list, tuple)):
            return [str(x).strip() for x in v if str(x).strip()]
        return v

    @field_validator("sync_interval", mode="before")
    @classmethod
    def _interval(cls, v):
        if isinstance(v, str):
            text = v.strip().lower()
            units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
            scale = units.get(text[-1:], None) if text else None
            try:
                v = float(text[:-1]) * scale if scale else float(text or 0)
            except ValueError:
                raise ValueError(f"{v!r} is not an interval; write seconds (900) or 15m, 6h, 1d") from None
        if isinstance(v, (int, float)) and (v < 0 or 0 < v < 1):
            raise ValueError(f"{v!r}: a sync interval is 0 (off) or at least 1 second")
        return v

    @field_validator("index_share")
    @classmethod
    def _postgres_url(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            return None
        if v is not None and v.split("://", 1)[0].split("+", 1)[0] not in ("postgresql", "postgres"):
            raise ValueError("the index share is a PostgreSQL URL: postgresql://USER:PASSWORD@HOST:PORT/DB")
        return v

    @field_validator("cache")
    @classmethod
    def _expanded(cls, v: str) -> str:
        return str(Path(v or DEFAULT_CACHE).expanduser())

    def embedder_options(self) -> dict:
        """Keyword arguments for ``get_embedder`` and ``Nectarine.load(embedder_options=...)``."""
        return {"threads": self.embed_threads or None, "cache_dir": self.cache}

    def llm_options(self) -> dict:
        """Keyword arguments for the openai answerer (``OpenAICompatibleAnswerer``)."""
        key = self.llm_api_key.get_secret_value() if self.llm_api_key is not None else None
        return {"base_url": self.llm_base_url, "model": self.llm_model, "api_key": key}

    @model_validator(mode="after")
    def _email_needs_a_recipient(self):
        if self.smtp_host and not self.smtp_to:
            raise ValueError("NECTARINE_SMTP_HOST is set but NECTARINE_SMTP_TO is not: set the support address tickets are mailed to")
        return self

    def to_env(self) -> dict[str, str]:
        """These settings as the ``NECTARINE_*`` variables that give them back: ``Settings()`` read from an
        environment holding them equals ``self``. ``nectarine serve`` sets them for uvicorn's worker
        processes, each of which builds its own ``Settings()``. Unset optional values (None) are left
        out; lists and maps are JSON; secrets are given in clear, as the environment holds them.

        >>> Settings(rate_limit="5/minute", trusted_proxies=["10.0.0.0/8"]).to_env()["NECTARINE_TRUSTED_PROXIES"]
        '["10.0.0.0/8"]'
        """
        env: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, (list, dict)):
                text = json.dumps(value)
            else:
                text = str(value)
            env[f"{self.model_config['env_prefix']}{name.upper()}"] = text
        return env

    def proxies(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(p, strict=False) for p in self.trusted_proxies]

    def sinks(self) -> dict:
        """The delivery targets configured, by name (the names tickets' outbox entries carry).

        Every sink installed in the ``nectarine.sinks`` entry point group (webhook, email, a plugin's)
        is asked for an instance with ``from_settings(self)``; unconfigured ones are left out.
        """
        from .handoff.delivery import configured_sinks

        return configured_sinks(self)
