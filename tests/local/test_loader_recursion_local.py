"""The real loader on the emulator, in a load that needs more than 16 invocations of itself.

The loader hands a long load over to a new asynchronous invocation of itself, and each hand-over
writes a checkpoint into the bucket that triggers it: one chain of requests, which Lambda's
recursive loop detection stops at the 17th invocation unless the function's recursion config
is Allow. With Allow the file loads whole with one report; set back to Terminate from outside,
the next long load is stopped and its hand-over is kept in the failures bucket, naming the
file, with the condition `RecursiveInvocationException`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

import pytest
from local_helpers import write_limited_emulator

from inventory_cli.aws import Aws, make_aws
from inventory_cli.config import Settings, StackNames
from inventory_cli.local.emulator import EmulatorInfo, wait_until_idle
from inventory_cli.local.lambda_lineage import MAX_CHAIN_INVOCATIONS
from inventory_cli.stack.provision import provision
from lambda_src.continuation import CONTINUATION_FIELD

STACK = "chain"
# Writes a second the emulator takes, and the loader's timeout: about 900 rows an invocation
# (2 s, of which the loader keeps 1 s back; measured: 14,000 rows took 16), so a 20,000-row
# file needs more than 16.
WRITE_LIMIT = 600
TIMEOUT_S = 2
ROWS = 20_000


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorInfo]:
    with write_limited_emulator(tmp_path_factory.mktemp("chain-home"), WRITE_LIMIT) as info:
        yield info


@pytest.fixture(scope="module")
def stack(emulator: EmulatorInfo) -> tuple[Aws, StackNames]:
    aws = make_aws(Settings(stack=STACK, local=True), endpoint_url=emulator.endpoint)
    names = provision(aws).names
    aws.client("lambda").update_function_configuration(FunctionName=names.load_function,
                                                       Timeout=TIMEOUT_S)
    return aws, names


def _file(store: str) -> bytes:
    lines = ["store,item,count"] + [f"{store},Item {n:05d},{n % 50}" for n in range(ROWS)]
    return ("\n".join(lines) + "\n").encode()


def _events(aws: Aws, names: StackNames, name: str) -> list[dict[str, Any]]:
    logs = aws.client("logs")
    found = []
    for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName=names.load_log_group):
        found += [json.loads(e["message"]) for e in page["events"]
                  if e["message"].startswith("{")]
    return [e for e in found if e.get("event") == name]


def _kept(aws: Aws, names: StackNames) -> list[dict[str, Any]]:
    s3 = aws.client("s3")
    listing = s3.list_objects_v2(Bucket=names.failures_bucket).get("Contents", [])
    return [json.loads(s3.get_object(Bucket=names.failures_bucket, Key=o["Key"])["Body"].read())
            for o in listing]


def _report(aws: Aws, names: StackNames, key: str) -> dict[str, Any] | None:
    s3 = aws.client("s3")
    try:
        body = s3.get_object(Bucket=names.uploads_bucket, Key=f"reports/{key}.json")["Body"]
    except s3.exceptions.NoSuchKey:
        return None
    report: dict[str, Any] = json.loads(body.read())
    return report


@pytest.mark.slow  # a scale test: 20,000 rows, twice
def test_with_allow_a_long_load_finishes_and_with_terminate_it_is_kept(
        stack: tuple[Aws, StackNames], emulator: EmulatorInfo) -> None:
    aws, names = stack
    lam, s3 = aws.client("lambda"), aws.client("s3")
    lam.put_function_recursion_config(FunctionName=names.load_function, RecursiveLoop="Allow")
    s3.put_object(Bucket=names.uploads_bucket, Key="long.csv", Body=_file("Long"))
    assert wait_until_idle(emulator, timeout_s=600)
    report = _report(aws, names, "long.csv")
    assert report is not None and (report["status"], report["loaded"]) == ("loaded", ROWS)
    hand_overs = [e for e in _events(aws, names, "load_continued") if e["key"] == "long.csv"]
    assert len(hand_overs) >= MAX_CHAIN_INVOCATIONS  # so the chain went past the stop
    assert _kept(aws, names) == []

    # Someone sets the config back to Terminate: the next long load is stopped and kept.
    lam.put_function_recursion_config(FunctionName=names.load_function,
                                      RecursiveLoop="Terminate")
    s3.put_object(Bucket=names.uploads_bucket, Key="stopped.csv", Body=_file("Stopped"))
    assert wait_until_idle(emulator, timeout_s=600)
    assert _report(aws, names, "stopped.csv") is None
    stops = [r for r in _kept(aws, names)
             if r["requestContext"]["condition"] == "RecursiveInvocationException"]
    continuations = [r for r in stops if CONTINUATION_FIELD in r["requestPayload"]]
    # The hand-over that would have been the 17th invocation, naming the file.
    [record] = continuations
    assert record["requestContext"]["functionArn"].endswith(
        f":{names.load_function}:$LATEST")
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["requestPayload"][CONTINUATION_FIELD]["key"] == "stopped.csv"
    assert record["responsePayload"]["errorType"] == "RecursiveInvocationException"
    # The bucket notifies the loader of its own checkpoint and report writes too (they are
    # skipped unread): those events are in the chain as well, and the one of the 16th
    # checkpoint is stopped and kept like the hand-over.
    others = [r for r in stops if r not in continuations]
    assert all(unquote_plus(e["s3"]["object"]["key"]).startswith("reports/")
               for r in others for e in r["requestPayload"]["Records"]), others
