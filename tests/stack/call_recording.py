"""Records every AWS call a command makes, with its parameters, in a form stable across runs.

The recorded provision of a new stack (tests/stack/recorded/) pins what provision does on AWS:
which calls, in which order, with which parameters. Values AWS or moto choose (an identity
pool's id, a stream's label, a function URL's host) and bytes whose content other tests check
(the function zip, the dashboard's files) become placeholders; everything else is kept as sent.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import boto3

RECORDED = Path(__file__).parent / "recorded"
READ_PREFIXES = ("Describe", "Get", "List", "Head", "Scan", "Query")

# Generated values, longest first so a pool id inside an ARN is replaced once.
_PLACEHOLDERS = (
    # Cognito identity pool ids: "<region>:<uuid>".
    (re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                r"[0-9a-f]{12}"), "<identity-pool-id>"),
    # DynamoDB stream labels (a timestamp chosen when the stream is enabled).
    (re.compile(r"/stream/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+"), "/stream/<label>"),
    # Function URL hosts (a random id per URL).
    (re.compile(r"https://[a-z0-9]+\.lambda-url\.[a-z0-9-]+\.on\.aws"),
     "https://<url-id>.lambda-url.<region>.on.aws"),
    # Times of day the summaries' rebuild record carries.
    (re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z$"), "<time>"),
    (re.compile(r"^\d{10}(?:\.\d+)?$"), "<epoch seconds>"),
    # A new CloudFront distribution's CallerReference (unique per planning run).
    (re.compile(r"-dashboard-[0-9a-f]{12}$"), "-dashboard-<run>"),
    # Ids CloudFront and Cognito user pools choose.
    (re.compile(r"[a-z0-9]+\.cloudfront\.net"), "<distribution>.cloudfront.net"),
    (re.compile(r"distribution/[A-Z0-9]+"), "distribution/<cloudfront-id>"),
    (re.compile(r"^[A-Z0-9]{13,14}$"), "<cloudfront-id>"),
    (re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d_[A-Za-z0-9]+"), "<user-pool-id>"),
    (re.compile(r"\b[a-z0-9]{26}\b"), "<app-client-id>"),
    # Bare UUIDs (event source mappings, request ids).
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
)


def stable(value: Any) -> Any:
    """`value` with generated parts replaced by placeholders (JSON-serialisable)."""
    if isinstance(value, io.BytesIO):  # botocore wraps some bodies before this event
        value = value.getvalue()
    if isinstance(value, bytes | bytearray):
        try:
            document = json.loads(value)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return "<bytes>"
        return {"<json bytes>": stable(document)}
    if isinstance(value, str):
        for pattern, placeholder in _PLACEHOLDERS:
            value = pattern.sub(placeholder, value)
        return value
    if isinstance(value, dict):
        return {str(k): stable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [stable(v) for v in value]
    return value


class ParamRecorder:
    """Every call made by clients created from `session` after this is attached, as
    {"service", "operation", "params"} (the parameters as the caller passed them)."""

    def __init__(self, session: boto3.session.Session) -> None:
        self.calls: list[dict[str, Any]] = []
        session.events.register("before-parameter-build", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append({"service": model.service_model.service_name,
                           "operation": model.name, "params": stable(params)})

    @property
    def mutating(self) -> list[dict[str, Any]]:
        return [c for c in self.calls if not c["operation"].startswith(READ_PREFIXES)]

    @property
    def reads(self) -> list[str]:
        return [f"{c['service']}.{c['operation']}" for c in self.calls
                if c["operation"].startswith(READ_PREFIXES)]


def load_recorded(name: str) -> Any:
    return json.loads((RECORDED / name).read_text(encoding="utf-8"))


def write_recorded(name: str, document: Any) -> None:
    (RECORDED / name).write_text(json.dumps(document, indent=1, sort_keys=True) + "\n",
                                 encoding="utf-8")
