"""The emulator's function-URL route: request -> payload format 2.0 event -> HTTP response."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

from inventory_cli.local import function_urls
from inventory_cli.local.function_urls import UrlTarget, build_event, handle, response_from_result

ENDPOINT = "http://127.0.0.1:4599"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn"
# The two statements Lambda asks of a public function URL, as GetPolicy shows them.
URL_STATEMENT = {"Sid": "url", "Effect": "Allow", "Principal": "*",
                 "Action": "lambda:InvokeFunctionUrl", "Resource": FUNCTION_ARN,
                 "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}}
INVOKE_STATEMENT = {"Sid": "invoke", "Effect": "Allow", "Principal": "*",
                    "Action": "lambda:InvokeFunction", "Resource": FUNCTION_ARN,
                    "Condition": {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}}
PUBLIC = (URL_STATEMENT, INVOKE_STATEMENT)


def environ(method: str, raw_uri: str, body: bytes = b"", **headers: str) -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": method, "RAW_URI": raw_uri, "PATH_INFO": raw_uri.partition("?")[0],
        "QUERY_STRING": raw_uri.partition("?")[2], "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.7", "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)) if body else "", "HTTP_HOST": "127.0.0.1:4599"}
    env.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
    return env


def test_the_event_is_payload_format_2() -> None:
    event = build_event(environ("POST", "/_inventory/function-urls/fn/reports/stores%2Fa?x=1",
                                b'{"a": 1}', Authorization="Bearer k"),
                        function="fn", raw_path="/reports/stores%2Fa", body=b'{"a": 1}',
                        account_id="123456789012", endpoint=ENDPOINT)
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/reports/stores%2Fa"  # as sent: the function decides
    assert event["rawQueryString"] == "x=1" and event["queryStringParameters"] == {"x": "1"}
    assert event["headers"]["authorization"] == "Bearer k"
    assert event["headers"][function_urls.URL_BASE_HEADER] == (
        f"{ENDPOINT}/_inventory/function-urls/fn")
    http = event["requestContext"]["http"]
    assert (http["method"], http["path"], http["sourceIp"]) == (
        "POST", "/reports/stores/a", "127.0.0.7")
    assert (event["body"], event["isBase64Encoded"]) == ('{"a": 1}', False)
    binary = build_event(environ("POST", "/x"), function="fn", raw_path="/", body=b"\xff\x00",
                         account_id="1", endpoint=ENDPOINT)
    assert binary["isBase64Encoded"] and base64.b64decode(binary["body"]) == b"\xff\x00"


def test_results_become_responses_as_lambda_makes_them() -> None:
    full = response_from_result(json.dumps({
        "statusCode": 403, "headers": {"content-type": "application/json", "x-a": "b"},
        "body": '{"error": "revoked_key"}'}))
    assert (full.status, full.body) == (403, b'{"error": "revoked_key"}')
    assert ("x-a", "b") in full.headers
    plain = response_from_result(json.dumps({"store": "Berlin"}))
    assert (plain.status, json.loads(plain.body)) == (200, {"store": "Berlin"})
    encoded = response_from_result(json.dumps({"statusCode": 200, "isBase64Encoded": True,
                                               "body": base64.b64encode(b"\x01").decode()}))
    assert encoded.body == b"\x01"


def test_unknown_functions_failures_and_other_auth_types() -> None:
    calls: list[tuple[Any, dict[str, Any]]] = []

    def invoke(spec: Any, event_json: str) -> tuple[bool, str]:
        calls.append((spec, json.loads(event_json)))
        return spec != "broken-spec", json.dumps({"statusCode": 200, "body": "ok"})

    targets = {"ok": UrlTarget("good-spec", "1", "NONE", PUBLIC),
               "iam": UrlTarget("good-spec", "1", "AWS_IAM", PUBLIC),
               "broken": UrlTarget("broken-spec", "1", "NONE", PUBLIC)}

    def serve(path: str) -> function_urls.HttpResponse:
        return handle(environ("GET", path), find=targets.get, invoke=invoke, endpoint=ENDPOINT)

    assert serve("/_inventory/function-urls/missing/whoami").status == 404
    assert serve("/_inventory/function-urls/iam/whoami").status == 403
    assert serve("/_inventory/function-urls/broken/whoami").status == 502  # a failed invocation
    answered = serve("/_inventory/function-urls/ok/whoami")
    assert (answered.status, answered.body) == (200, b"ok")
    assert [c[1]["rawPath"] for c in calls] == ["/whoami", "/whoami"]


def _served(statements: tuple[dict[str, Any], ...]) -> function_urls.HttpResponse:
    calls: list[str] = []

    def invoke(spec: Any, event_json: str) -> tuple[bool, str]:
        calls.append(event_json)
        return True, json.dumps({"statusCode": 200, "body": "ran"})

    answer = handle(environ("GET", "/_inventory/function-urls/fn/x"),
                    find={"fn": UrlTarget("spec", "1", "NONE", statements)}.get,
                    invoke=invoke, endpoint=ENDPOINT)
    assert (answer.status == 200) == bool(calls)  # a refused request runs nothing
    return answer


def test_a_url_needs_both_public_statements_and_answers_forbidden_as_lambda_does() -> None:
    assert _served(PUBLIC).body == b"ran"
    public_invoke = {k: v for k, v in INVOKE_STATEMENT.items() if k != "Condition"}
    for statements in [(), (URL_STATEMENT,), (INVOKE_STATEMENT,),
                       # A public InvokeFunction not made for the URL does not count.
                       (URL_STATEMENT, public_invoke),
                       # Nor does a URL grant for another auth type, or for one account only.
                       ({**URL_STATEMENT, "Condition": {"StringEquals": {
                           "lambda:FunctionUrlAuthType": "AWS_IAM"}}}, INVOKE_STATEMENT),
                       ({**URL_STATEMENT, "Principal": {"AWS": "arn:aws:iam::1:root"}},
                        INVOKE_STATEMENT),
                       # A Deny wins over both grants.
                       (*PUBLIC, {"Effect": "Deny", "Principal": "*",
                                  "Action": "lambda:InvokeFunction"})]:
        answer = _served(statements)
        assert answer.status == 403, statements
        assert json.loads(answer.body) == {"Message": "Forbidden"}
        assert ("x-amzn-ErrorType", "AccessDeniedException") in answer.headers


def test_what_is_missing_is_named() -> None:
    missing = function_urls.missing_public_permissions
    assert missing(PUBLIC) == []
    assert missing((URL_STATEMENT,)) == [
        "lambda:InvokeFunction for anyone with the condition lambda:InvokedViaFunctionUrl"]
    assert missing((INVOKE_STATEMENT,)) == [
        "lambda:InvokeFunctionUrl for anyone with FunctionUrlAuthType NONE"]
    # Lists and wildcards are read as IAM reads them.
    assert missing(({**URL_STATEMENT, "Action": ["lambda:*"], "Principal": {"AWS": ["*"]}},
                    INVOKE_STATEMENT)) == []
