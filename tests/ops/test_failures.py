"""`inventory failures`, `retry`, and `status` with kept failures, on the provisioned stack.

The kept records are Lambda's own (canned in tests/events/, pointed at this stack); the functions
are played by `FunctionPlayer` (no Lambda code runs in-process; the real ones run end to end in
tests/e2e/test_e2e_failures.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import unquote_plus

import pytest
from cli_runner import Cli
from ops_doubles import canned, keep_load_failure, keep_stream_failure, load_object, write_report

from inventory_cli.aws import Aws
from inventory_cli.config import StackNames
from inventory_cli.ops import clock
from lambda_src.update_summaries import REPLAY_FIELD

ROWS = b"store,item,count\nBerlin,Echo Dot,3\nBerlin,Echo Plus,0\n"


@pytest.fixture
def cli(aws: Aws) -> Cli:
    """Tables here are read at 200 columns."""
    return Cli(aws, columns=200)


@dataclass
class Played:
    """What the emulator's runtime returns for a RequestResponse invoke."""

    ok: bool
    payload: str
    log_tail_base64: str = ""


class FunctionPlayer:
    """Plays the loader (rows + report, as ops_doubles does) and the checker; either can be
    broken. Records every synchronous invocation."""

    def __init__(self, aws: Aws, names: StackNames) -> None:
        self.aws, self.names = aws, names
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.broken: set[str] = set()

    def __call__(self, spec: Any, event_json: str) -> Played:
        event = json.loads(event_json)
        self.calls.append((spec.name, event))
        if spec.name in self.broken:
            return Played(False, json.dumps({"errorMessage": "Requested resource not found",
                                             "errorType": "ResourceNotFoundException"}))
        if spec.name == self.names.load_function:
            for record in event["Records"]:
                load_object(self.aws, self.names, unquote_plus(record["s3"]["object"]["key"]))
            return Played(True, json.dumps({"files": [], "ignored": []}))
        return Played(True, json.dumps({"batchItemFailures": []}))


@pytest.fixture
def player(aws: Aws, stack: StackNames, lambda_invocations: Any) -> FunctionPlayer:
    played = FunctionPlayer(aws, stack)
    lambda_invocations.invoke = played
    return played


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> None:
    """Eleven minutes from now: files stored by the test are past the 10-minute grace."""
    real = clock.utc_now
    monkeypatch.setattr(clock, "utc_now", lambda: real() + timedelta(minutes=11))


def upload(aws: Aws, names: StackNames, key: str, body: bytes = ROWS) -> str:
    response = aws.client("s3").put_object(Bucket=names.uploads_bucket, Key=key, Body=body)
    return str(response["VersionId"])


def kept_keys(aws: Aws, names: StackNames) -> list[str]:
    listing = aws.client("s3").list_objects_v2(Bucket=names.failures_bucket)
    return sorted(obj["Key"] for obj in listing.get("Contents", []))


def items(aws: Aws, names: StackNames) -> list[tuple[str, str, str]]:
    scan = aws.client("dynamodb").scan(TableName=names.table)["Items"]
    return sorted((i["Store"]["S"], i["Item"]["S"], i["Count"]["N"]) for i in scan)


STREAM_RECORDS = canned("ddb_stream.json")["Records"][:2]


def test_nothing_kept(cli: Cli, aws: Aws, stack: StackNames, player: FunctionPlayer) -> None:
    listed = cli("failures", "--output", "table")
    assert (listed.exit_code, listed.stdout) == (
        0, "No kept failures: every stored file has its load report and no invocation failed "
           "for good.\n")
    assert json.loads(cli("failures").stdout) == []
    retried = cli("retry", "--all", "--output", "table")
    assert (retried.exit_code, retried.stdout) == (0, "Nothing kept: no failures to retry.\n")
    assert player.calls == []


