"""The emulator's faster update expressions give moto's answers: the same updates, valid and
not, run through plain moto and through the emulator's, each in a process of its own."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

# (update expression, names, values) applied in order to one item, then to a fresh one; every
# clause kind, nested paths, functions, arithmetic, and the errors moto answers.
UPDATES: list[tuple[str, dict[str, str], dict[str, Any]]] = [
    ("SET a = :n, b = :s, l = :l, m = :m", {}, {
        ":n": {"N": "1"}, ":s": {"S": "x"}, ":l": {"L": [{"N": "1"}]},
        ":m": {"M": {"k": {"N": "2"}}}}),
    ("ADD #m :m, Units :u, LowCount :l SET #map = if_not_exists(#map, :e)",
     {"#m": "Stores", "#map": "LowStores"},
     {":m": {"N": "1"}, ":u": {"N": "5"}, ":l": {"N": "0"}, ":e": {"M": {}}}),
    ("ADD #m :m, Units :u SET #map.#s0 = :s0, #map.#s1 = :s1",
     {"#m": "Stores", "#map": "LowStores", "#s0": "Berlin", "#s1": "Köln"},
     {":m": {"N": "2"}, ":u": {"N": "-3"}, ":s0": {"N": "0"}, ":s1": {"N": "1"}}),
    ("REMOVE #map.#r0 SET a = a + :one", {"#map": "LowStores", "#r0": "Berlin"},
     {":one": {"N": "1"}}),
    ("SET l = list_append(l, :more), c = if_not_exists(c, :zero) - :one", {},
     {":more": {"L": [{"S": "y"}]}, ":zero": {"N": "0"}, ":one": {"N": "1"}}),
    ("SET m.k = m.k + :two, l[0] = :s", {}, {":two": {"N": "2"}, ":s": {"S": "first"}}),
    ("ADD tags :t", {}, {":t": {"SS": ["a", "b"]}}),
    ("DELETE tags :t", {}, {":t": {"SS": ["a"]}}),
    ("REMOVE b, l[1]", {}, {}),
    # Errors: moto's own answers must come back unchanged.
    ("SET a = :missing", {}, {}),
    ("SET #nope = :n", {}, {":n": {"N": "1"}}),
    ("SET a = :n, a = :n", {}, {":n": {"N": "1"}}),
    ("SET m.k.deeper = :n", {}, {":n": {"N": "1"}}),
    ("ADD a :s", {}, {":s": {"S": "text"}}),
    ("SET x = y + :n", {}, {":n": {"N": "1"}}),
    ("SET Name = :n", {}, {":n": {"S": "key"}}),
    ("SET a = :n SET b = :n", {}, {":n": {"N": "1"}}),
    ("SET a = = :n", {}, {":n": {"N": "1"}}),
    ("REMOVE LowStores.#r", {"#r": "nobody"}, {}),
]

SCRIPT = textwrap.dedent('''
    import json, sys
    import boto3
    from moto import mock_aws
    updates = json.loads(sys.stdin.read())
    with mock_aws():
        if sys.argv[1] == "emulator":
            from inventory_cli.local import moto_seam
            moto_seam.install()
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(TableName="s", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "Kind", "KeyType": "HASH"},
                       {"AttributeName": "Name", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "Kind", "AttributeType": "S"},
                                  {"AttributeName": "Name", "AttributeType": "S"}])
        answers = []
        for round_ in range(2):  # the second round: the same texts again (kept parses)
            key = {"Kind": {"S": "item"}, "Name": {"S": f"tea-{round_}"}}
            for expression, names, values in updates:
                call = {"TableName": "s", "Key": key, "UpdateExpression": expression,
                        "ReturnValues": "ALL_NEW"}
                if names:
                    call["ExpressionAttributeNames"] = names
                if values:
                    call["ExpressionAttributeValues"] = values
                try:
                    answers.append(ddb.update_item(**call).get("Attributes"))
                except Exception as exc:
                    answers.append([type(exc).__name__, str(exc)])
                # The same update inside a transaction.
                try:
                    ddb.transact_write_items(TransactItems=[{"Update": {
                        k: v for k, v in call.items() if k != "ReturnValues"}}])
                    answers.append(ddb.get_item(TableName="s", Key=key).get("Item"))
                except Exception as exc:
                    answers.append([type(exc).__name__, str(exc)])
        print(json.dumps(answers, sort_keys=True))
''')


def _answers(moto: str) -> list[Any]:
    done = subprocess.run([sys.executable, "-c", SCRIPT, moto], input=json.dumps(UPDATES),
                          capture_output=True, text=True, timeout=120, check=True)
    answers: list[Any] = json.loads(done.stdout)
    return answers


def test_update_expressions_answer_as_in_plain_moto() -> None:
    plain, emulator = _answers("plain"), _answers("emulator")
    assert len(plain) == 4 * len(UPDATES)
    errors = [a for a in plain if isinstance(a, list)]
    assert len(errors) >= 16  # the wrong expressions are refused (twice, in two rounds)
    for index, (want, got) in enumerate(zip(plain, emulator, strict=True)):
        assert got == want, (index, UPDATES[index // 2 % len(UPDATES)][0])
