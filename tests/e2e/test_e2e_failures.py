"""End-to-end faults: break the running stack from outside, recover with the installed
command, count rows lost and alerts sent twice (both must be 0).

Same targets and variables as `test_e2e_pipeline.py`. The functions are broken the way an
operator's colleague would break them: another boto3 client changes their environment. The
outbox (what the staff received) is read on our own emulator only.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from e2e_target import Target, poll, write_csv

pytestmark = pytest.mark.e2e

EMAIL = "ops@example.com"
LOADS = {
    "break-a.csv": [("Hamburg", "Echo Dot", 4), ("Hamburg", "Echo Show", 7),
                    ("Hamburg", "Echo Plus", 2)],
    "break-b.csv": [("Leipzig", "Echo Dot", 1), ("Leipzig", "Echo Look", 9),
                    ("Leipzig", "Amazon Tap", 3)],
}
# Two stores, one zero each (an alert each), and counts that alert nothing.
ZEROS = [("Bremen", "Echo Dot", 0), ("Bremen", "Echo Show", 5), ("Dresden", "Echo Plus", 0),
         ("Dresden", "Amazon Tap", 8)]


def set_env(target: Target, function: str, **changes: str) -> None:
    """Another client changes a function's environment (and waits until the change is live)."""
    lam = target.boto3_client("lambda")
    variables = lam.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
    lam.update_function_configuration(FunctionName=function,
                                      Environment={"Variables": {**variables, **changes}})
    lam.get_waiter("function_updated_v2").wait(FunctionName=function)


def table_rows(target: Target) -> set[tuple[str, str, int]]:
    return {(r["store"], r["item"], r["count"])
            for r in target.json("show", "--output", "json")}


def failures(target: Target) -> list[dict[str, Any]]:
    return list(target.json("failures", "--output", "json"))


def outbox_lines(target: Target) -> Counter[tuple[str, str]]:
    """(store, item) of every alert line the staff received, counted."""
    lines: Counter[tuple[str, str]] = Counter()
    for message in target.outbox():
        for line in message["message"].splitlines():
            store, sep, item = line.partition(" is out of stock of ")
            assert sep, line
            lines[(store, item)] += 1
    return lines


def retry_all_and_count_alerts(e2e: Target, wanted: set[tuple[str, str]]) -> None:
    """`inventory retry --all` re-drives every kept batch: each wanted alert is then sent, and
    (locally) received once: 0 lost, 0 sent twice."""
    retried = e2e.run("retry", "--all", "--output", "json")
    assert {o["result"] for o in json.loads(retried.stdout)} == {"done"}
    assert failures(e2e) == []
    sent = [(a["store"], a["item"]) for a in e2e.alerts() if a["state"] == "sent"]
    assert sorted(sent) == sorted(wanted)
    if e2e.is_local:
        received = outbox_lines(e2e)
        alerts_lost = len(wanted - set(received))
        alerts_twice = sum(n - 1 for n in received.values() if n > 1)
        assert (alerts_lost, alerts_twice, set(received)) == (0, 0, wanted)


def test_a_broken_loader_keeps_both_files_and_retry_loads_every_row(e2e: Target) -> None:
    e2e.run("provision")
    loader = f"{e2e.stack}-load-inventory"
    set_env(e2e, loader, INVENTORY_TABLE=f"{e2e.stack}-no-such-table")
    names = [write_csv(e2e.work / name, rows).name for name, rows in LOADS.items()]

    # upload --wait ends because both loads are kept as failed, not because it timed out.
    waited = e2e.run("upload", "--wait", "--timeout", str(int(e2e.timeout_s * 4)), *names,
                     expect=1)
    assert "Error: the loader failed for 2 file(s): " in waited.stderr, waited.stderr
    assert "no load report" not in waited.stderr
    assert "Hint: fix the cause (`inventory status` shows drift), then `inventory retry " \
        in waited.stderr
    assert [line.split()[:2] for line in waited.stdout.splitlines()
            if line.startswith("break-")] == [[n, "failed"] for n in names]

    kept = failures(e2e)
    assert sorted((f["kind"], f["function"], f["files"][0]["key"]) for f in kept) == [
        ("async", loader, n) for n in names]
    # The loader's role grants writes to the stack's table only: DynamoDB refuses a write to
    # any other table (AccessDeniedException) before it looks the table up, as on AWS.
    assert all(f["attempts"] == 3 and "AccessDeniedException" in f["error"]
               for f in kept), [f["error"] for f in kept]
    assert table_rows(e2e) == set()

    drifted = e2e.run("status", expect=1)
    assert "load-function" in drifted.stdout and "drifted" in drifted.stdout
    e2e.run("provision")
    complete = e2e.run("status", expect=1)
    assert "2 failure(s) are kept" in complete.stderr
    assert " failures` lists them" in complete.stderr

    retried = e2e.run("retry", "--all", "--output", "json")
    assert sorted(o["result"] for o in json.loads(retried.stdout)) == ["done", "done"]
    expected = {row for rows in LOADS.values() for row in rows}
    present = table_rows(e2e)
    rows_lost = len(expected - present)
    assert (rows_lost, present) == (0, expected)
    assert failures(e2e) == []
    e2e.run("status")

    # Running it again re-drives nothing.
    again = e2e.run("retry", "--all", "--output", "table")
    assert again.stdout.strip() == "Nothing kept: no failures to retry."
    assert table_rows(e2e) == expected