@pytest.mark.usefixtures("later")
def test_each_kind_of_failure_is_listed(cli: Cli, aws: Aws, stack: StackNames) -> None:
    version = upload(aws, stack, "north region/berlin.csv")
    keep_load_failure(aws, stack, "north region/berlin.csv", "load-1")
    keep_stream_failure(aws, stack, STREAM_RECORDS, "batch-1")
    upload(aws, stack, "never.csv")
    upload(aws, stack, "loaded.csv")
    load_object(aws, stack, "loaded.csv")

    listed = json.loads(cli("failures", "--output", "json").stdout)
    by_id = {f["id"]: f for f in listed}
    assert sorted(by_id) == ["batch-1", "load-1", "unloaded:never.csv"]
    load = by_id["load-1"]
    assert (load["kind"], load["function"], load["attempts"], load["error"]) == (
        "async", stack.load_function, 3,
        "ResourceNotFoundException: Requested resource not found")
    assert load["files"] == [{"bucket": stack.uploads_bucket, "key": "north region/berlin.csv",
                              "version_id": version}]
    assert load["when"] == "2024-05-14T09:24:52.108000+00:00"
    batch = by_id["batch-1"]
    assert (batch["kind"], batch["function"], batch["attempts"]) == (
        "stream", stack.check_function, 6)
    assert batch["items"] == [{"store": "Berlin", "item": "Echo Plus"},
                              {"store": "Berlin", "item": "Echo Dot"}]
    assert batch["error"] == "RetryAttemptsExhausted, function error Unhandled"
    never = by_id["unloaded:never.csv"]
    assert (never["kind"], never["object_key"], never["attempts"]) == ("unloaded", None, None)
    assert never["error"].startswith("stored 11 min ago and never loaded (no load report)")

    table = cli("failures", "--output", "table")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["Id", "When", "(UTC)", "Function", "File", "/", "items",
                                "Error", "Attempts"]
    # One row per failure (long cells fold onto further lines, whose first column is blank).
    redrive = lines.index("Re-drive with:")
    assert [line.split()[0] for line in lines[2:redrive] if not line.startswith(" ")] == [
        "load-1", "batch-1", "unloaded:never.csv"]
    # Under the table, the line that re-drives each (the operators' messages give the same).
    assert lines[redrive + 1:] == [
        "  inventory --stack inventory retry load-1",
        "  inventory --stack inventory retry batch-1",
        "  inventory --stack inventory retry unloaded:never.csv"]
    assert [by_id[i]["retry"] for i in ("load-1", "unloaded:never.csv")] == [
        "inventory --stack inventory retry load-1",
        "inventory --stack inventory retry unloaded:never.csv"]
    assert "Berlin: Echo Plus, Berlin: Echo Dot" in table.stdout
    assert "north region/berlin.csv (version" in table.stdout

    # Within the grace period a stored file is not (yet) listed.
    soon = json.loads(cli("failures", "--grace", "20m").stdout)
    assert [f["id"] for f in soon] == ["load-1", "batch-1"]


@pytest.mark.usefixtures("later")
def test_a_kept_event_without_a_version_is_matched_by_its_etag(cli: Cli, aws: Aws,
                                                                stack: StackNames) -> None:
    upload(aws, stack, "berlin.csv")
    keep_load_failure(aws, stack, "berlin.csv", "load-1", versioned_event=False)
    upload(aws, stack, "pusan.csv", b"store,item,count\nPusan,Echo Show,4\n")
    keep_load_failure(aws, stack, "pusan.csv", "load-2", versioned_event=False)
    # A newer upload of the same key (other bytes) is a file of its own, not yet loaded.
    upload(aws, stack, "pusan.csv", b"store,item,count\nPusan,Echo Show,5\n")
    listed = json.loads(cli("failures").stdout)
    assert [(f["id"], [x["version_id"] for x in f["files"]]) for f in listed][:2] == [
        ("load-1", [None]), ("load-2", [None])]
    assert [f["id"] for f in listed] == ["load-1", "load-2", "unloaded:pusan.csv"]


