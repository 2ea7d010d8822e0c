"""Where submitted tickets go: a signed webhook, or email over SMTP. Sinks are small and pluggable.

Sinks are found through entry points (group ``nectarine.sinks``, :mod:`nectarine.plugins`), the
built-ins like a third party's. The service asks each installed sink class for an instance with
``from_settings(settings)``; one that is not configured returns ``None`` and is left out.

>>> sink = WebhookSink("https://support.example.com/hooks/nectarine", secret="s3cr3t")
>>> body = b'{"ticket": {"title": "Nobody can log in"}, "ticket_id": "t-1"}'
>>> signature("s3cr3t", body) == signature(sink.secret, body)  # what the receiver recomputes and compares
True
>>> sink.send("t-1", {"title": "Nobody can log in"}, delivery_id="t-1-1")  # POSTs to the support system: not run here  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
from email.message import EmailMessage
from typing import Protocol


class TicketSink(Protocol):
    name: str

    def send(self, ticket_id: str, draft: dict, *, delivery_id: str) -> None:
        """Deliver or raise; the outbox retries on any exception."""
        ...

    # and, to be configured by the service: ``@classmethod from_settings(cls, settings) -> TicketSink | None``


def configured_sinks(settings) -> dict[str, TicketSink]:
    """Every installed sink that ``settings`` configures, by its entry-point name (the name outbox entries carry)."""
    from ..plugins import SINKS, load, names

    sinks: dict[str, TicketSink] = {}
    for name in names(SINKS):
        sink = load(SINKS, name).from_settings(settings)
        if sink is not None:
            sinks[name] = sink
    return sinks


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSink:
    """POSTs the ticket as JSON, signed with HMAC-SHA256 in ``X-Nectarine-Signature``."""

    name = "webhook"

    def __init__(self, url: str, secret: str, *, timeout: float = 10.0) -> None:
        self.url, self.secret, self.timeout = url, secret, timeout

    @classmethod
    def from_settings(cls, settings) -> WebhookSink | None:
        """From ``NECTARINE_WEBHOOK_URL`` and ``NECTARINE_WEBHOOK_SECRET``; ``None`` without a URL."""
        if not settings.webhook_url:
            return None
        return cls(settings.webhook_url, settings.webhook_secret.get_secret_value() if settings.webhook_secret else "")

    def send(self, ticket_id: str, draft: dict, *, delivery_id: str) -> None:
        import httpx

        body = json.dumps({"ticket_id": ticket_id, "ticket": draft}, sort_keys=True).encode()
        headers = {"Content-Type": "application/json", "X-Nectarine-Signature": signature(self.secret, body),
                   "X-Nectarine-Delivery-Id": delivery_id}
        response = httpx.post(self.url, content=body, headers=headers, timeout=self.timeout)
        response.raise_for_status()


class EmailSink:
    """Sends the ticket as a plain-text email (JSON attached) over SMTP."""

    name = "email"

    def __init__(self, host: str, port: int, sender: str, to: str, *, starttls: bool = False, username: str | None = None,
                 password: str | None = None, timeout: float = 10.0) -> None:
        self.host, self.port, self.sender, self.to = host, port, sender, to
        self.starttls, self.username, self.password, self.timeout = starttls, username, password, timeout

    @classmethod
    def from_settings(cls, settings) -> EmailSink | None:
        """From ``NECTARINE_SMTP_*``; ``None`` without ``NECTARINE_SMTP_HOST``."""
        if not settings.smtp_host:
            return None
        return cls(settings.smtp_host, settings.smtp_port, settings.smtp_from, settings.smtp_to, starttls=settings.smtp_starttls,
                   username=settings.smtp_username,
                   password=settings.smtp_password.get_secret_value() if settings.smtp_password else None)

    def send(self, ticket_id: str, draft: dict, *, delivery_id: str) -> None:
        msg = EmailMessage()
        msg["Subject"] = f"[{draft.get('priority', '?')}] {draft.get('title', ticket_id)}"
        msg["From"], msg["To"] = self.sender, self.to
        msg["X-Nectarine-Ticket"], msg["X-Nectarine-Delivery-Id"] = ticket_id, delivery_id
        lines = [f"Ticket {ticket_id}", f"Priority: {draft.get('priority')} ({draft.get('priority_rationale', '')})",
                 f"Nectain version: {draft.get('nectain_version') or 'unknown'}", f"Language: {draft.get('language')}", "",
                 draft.get("description", "")]
        msg.set_content("\n".join(lines))
        msg.add_attachment(json.dumps(draft, indent=2).encode(), maintype="application", subtype="json", filename=f"{ticket_id}.json")
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(msg)
