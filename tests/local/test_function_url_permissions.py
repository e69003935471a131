"""Public function URLs on a real emulator process: both of Lambda's statements or 403.

AddPermission's `FunctionUrlAuthType` and `InvokedViaFunctionUrl` become the conditions Lambda
shows in GetPolicy, and the URL answers only once the policy has both statements; removing
either from outside makes it answer 403 `{"Message": "Forbidden"}` again.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from inventory_cli.local.emulator import EmulatorInfo
from inventory_cli.local.function_urls import PREFIX

Clients = Callable[[str], Any]


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 - local emulator
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_url_answers_only_with_both_public_statements(
        clients: Clients, role_arn: str, probe_zip: bytes, emulator: EmulatorInfo) -> None:
    lam = clients("lambda")
    name = "url-permissions"
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=role_arn,
                        Handler="probe.handler", Code={"ZipFile": probe_zip}, Timeout=30)
    lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    url = f"{emulator.endpoint}{PREFIX}{name}/whoami"
    assert _get(url) == (403, {"Message": "Forbidden"})  # no policy at all

    lam.add_permission(FunctionName=name, StatementId="url", Action="lambda:InvokeFunctionUrl",
                       Principal="*", FunctionUrlAuthType="NONE")
    assert _get(url) == (403, {"Message": "Forbidden"})  # the URL statement alone
    # A public InvokeFunction that is not for the URL does not count.
    lam.add_permission(FunctionName=name, StatementId="anyone", Action="lambda:InvokeFunction",
                       Principal="*")
    assert _get(url) == (403, {"Message": "Forbidden"})
    lam.add_permission(FunctionName=name, StatementId="invoke", Action="lambda:InvokeFunction",
                       Principal="*", InvokedViaFunctionUrl=True)
    status, body = _get(url)
    assert status == 200 and body["event"]["rawPath"] == "/whoami"

    statements = {s["Sid"]: s for s in json.loads(lam.get_policy(FunctionName=name)["Policy"])[
        "Statement"]}
    assert statements["url"]["Condition"] == {
        "StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}
    assert statements["invoke"]["Condition"] == {
        "Bool": {"lambda:InvokedViaFunctionUrl": "true"}}
    assert "Condition" not in statements["anyone"]
    assert not {"FunctionUrlAuthType", "InvokedViaFunctionUrl"} & set(statements["url"])

    lam.remove_permission(FunctionName=name, StatementId="invoke")
    assert _get(url) == (403, {"Message": "Forbidden"})  # the InvokeFunction statement gone
    lam.add_permission(FunctionName=name, StatementId="invoke", Action="lambda:InvokeFunction",
                       Principal="*", InvokedViaFunctionUrl=True)
    assert _get(url)[0] == 200
    lam.remove_permission(FunctionName=name, StatementId="url")
    assert _get(url) == (403, {"Message": "Forbidden"})  # the URL statement gone