@pytest.mark.usefixtures("later")
def test_retry_all_redrives_the_kept_events_and_forgets_them(cli: Cli,
        aws: Aws, stack: StackNames, player: FunctionPlayer) -> None:
    berlin = upload(aws, stack, "berlin.csv")
    kept_load = keep_load_failure(aws, stack, "berlin.csv", "load-1")
    keep_stream_failure(aws, stack, STREAM_RECORDS, "batch-1")
    version = upload(aws, stack, "never.csv", b"store,item,count\nPusan,Echo Show,4\n")

    result = cli("retry", "--all", "--output", "table")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"load-1: done: berlin.csv (version {berlin}): {stack.load_function} succeeded",
        f"batch-1: done: Berlin: Echo Plus, Berlin: Echo Dot: {stack.check_function} succeeded",
        f"unloaded:never.csv: done: never.csv (version {version}): {stack.load_function} "
        "succeeded"]
    # The loader got the kept event itself; the checker the kept records, not re-read.
    kept_record = canned("failure_async_load.json")
    assert [name for name, _ in player.calls] == [stack.load_function, stack.check_function,
                                                  stack.load_function]
    assert player.calls[0][1]["Records"][0]["s3"]["object"]["key"] == "berlin.csv"
    assert player.calls[0][1]["Records"][0]["eventName"] == (
        kept_record["requestPayload"]["Records"][0]["eventName"])
    # Marked as a replay (the summaries function then writes only with conditions).
    assert player.calls[1][1] == {"Records": STREAM_RECORDS, REPLAY_FIELD: True}
    never = player.calls[2][1]["Records"][0]["s3"]
    assert (never["bucket"]["name"], never["object"]["key"], never["object"]["versionId"]) == (
        stack.uploads_bucket, "never.csv", version)
    assert kept_load not in kept_keys(aws, stack) and kept_keys(aws, stack) == []
    assert items(aws, stack) == [("Berlin", "Echo Dot", "3"), ("Berlin", "Echo Plus", "0"),
                                 ("Pusan", "Echo Show", "4")]

    again = cli("retry", "--all", "--output", "table")
    assert (again.exit_code, again.stdout) == (0, "Nothing kept: no failures to retry.\n")
    assert len(player.calls) == 3


def test_a_failure_that_fails_again_is_kept_and_retried_later(cli: Cli,
        aws: Aws, stack: StackNames, player: FunctionPlayer) -> None:
    version = upload(aws, stack, "berlin.csv")
    kept = keep_load_failure(aws, stack, "berlin.csv", "load-1")
    player.broken.add(stack.load_function)
    failed = cli("retry", "load-1", "--output", "table")
    assert failed.exit_code == 1
    assert failed.stdout == (f"load-1: failed: berlin.csv (version {version}): "
                             "ResourceNotFoundException: Requested resource not found\n")
    assert failed.stderr == (
        "Error: 1 of 1 failed again and are still kept\nHint: fix the cause (`inventory "
        "status`, `inventory logs load`), then run `inventory retry` again\n")
    assert kept_keys(aws, stack) == [kept]

    player.broken.clear()
    done = cli("retry", "load-1", "--output", "json")
    assert done.exit_code == 0
    assert [(o["id"], o["result"]) for o in json.loads(done.stdout)] == [("load-1", "done")]
    assert kept_keys(aws, stack) == []
    assert items(aws, stack) == [("Berlin", "Echo Dot", "3"), ("Berlin", "Echo Plus", "0")]

    # The same id once more: nothing of it is kept any longer.
    twice = cli("retry", "load-1")
    assert twice.exit_code == 1
    assert twice.stderr == (
        "Error: no kept failure with id 'load-1' (nothing was re-driven)\nHint: `inventory "
        "failures` lists the ids; a failure that was re-driven successfully is no longer kept\n")
    assert [name for name, _ in player.calls] == [stack.load_function] * 2


