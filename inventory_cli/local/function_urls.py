"""Lambda function URLs on the emulator: `<endpoint>/_inventory/function-urls/<function>/<path>`.

An HTTP request under that prefix becomes the event a function URL hands its function (payload
format 2.0), is run by the emulator's Lambda runtime as a synchronous invocation, and the
function's answer becomes the HTTP response, as Lambda does it: a dict with `statusCode` is used
as is (headers, body, `isBase64Encoded`), anything else is returned as a JSON body with 200. A
function without a URL configuration answers 404, a failed invocation 502, as on AWS.

A URL with AuthType NONE answers 403 `{"Message": "Forbidden"}` unless the function's resource
policy grants the public both `lambda:InvokeFunctionUrl` (for AuthType NONE) and
`lambda:InvokeFunction` through the URL (the `lambda:InvokedViaFunctionUrl` condition): Lambda
asks both of new function URLs since October 2025 (AWS Lambda developer guide, "Control access
to Lambda function URLs"). A public InvokeFunction without that condition does not count here:
the stack never grants one, so a policy that relies on it is a mistake to catch.

The emulator serves the URL on its own origin (so the dashboard needs no CORS) and tells the
function where it is mounted in the `x-inventory-url-base` header, since the path prefix is not
part of `rawPath`.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

logger = logging.getLogger(__name__)

PREFIX = "/_inventory/function-urls/"
URL_BASE_HEADER = "x-inventory-url-base"
# Lambda's limit on a function URL request body (6 MB, synchronous invocation payload).
MAX_BODY_BYTES = 6 * 1024 * 1024


@dataclass(frozen=True)
class UrlTarget:
    """A function that has a URL configuration: what the runtime needs to invoke it."""

    spec: Any  # lambda_worker.RuntimeFunction
    account_id: str
    auth_type: str
    # The statements of the function's resource policy (none: nobody may call the URL).
    statements: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


FindTarget = Callable[[str], "UrlTarget | None"]
Invoke = Callable[[Any, str], tuple[bool, str]]


def _json_response(status: int, body: dict[str, Any]) -> HttpResponse:
    data = json.dumps(body).encode()
    return HttpResponse(status, [("Content-Type", "application/json")], data)


def _raw_path(environ: dict[str, Any]) -> str:
    """The request path as the client sent it (still percent-encoded), without the query."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return str(raw).split("?", 1)[0]
    # PATH_INFO is decoded and carried as latin-1 by WSGI: re-encode to get the bytes back.
    return str(environ.get("PATH_INFO", "")).encode("latin-1").decode("utf-8", "replace")


def build_event(environ: dict[str, Any], *, function: str, raw_path: str, body: bytes,
                account_id: str, endpoint: str) -> dict[str, Any]:
    """The function-URL event (payload format 2.0) for one request."""
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").lower()] = str(value)
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    if environ.get("CONTENT_LENGTH"):
        headers["content-length"] = str(environ["CONTENT_LENGTH"])
    headers[URL_BASE_HEADER] = f"{endpoint.rstrip('/')}{PREFIX}{function}"
    query = str(environ.get("QUERY_STRING", ""))
    now = datetime.now(UTC)
    host = headers.get("host", "")
    try:
        text: str | None = body.decode("utf-8")
        encoded = False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path or "/",
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": function,
            "domainName": host,
            "domainPrefix": function,
            "http": {"method": str(environ.get("REQUEST_METHOD", "GET")),
                     "path": unquote(raw_path or "/"),
                     "protocol": str(environ.get("SERVER_PROTOCOL", "HTTP/1.1")),
                     "sourceIp": str(environ.get("REMOTE_ADDR", "127.0.0.1")),
                     "userAgent": headers.get("user-agent", "")},
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": encoded,
    }
    if query:
        event["queryStringParameters"] = dict(parse_qsl(query, keep_blank_values=True))
    if body:
        event["body"] = text
    return event


def response_from_result(payload: str) -> HttpResponse:
    """What the function returned, as Lambda turns it into an HTTP response."""
    try:
        result = json.loads(payload) if payload else None
    except ValueError:
        return HttpResponse(200, [("Content-Type", "application/json")], payload.encode())
    if not (isinstance(result, dict) and "statusCode" in result):
        return HttpResponse(200, [("Content-Type", "application/json")],
                            json.dumps(result).encode())
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(int(result["statusCode"]), headers, data)


