"""A role loses a statement from outside: the call that needed it fails as on AWS, `status` says
drifted, `provision` repairs it and `retry` sends what was kept (0 lost, 0 sent twice).

The emulator enforces the stack's roles (docs/emulator.md, "Roles, as AWS enforces them"); on
real AWS the same steps hold. Same targets and variables as `test_e2e_pipeline.py`.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from e2e_target import Target, poll, write_csv
from test_e2e_failures import (
    EMAIL,
    ZEROS,
    failures,
    outbox_lines,
    retry_all_and_count_alerts,
    table_rows,
)

pytestmark = pytest.mark.e2e


def remove_statement(target: Target, role: str, sid: str) -> None:
    """Another client rewrites the role's policy without one statement."""
    iam = target.boto3_client("iam")
    [policy] = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
    kept = [s for s in document["Statement"] if s.get("Sid") != sid]
    assert len(kept) == len(document["Statement"]) - 1
    iam.put_role_policy(RoleName=role, PolicyName=policy,
                        PolicyDocument=json.dumps({**document, "Statement": kept}))


def target_log(target: Target, group: str) -> str:
    events = target.boto3_client("logs").get_paginator("filter_log_events").paginate(
        logGroupName=group)
    return "\n".join(e["message"] for page in events for e in page["events"])


def test_a_checker_role_without_publish_keeps_its_batches_until_provision_and_retry(
        e2e: Target) -> None:
    e2e.run("provision")
    e2e.run("subscribe", EMAIL)
    checker = f"{e2e.stack}-check-stock"
    remove_statement(e2e, f"{e2e.stack}-check-stock-role", "PublishAlerts")
    drifted = e2e.run("status", expect=1)
    assert "check-role" in drifted.stdout and "drifted" in drifted.stdout

    zeros = write_csv(e2e.work / "zeros.csv", ZEROS)
    e2e.run("upload", "--wait", zeros.name)
    assert table_rows(e2e) == set(ZEROS)  # the loader's role is whole: every row is in
    wanted = {(s, i) for s, i, c in ZEROS if c == 0}

    def kept_items(kept: list[dict[str, Any]]) -> set[tuple[str, str]]:
        return {(x["store"], x["item"]) for f in kept if f["kind"] == "stream"
                for x in f["items"]}

    kept = poll(lambda: failures(e2e), lambda k: kept_items(k) >= wanted, e2e.timeout_s * 3,
                "the checker's failed batches in `inventory failures`")
    assert {f["function"] for f in kept} == {checker}
    # The checker's log names the refusal AWS gives a role without sns:Publish on the topic.
    log = target_log(e2e, f"/aws/lambda/{checker}")
    assert "AuthorizationError" in log and "sns:Publish" in log, log[-2000:]
    if e2e.is_local:
        assert outbox_lines(e2e) == Counter()

    e2e.run("provision")
    repaired = e2e.run("status", expect=1)  # whole again; only the kept failures remain
    assert "drifted" not in repaired.stdout
    assert f"{len(failures(e2e))} failure(s) are kept" in repaired.stderr
    retry_all_and_count_alerts(e2e, wanted)