def test_retry_as_csv(cli: Cli, aws: Aws, stack: StackNames, player: FunctionPlayer) -> None:
    keep_stream_failure(aws, stack, STREAM_RECORDS, "batch-1")
    result = cli("retry", "batch-1", "--output", "csv")
    assert (result.exit_code, result.stdout) == (
        0, "id,kind,function,what,result,detail\n"
           f"batch-1,stream,{stack.check_function},\"Berlin: Echo Plus, Berlin: Echo Dot\",done,"
           f"{stack.check_function} succeeded\n")


def test_unknown_ids_and_usage(cli: Cli,
                               aws: Aws, stack: StackNames, player: FunctionPlayer) -> None:
    upload(aws, stack, "berlin.csv")
    keep_load_failure(aws, stack, "berlin.csv", "load-1")
    unknown = cli("retry", "load-1", "nope", "unloaded:missing.csv")
    assert unknown.exit_code == 1
    assert unknown.stderr.startswith(
        "Error: no kept failure with id 'nope', 'unloaded:missing.csv' (nothing was "
        "re-driven)\n")
    assert player.calls == []  # every id is checked before anything is re-driven
    neither = cli("retry")
    assert neither.exit_code == 2
    assert neither.stderr.startswith("Error: name the failures to retry")
    both = cli("retry", "load-1", "--all")
    assert (both.exit_code, both.stderr) == (2, "Error: give ids or --all, not both\n")


def test_an_unloaded_file_named_explicitly_is_loaded_whatever_its_age(cli: Cli,
        aws: Aws, stack: StackNames, player: FunctionPlayer) -> None:
    upload(aws, stack, "fresh.csv")
    result = cli("retry", "unloaded:fresh.csv", "--output", "json")
    assert result.exit_code == 0, result.output
    assert [(o["id"], o["result"]) for o in json.loads(result.stdout)] == [
        ("unloaded:fresh.csv", "done")]
    assert items(aws, stack) == [("Berlin", "Echo Dot", "3"), ("Berlin", "Echo Plus", "0")]
    # Now it has its report: named again, nothing is invoked.
    again = cli("retry", "unloaded:fresh.csv", "--output", "json")
    assert [(o["result"]) for o in json.loads(again.stdout)] == ["already loaded"]
    assert len(player.calls) == 1


def test_a_kept_load_of_a_replaced_version_is_not_loaded_over_the_newer_one(cli: Cli,
        aws: Aws, stack: StackNames, player: FunctionPlayer) -> None:
    old = upload(aws, stack, "berlin.csv", b"store,item,count\nBerlin,Echo Dot,1\n")
    keep_load_failure(aws, stack, "berlin.csv", "load-old", version_id=old)
    upload(aws, stack, "berlin.csv", b"store,item,count\nBerlin,Echo Dot,9\n")
    load_object(aws, stack, "berlin.csv")
    result = cli("retry", "--all", "--output", "json")
    assert result.exit_code == 0, result.output
    [outcome] = json.loads(result.stdout)
    assert outcome["result"] == "superseded"
    assert player.calls == []
    assert kept_keys(aws, stack) == []
    assert items(aws, stack) == [("Berlin", "Echo Dot", "9")]