def test_a_broken_checker_keeps_its_batches_and_retry_sends_each_alert_once(
        e2e: Target) -> None:
    e2e.run("provision")
    e2e.run("subscribe", EMAIL)
    checker = f"{e2e.stack}-check-stock"
    account = e2e.uploads_bucket().split("-")[-4]
    set_env(e2e, checker,
            ALERT_TOPIC_ARN=f"arn:aws:sns:us-east-1:{account}:{e2e.stack}-nowhere")
    zeros = write_csv(e2e.work / "zeros.csv", ZEROS)
    e2e.run("upload", "--wait", zeros.name)
    assert table_rows(e2e) == set(ZEROS)

    wanted = {(s, i) for s, i, c in ZEROS if c == 0}

    def kept_items(kept: list[dict[str, Any]]) -> set[tuple[str, str]]:
        return {(x["store"], x["item"]) for f in kept if f["kind"] == "stream"
                for x in f["items"]}

    kept = poll(lambda: failures(e2e), lambda k: kept_items(k) >= wanted, e2e.timeout_s * 3,
                "the failed batches in `inventory failures`")
    assert {f["function"] for f in kept} == {checker}
    if e2e.is_local:
        assert outbox_lines(e2e) == Counter()  # none before the repair

    e2e.run("provision")
    retry_all_and_count_alerts(e2e, wanted)

    # A second retry sends nothing again.
    again = e2e.run("retry", "--all", "--output", "table")
    assert again.stdout.strip() == "Nothing kept: no failures to retry."
    if e2e.is_local:
        assert outbox_lines(e2e) == Counter(dict.fromkeys(wanted, 1))


def test_retry_with_nothing_kept_an_unknown_id_and_an_unparseable_record(e2e: Target) -> None:
    e2e.run("provision")
    nothing = e2e.run("retry", "--all", "--output", "table")
    assert nothing.stdout.strip() == "Nothing kept: no failures to retry."

    unknown = e2e.run("retry", "no-such-id", expect=1)
    assert unknown.stderr.startswith(
        "Error: no kept failure with id 'no-such-id' (nothing was re-driven)\n")
    assert "Traceback" not in unknown.stderr

    bucket = e2e.uploads_bucket().replace("-uploads-", "-failures-")
    e2e.boto3_client("s3").put_object(
        Bucket=bucket, Key="aws/lambda/async/somebody/2024/05/14/garbage", Body=b"{not json")
    [listed] = failures(e2e)
    assert (listed["id"], listed["kind"]) == ("garbage", "unreadable")
    assert listed["error"].startswith("cannot be parsed")
    status = e2e.run("status", expect=1)
    assert "1 failure(s) are kept" in status.stderr
    retried = e2e.run("retry", "--all", "--output", "json", expect=1)
    assert "Traceback" not in retried.stderr
    assert [(o["id"], o["result"]) for o in json.loads(retried.stdout)] == [
        ("garbage", "failed")]
    assert [f["id"] for f in failures(e2e)] == ["garbage"]


def test_a_file_s3_never_announced_is_named_and_loaded_by_retry(e2e: Target) -> None:
    e2e.run("provision")
    s3 = e2e.boto3_client("s3")
    bucket = e2e.uploads_bucket()
    # Another client removes the bucket's notification: S3 no longer invokes the loader.
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    lost = write_csv(e2e.work / "lost.csv", [("Kiel", "Echo Dot", 2), ("Kiel", "Echo Show", 6)])
    waited = e2e.run("upload", "--wait", "--timeout", "3", lost.name, expect=1)
    assert "stored, but never loaded" in waited.stderr
    assert "Hint: `inventory retry unloaded:lost.csv` loads them" in waited.stderr

    e2e.run("provision")  # the notification is back; the lost event is not
    retried = e2e.run("retry", "unloaded:lost.csv", "--output", "json")
    assert [o["result"] for o in json.loads(retried.stdout)] == ["done"]
    assert table_rows(e2e) == {("Kiel", "Echo Dot", 2), ("Kiel", "Echo Show", 6)}
    named_again = e2e.run("retry", "unloaded:lost.csv", "--output", "json")
    assert [o["result"] for o in json.loads(named_again.stdout)] == ["already loaded"]
