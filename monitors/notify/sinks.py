"""Notification sinks: render an alert payload for each kind and send it once.

- `webhook`: the payload as JSON, signed with HMAC-SHA256 over `"{timestamp}.{body}"`
  (header `X-Driftgate-Signature: sha256=<hex>`, `X-Driftgate-Timestamp`), so a receiver
  can check both origin and freshness.
- `slack`: a Slack incoming-webhook message (`text` plus Block Kit `blocks`).
- `email`: a plain-text message over SMTP (optionally STARTTLS and login).

`send` raises `DeliveryFailed` on any failure; the outbox (monitors/notify.py) decides when to
retry.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
from email.message import EmailMessage
from typing import Any

import httpx

from core.settings import Settings
from monitors.notify.models import NotificationSink

SIGNATURE_HEADER = "X-Driftgate-Signature"
TIMESTAMP_HEADER = "X-Driftgate-Timestamp"
EMOJI = {"firing": ":rotating_light:", "resolved": ":white_check_mark:"}


class DeliveryFailed(Exception):
    """One delivery attempt failed; the message says why (status, refusal, timeout)."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does: recompute and compare in constant time."""
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


def canonical_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def title(payload: dict[str, Any]) -> str:
    state = "RESOLVED" if payload["event"] == "resolved" else "FIRING"
    return f"[driftgate] {state} {payload['severity']}: {payload['slo']['name']}"


def slack_message(payload: dict[str, Any]) -> dict[str, Any]:
    links = [f"<{payload['alert_url']}|alert>"]
    if payload.get("runbook_url"):
        links.append(f"<{payload['runbook_url']}|runbook>")
    for b in (payload.get("evidence") or {}).get("batches", [])[:3]:
        links.append(f"<{b['url']}|batch {b['batch_id'][:8]}>")
    for w in (payload.get("evidence") or {}).get("windows", [])[:3]:
        links.append(f"<{w['url']}|window {w['start']}>")
    text = f"{EMOJI.get(payload['event'], '')} {title(payload)}"
    return {
        "text": text,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title(payload)[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": payload["summary"] or text}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(links)}]},
        ],
    }


def email_message(payload: dict[str, Any], sender: str, recipients: list[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = title(payload)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["X-Driftgate-Alert"] = payload["alert_id"]
    lines = [
        payload["summary"],
        "",
        f"SLO: {payload['slo']['id']} ({payload['slo']['kind']}, objective "
        f"{payload['slo']['objective']})",
        f"Severity: {payload['severity']}   State: {payload['state']}",
        f"Alert: {payload['alert_url']}",
        f"Runbook: {payload.get('runbook_url') or '-'}",
        "",
        "Evidence:",
        json.dumps(payload.get("evidence"), indent=2, sort_keys=True),
    ]
    msg.set_content("\n".join(lines))
    return msg


def send(
    sink: NotificationSink,
    payload: dict[str, Any],
    *,
    settings: Settings,
    now_ts: int,
    delivery_id: str,
) -> None:
    """Deliver one message to one sink, or raise DeliveryFailed."""
    try:
        if sink.kind == "webhook":
            body = canonical_body(payload)
            headers = {
                "Content-Type": "application/json",
                "X-Driftgate-Event": payload["event"],
                "X-Driftgate-Delivery": delivery_id,
                TIMESTAMP_HEADER: str(now_ts),
                SIGNATURE_HEADER: sign(sink.secret or "", now_ts, body),
            }
            _post(sink.target, body, headers, settings)
        elif sink.kind == "slack":
            body = json.dumps(slack_message(payload)).encode()
            _post(sink.target, body, {"Content-Type": "application/json"}, settings)
        elif sink.kind == "email":
            _smtp(payload, [a.strip() for a in sink.target.split(",") if a.strip()], settings)
        else:
            raise DeliveryFailed(f"unknown sink kind {sink.kind!r}")
    except DeliveryFailed:
        raise
    except (httpx.HTTPError, smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}"[:2000]) from exc


def _post(url: str, body: bytes, headers: dict[str, str], settings: Settings) -> None:
    response = httpx.post(
        url, content=body, headers=headers, timeout=settings.notify_timeout_seconds
    )
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"HTTP {response.status_code}: {response.text[:500]}")


def _smtp(payload: dict[str, Any], recipients: list[str], settings: Settings) -> None:
    msg = email_message(payload, settings.smtp_from, recipients)
    with smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.notify_timeout_seconds
    ) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username and settings.smtp_password:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        refused = smtp.send_message(msg)
        if refused:
            raise DeliveryFailed(f"SMTP refused recipients: {sorted(refused)}")