def test_an_unparseable_record_is_listed_and_never_crashes_a_command(cli: Cli,
        aws: Aws, stack: StackNames, player: FunctionPlayer) -> None:
    s3 = aws.client("s3")
    s3.put_object(Bucket=stack.failures_bucket, Key="aws/lambda/async/x/2024/05/14/garbage",
                  Body=b"not json")
    s3.put_object(Bucket=stack.failures_bucket, Key="aws/lambda/async/x/2024/05/14/list",
                  Body=b"[1, 2]")
    s3.put_object(Bucket=stack.failures_bucket, Key="odd/no-context",
                  Body=json.dumps({"requestPayload": {}}).encode())
    listed = {f["id"]: f for f in json.loads(cli("failures").stdout)}
    assert {i: (f["kind"], f["error"]) for i, f in listed.items()} == {
        "garbage": ("unreadable", "cannot be parsed (JSONDecodeError: Expecting value: line 1 "
                                  "column 1 (char 0))"),
        "list": ("unreadable", "cannot be parsed (not a JSON object)"),
        "no-context": ("unreadable", "cannot be parsed (no requestContext)")}
    status = cli("status", "--output", "json")
    assert status.exit_code == 1
    assert json.loads(status.stdout)[-1]["count"] == 3

    retried = cli("retry", "--all", "--output", "json")
    assert retried.exit_code == 1
    assert "Traceback" not in retried.output
    assert [(o["id"], o["result"]) for o in json.loads(retried.stdout)] == [
        ("garbage", "failed"), ("list", "failed"), ("no-context", "failed")]
    assert json.loads(retried.stdout)[0]["detail"].endswith(
        f"inspect s3://{stack.failures_bucket}/aws/lambda/async/x/2024/05/14/garbage and "
        "delete it by hand")
    assert player.calls == []
    assert len(kept_keys(aws, stack)) == 3


def test_status_names_kept_failures_when_every_resource_is_fine(cli: Cli,
        aws: Aws, stack: StackNames) -> None:
    upload(aws, stack, "berlin.csv")
    write_report(aws, stack, "berlin.csv", {"source": {}, "status": "loaded"})
    clean = cli("status", "--output", "json")
    assert clean.exit_code == 0
    assert json.loads(clean.stdout)[-1] == {
        "resource": "kept-failures", "name": stack.failures_bucket, "state": "ok",
        "detail": "", "count": 0}

    keep_load_failure(aws, stack, "berlin.csv", "load-1")
    keep_stream_failure(aws, stack, STREAM_RECORDS, "batch-1")
    table = cli("status")
    assert table.exit_code == 1
    assert table.stdout.splitlines()[-1] == f"2 kept failure(s) in {stack.failures_bucket}"
    assert table.stderr == (
        "Error: stack inventory is complete, but 2 failure(s) are kept: files not loaded or "
        "alerts not sent\nHint: `inventory failures` lists them; `inventory retry --all` "
        "re-drives them\n")
    as_json = cli("status", "--output", "json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)[-1] == {
        "resource": "kept-failures", "name": stack.failures_bucket, "state": "failures",
        "detail": "2 kept: see `inventory failures`", "count": 2}


def keep_stopped_continuation(aws: Aws, names: StackNames, key: str, failure_id: str, *,
                              waiting: str | None = None, hops: int = 16,
                              loop_stopped: bool = True) -> tuple[str, dict[str, Any]]:
    """What Lambda keeps for a load that had handed over and was then stopped: by its
    recursive loop detection (the event never ran: a condition, no response), or by the
    loader's own bound (its LoadCannotFinish error). The payload is the loader's hand-over."""
    from lambda_src.continuation import CONTINUATION_FIELD

    s3 = aws.client("s3")
    head = s3.head_object(Bucket=names.uploads_bucket, Key=key)
    record = canned("failure_async_load.json")
    record["requestContext"]["functionArn"] = (
        f"arn:aws:lambda:{names.region}:{names.account_id}:function:{names.load_function}")
    pointer = {"bucket": names.uploads_bucket, "key": key, "version_id": head["VersionId"],
               "etag": head["ETag"].strip('"'),
               "checkpoint_key": f"reports/.loading/{key}.{head['VersionId']}.{hops}.checkpoint",
               "checkpoint_version": "cp-version", "hops": hops}
    rest = []
    if waiting is not None:
        rest = canned("failure_async_load.json")["requestPayload"]["Records"]
        other = s3.head_object(Bucket=names.uploads_bucket, Key=waiting)
        rest[0]["s3"]["bucket"]["name"] = names.uploads_bucket
        rest[0]["s3"]["object"].update(key=waiting, versionId=other["VersionId"],
                                       eTag=other["ETag"].strip('"'))
    record["requestPayload"] = {CONTINUATION_FIELD: pointer, "Records": rest}
    if loop_stopped:
        record["requestContext"].update(condition="RecursiveInvocationLoopDetected",
                                        approximateInvokeCount=1)
        record["responseContext"] = {}
        del record["responsePayload"]
    else:
        record["responsePayload"]["errorType"] = "LoadCannotFinish"
        record["responsePayload"]["errorMessage"] = (
            f"the load of s3://{names.uploads_bucket}/{key} did not finish in 200 hand-overs "
            "(stopped in the write pass at line 900, 800 items written so far); `inventory "
            "retry` goes on from there")
    object_key = f"aws/lambda/async/{names.load_function}/2024/05/14/{failure_id}"
    s3.put_object(Bucket=names.failures_bucket, Key=object_key,
                  Body=json.dumps(record).encode())
    return object_key, pointer


