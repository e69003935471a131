"""The page's SRP client (dashboard/src/srp.js, run by Node) against the emulator's server side
(seam/cognito_srp.py) and the protocol's Python test client (tests/srp_client.py): three
implementations, one signature, for passwords and values that exercise the padding rules."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from srp_client import SrpClient, cognito_timestamp

from inventory_cli.local.seam import cognito_srp

RUNNER = Path(__file__).with_name("srp_runner.mjs")
POOL = "eu-west-1_Xy7Zq"


def run_page_srp(cases: list[dict[str, object]]) -> list[dict[str, str]]:
    node = shutil.which("node")
    assert node, "Node.js is needed (it builds the dashboard bundle too)"
    done = subprocess.run([node, str(RUNNER)], input=json.dumps(cases), capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    answer: list[dict[str, str]] = json.loads(done.stdout)
    return answer


def test_the_page_signs_what_the_emulator_and_the_python_client_expect() -> None:
    moments = [datetime(2026, 12, 3, 7, 5, 9, tzinfo=UTC), datetime(2025, 1, 31, 23, 0, 0,
                                                                    tzinfo=UTC)]
    cases, expected = [], []
    for n in range(16):
        client = SrpClient(POOL, "client")
        user_id = f"3f1c-{n}-member" if n % 2 else "ana@example.com"
        password = ["Pässwörd-€1!", "x", "Chosen-Pass-2024!", " spaces  in "][n % 4]
        challenge, salt = cognito_srp.new_challenge(
            pool_id=POOL, client_id="client", username=user_id, user_id=user_id,
            password=password, srp_a_hex=format(client.big_a, "x"))
        block = cognito_srp._secret_block()
        moment = moments[n % 2]
        stamp = cognito_timestamp(moment)
        server = cognito_srp.expected_signature(challenge, block, stamp)
        python = client.signature(user_id=user_id, password=password, salt_hex=salt,
                                  srp_b_hex=format(challenge.big_b, "x"), secret_block=block,
                                  timestamp=stamp)
        assert python == server
        cases.append({"a": format(client.small_a, "x"), "poolId": POOL, "userId": user_id,
                      "password": password, "salt": salt,
                      "srpB": format(challenge.big_b, "x"), "secretBlock": block,
                      "epochMs": int(moment.timestamp() * 1000)})
        expected.append({"srpA": format(client.big_a, "x"), "timestamp": stamp,
                         "signature": server})
    assert run_page_srp(cases) == expected


def test_a_wrong_password_in_the_page_does_not_match() -> None:
    client = SrpClient(POOL, "client")
    challenge, salt = cognito_srp.new_challenge(
        pool_id=POOL, client_id="client", username="u", user_id="u", password="right",
        srp_a_hex=format(client.big_a, "x"))
    block = cognito_srp._secret_block()
    moment = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)
    page, = run_page_srp([{"a": format(client.small_a, "x"), "poolId": POOL, "userId": "u",
                           "password": "wrong", "salt": salt,
                           "srpB": format(challenge.big_b, "x"), "secretBlock": block,
                           "epochMs": int(moment.timestamp() * 1000)}])
    assert page["timestamp"] == "Sun Mar 1 09:00:00 UTC 2026"
    assert page["signature"] != cognito_srp.expected_signature(challenge, block,
                                                               page["timestamp"])