# What a request through a function URL with AuthType NONE brings to the policy's conditions.
def _request_context(auth_type: str) -> dict[str, str]:
    return {"lambda:functionurlauthtype": auth_type, "lambda:invokedviafunctionurl": "true"}


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _public(statement: Mapping[str, Any]) -> bool:
    principal = statement.get("Principal")
    if isinstance(principal, Mapping):
        principal = principal.get("AWS")
    return "*" in _as_list(principal)


def _names(statement: Mapping[str, Any], action: str) -> bool:
    return any(str(a).lower() in (action.lower(), "lambda:*", "*")
               for a in _as_list(statement.get("Action")))


def _conditions(statement: Mapping[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(operator, key in lower case, values) of each condition of a statement."""
    found = []
    for operator, block in (statement.get("Condition") or {}).items():
        for key, values in (block or {}).items():
            found.append((str(operator), str(key).lower(), [str(v) for v in _as_list(values)]))
    return found


def _holds(operator: str, actual: str | None, values: Sequence[str]) -> bool:
    if actual is None:
        return False  # a key the request does not bring matches no condition on it
    name = operator.lower()
    if name in ("stringequals", "bool"):
        return actual.lower() in [v.lower() for v in values] if name == "bool" \
            else actual in values
    if name == "stringequalsignorecase":
        return actual.lower() in [v.lower() for v in values]
    if name == "stringlike":
        return any(fnmatch.fnmatchcase(actual, v) for v in values)
    return False  # an operator the emulator does not evaluate grants nothing


def _applies(statement: Mapping[str, Any], action: str, context: Mapping[str, str]) -> bool:
    return (_public(statement) and _names(statement, action)
            and all(_holds(op, context.get(key), values)
                    for op, key, values in _conditions(statement)))


def missing_public_permissions(statements: Sequence[Mapping[str, Any]],
                               auth_type: str = "NONE") -> list[str]:
    """What the resource policy lacks for anyone to call the function's URL (empty: nothing)."""
    context = _request_context(auth_type)
    allows = [s for s in statements if s.get("Effect", "Allow") == "Allow"]
    denies = [s for s in statements if s.get("Effect") == "Deny"]
    missing = []
    for action in ("lambda:InvokeFunctionUrl", "lambda:InvokeFunction"):
        if any(_applies(s, action, context) for s in denies):
            missing.append(f"{action} (a statement denies it)")
            continue
        granted = [s for s in allows if _applies(s, action, context)]
        if action == "lambda:InvokeFunction":
            # Only a grant made for the URL counts (AddPermission InvokedViaFunctionUrl=True).
            granted = [s for s in granted if any(key == "lambda:invokedviafunctionurl"
                                                 for _, key, _ in _conditions(s))]
            if not granted:
                missing.append("lambda:InvokeFunction for anyone with the condition "
                               "lambda:InvokedViaFunctionUrl")
        elif not granted:
            missing.append(f"lambda:InvokeFunctionUrl for anyone with FunctionUrlAuthType "
                           f"{auth_type}")
    return missing


def handle(environ: dict[str, Any], *, find: FindTarget, invoke: Invoke,
           endpoint: str) -> HttpResponse:
    """Serve one request under PREFIX."""
    raw = _raw_path(environ)
    function, _, rest = raw[len(PREFIX):].partition("/")
    function = unquote(function)
    target = find(function) if function else None
    if target is None:
        return _json_response(404, {"Message": f"no function URL for {function!r}"})
    if target.auth_type != "NONE":
        # AWS_IAM URLs need SigV4-signed requests; the emulator does not check signatures.
        return _json_response(403, {"Message": "only AuthType NONE function URLs are served "
                                               "by the local emulator"})
    missing = missing_public_permissions(target.statements, target.auth_type)
    if missing:
        # Lambda says no more than this; the emulator's log says what is missing.
        logger.warning("function URL of %s refused: its resource policy lacks %s", function,
                       " and ".join(missing))
        forbidden = _json_response(403, {"Message": "Forbidden"})
        forbidden.headers.append(("x-amzn-ErrorType", "AccessDeniedException"))
        return forbidden
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        return _json_response(413, {"Message": "Request must be smaller than 6291456 bytes"})
    body = environ["wsgi.input"].read(length) if length else b""
    event = build_event(environ, function=function, raw_path="/" + rest, body=body,
                        account_id=target.account_id, endpoint=endpoint)
    ok, payload = invoke(target.spec, json.dumps(event))
    if not ok:
        return _json_response(502, {"Message": "Internal Server Error"})
    return response_from_result(payload)