@pytest.mark.usefixtures("later")
def test_a_stopped_continuation_is_listed_as_the_load_of_its_file(cli: Cli, aws: Aws,
                                                                  stack: StackNames) -> None:
    version = upload(aws, stack, "north region/berlin.csv")
    waiting = upload(aws, stack, "pusan.csv")
    keep_stopped_continuation(aws, stack, "north region/berlin.csv", "loop-1",
                              waiting="pusan.csv")
    listed = json.loads(cli("failures", "--output", "json").stdout)
    # Listed once, as the load of its file (not also as a file never loaded).
    assert [f["id"] for f in listed] == ["loop-1"]
    [loop] = listed
    assert loop["files"] == [
        {"bucket": stack.uploads_bucket, "key": "north region/berlin.csv", "version_id": version},
        {"bucket": stack.uploads_bucket, "key": "pusan.csv", "version_id": waiting}]
    assert loop["error"] == (
        "the load of north region/berlin.csv stopped after 16 hand-overs: "
        "RecursiveInvocationLoopDetected (Lambda's recursive loop detection stopped it: the "
        "loader's recursion config must be Allow, which `inventory provision` sets; "
        "`inventory retry` then goes on from where it stopped)")


def test_upload_wait_ends_at_the_kept_failure_of_a_stopped_continuation(
        aws: Aws, stack: StackNames) -> None:
    from pathlib import Path

    from inventory_cli.ops.failures import FailureReader
    from inventory_cli.ops.upload import UploadedFile, wait_for_reports

    version = upload(aws, stack, "berlin.csv")
    etag = aws.client("s3").head_object(Bucket=stack.uploads_bucket,
                                        Key="berlin.csv")["ETag"].strip('"')
    keep_stopped_continuation(aws, stack, "berlin.csv", "long-1", loop_stopped=False)
    uploaded = UploadedFile(path=Path("berlin.csv"), key="berlin.csv", size=len(ROWS),
                            version_id=version, etag=etag)
    [outcome] = wait_for_reports(aws, stack.uploads_bucket, [uploaded], timeout=5,
                                 sleep=lambda _: None, failures=FailureReader(aws, stack))
    assert outcome.report is None and outcome.failure is not None
    assert outcome.failure.id == "long-1"
    # The loader's own reason, which names the file and the bound, is kept as it is.
    assert outcome.failure.error == (
        f"LoadCannotFinish: the load of s3://{stack.uploads_bucket}/berlin.csv did not finish "
        "in 200 hand-overs (stopped in the write pass at line 900, 800 items written so far); "
        "`inventory retry` goes on from there")


def test_retry_goes_on_with_a_stopped_continuation(cli: Cli, aws: Aws, stack: StackNames,
                                                   player: FunctionPlayer) -> None:
    from lambda_src.continuation import CONTINUATION_FIELD

    version = upload(aws, stack, "berlin.csv")
    upload(aws, stack, "pusan.csv")
    keep_stopped_continuation(aws, stack, "berlin.csv", "loop-1", waiting="pusan.csv")
    result = cli("retry", "loop-1", "--output", "table")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"loop-1: done: berlin.csv (version {version}), pusan.csv")
    [(function, event)] = player.calls
    assert function == stack.load_function
    # The same hand-over, from the same checkpoint, with a new allowance of hand-overs.
    pointer = event[CONTINUATION_FIELD]
    assert (pointer["key"], pointer["checkpoint_version"], pointer["hops"]) == (
        "berlin.csv", "cp-version", 0)
    assert [r["s3"]["object"]["key"] for r in event["Records"]] == ["pusan.csv"]
    assert kept_keys(aws, stack) == []


def test_retry_of_a_stopped_continuation_of_a_replaced_file_loads_only_the_rest(cli: Cli,
        aws: Aws, stack: StackNames, player: FunctionPlayer) -> None:
    from lambda_src.continuation import CONTINUATION_FIELD

    upload(aws, stack, "berlin.csv")
    upload(aws, stack, "pusan.csv")
    keep_stopped_continuation(aws, stack, "berlin.csv", "loop-1", waiting="pusan.csv")
    upload(aws, stack, "berlin.csv", b"store,item,count\nBerlin,Echo Dot,9\n")  # newer upload
    result = cli("retry", "loop-1", "--output", "json")
    assert result.exit_code == 0, result.output
    [(_, event)] = player.calls
    assert CONTINUATION_FIELD not in event
    assert [r["s3"]["object"]["key"] for r in event["Records"]] == ["pusan.csv"]


@pytest.mark.parametrize("payload_as_string", [False, True], ids=["object", "string"])
def test_a_kept_stream_batch_is_read_with_its_payload_an_object_or_a_string(cli: Cli,
        aws: Aws, stack: StackNames, player: FunctionPlayer, payload_as_string: bool) -> None:
    kept = keep_stream_failure(aws, stack, STREAM_RECORDS, "batch-1",
                               payload_as_string=payload_as_string)
    raw = json.loads(aws.client("s3").get_object(Bucket=stack.failures_bucket,
                                                 Key=kept)["Body"].read())
    assert isinstance(raw["payload"], str) is payload_as_string
    [batch] = json.loads(cli("failures").stdout)
    assert (batch["id"], batch["kind"]) == ("batch-1", "stream")
    assert batch["items"] == [{"store": "Berlin", "item": "Echo Plus"},
                              {"store": "Berlin", "item": "Echo Dot"}]
    result = cli("retry", "batch-1", "--output", "json")
    assert result.exit_code == 0, result.output
    # Either way the checker gets the kept records themselves.
    assert player.calls == [(stack.check_function, {"Records": STREAM_RECORDS, REPLAY_FIELD: True})]
    assert kept_keys(aws, stack) == []


def test_a_stopped_event_of_the_loaders_own_writes_says_there_is_nothing_to_load(cli: Cli,
        aws: Aws, stack: StackNames) -> None:
    s3 = aws.client("s3")
    checkpoint = "reports/.loading/berlin.csv.v1.3.checkpoint"
    s3.put_object(Bucket=stack.uploads_bucket, Key=checkpoint, Body=b"x")
    object_key = keep_load_failure(aws, stack, checkpoint, "loop-2")
    record = json.loads(s3.get_object(Bucket=stack.failures_bucket,
                                      Key=object_key)["Body"].read())
    record["requestContext"]["condition"] = "RecursiveInvocationLoopDetected"
    record["responseContext"] = {}
    del record["responsePayload"]
    s3.put_object(Bucket=stack.failures_bucket, Key=object_key, Body=json.dumps(record).encode())
    [kept] = json.loads(cli("failures").stdout)
    assert kept["error"] == (
        "RecursiveInvocationLoopDetected (an event the loader skips: none of its keys is an "
        "upload; `inventory retry` clears it) (Lambda's recursive loop detection stopped it: "
        "the loader's recursion config must be Allow, which `inventory provision` sets)")
