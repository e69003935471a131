"""The Lambda runtime on its own: worker processes, logs, isolation, retries, stream batches.

No moto and no emulator here: the runtime is handed plain FunctionSpecs and a log sink that
records. The handlers do not call AWS, so the endpoint is never contacted.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from inventory_cli.local.lambda_dispatch import AsyncConfig, StreamMapping
from inventory_cli.local.lambda_runtime import LambdaRuntime
from inventory_cli.local.lambda_worker import RuntimeFunction

SpecFactory = Callable[..., RuntimeFunction]


class RecordingSink:
    def __init__(self) -> None:
        self.lines: dict[str, list[str]] = {}
        self.streams: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def write(self, spec: RuntimeFunction, stream: str, events: Sequence[tuple[int, str]]) -> None:
        stamps = [t for t, _ in events]
        assert stamps == sorted(stamps)  # CloudWatch wants each batch in chronological order
        with self._lock:
            self.lines.setdefault(spec.log_group, []).extend(m for _, m in events)
            self.streams.add((spec.log_group, stream))


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def runtime(tmp_path: Path, sink: RecordingSink, sleeps: list[float]) -> Iterator[LambdaRuntime]:
    rt = LambdaRuntime(home=tmp_path, endpoint="http://127.0.0.1:9", log_sink=sink,
                       sleep=sleeps.append, async_retry_delays_s=(1.0, 2.0))
    yield rt
    rt.shutdown()


def test_direct_invocation_returns_the_result_and_logs_what_the_handler_printed(
        runtime: LambdaRuntime, sink: RecordingSink, probe_zip: bytes,
        make_spec: SpecFactory) -> None:
    spec = make_spec(probe_zip)
    result = runtime.invoke(spec, json.dumps({"action": "echo", "n": 1}))
    assert result.ok
    payload = json.loads(result.payload)
    assert payload["event"] == {"action": "echo", "n": 1}
    assert payload["remaining_ok"] is True
    assert payload["request_id"] == result.request_id
    lines = sink.lines["/aws/lambda/probe"]
    assert lines[0] == f"START RequestId: {result.request_id} Version: $LATEST"
    assert lines[1] == 'echo {"action": "echo", "n": 1}'
    level, stamp, request_id, message = lines[2].split("\t")
    assert (level, request_id, message) == ("[INFO]", result.request_id, "logged at info")
    assert stamp.endswith("Z")
    assert lines[3] == f"END RequestId: {result.request_id}"
    assert lines[4].startswith(f"REPORT RequestId: {result.request_id}\tDuration: ")
    assert "Init Duration: " in lines[4]  # a cold start
    assert result.log_text.splitlines() == lines


def test_a_worker_stays_warm_and_keeps_module_state(
        runtime: LambdaRuntime, sink: RecordingSink, probe_zip: bytes,
        make_spec: SpecFactory) -> None:
    spec = make_spec(probe_zip)
    first = json.loads(runtime.invoke(spec, '{"action": "echo"}').payload)
    second = json.loads(runtime.invoke(spec, '{"action": "echo"}').payload)
    assert (first["calls"], second["calls"]) == (1, 2)
    assert first["pid"] == second["pid"]
    reports = [line for line in sink.lines["/aws/lambda/probe"] if line.startswith("REPORT")]
    assert ["Init Duration" in r for r in reports] == [True, False]
    assert len(sink.streams) == 1  # one log stream per execution environment, as on AWS


def test_a_handler_exception_is_an_error_result_with_its_traceback_in_the_log(
        runtime: LambdaRuntime, sink: RecordingSink, probe_zip: bytes,
        make_spec: SpecFactory) -> None:
    spec = make_spec(probe_zip)
    result = runtime.invoke(spec, '{"action": "fail"}')
    assert not result.ok
    error = json.loads(result.payload)
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "the handler failed on purpose"
    log = "\n".join(sink.lines["/aws/lambda/probe"])
    assert "[ERROR] ValueError: the handler failed on purpose" in log
    assert "Traceback (most recent call last):" in log
    assert 'probe.py", line' in log
    # The environment survives an exception: the next call is served by the same worker.
    assert json.loads(runtime.invoke(spec, '{"action": "echo"}').payload)["calls"] == 2


def test_a_timeout_kills_the_worker_and_the_next_invocation_gets_a_new_one(
        runtime: LambdaRuntime, sink: RecordingSink, probe_zip: bytes,
        make_spec: SpecFactory) -> None:
    spec = make_spec(probe_zip, timeout_s=0.5)
    pid = json.loads(runtime.invoke(spec, '{"action": "echo"}').payload)["pid"]
    result = runtime.invoke(spec, '{"action": "sleep", "seconds": 30}')
    assert not result.ok
    error = json.loads(result.payload)
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"].endswith("Task timed out after 0.50 seconds")
    assert "Task timed out after 0.50 seconds" in sink.lines["/aws/lambda/probe"]
    assert not _process_exists(pid)
    after = json.loads(runtime.invoke(spec, '{"action": "echo"}').payload)
    assert after["pid"] != pid and after["calls"] == 1


def test_a_crashing_worker_is_reported_and_replaced(
        runtime: LambdaRuntime, probe_zip: bytes, make_spec: SpecFactory) -> None:
    spec = make_spec(probe_zip)
    result = runtime.invoke(spec, '{"action": "exit"}')
    assert json.loads(result.payload) == {
        "errorMessage": f"RequestId: {result.request_id} Error: Runtime exited with error: "
                        "exit status 3",
        "errorType": "Runtime.ExitError"}
    assert runtime.invoke(spec, '{"action": "echo"}').ok


def test_an_unserialisable_result_is_a_marshal_error(
        runtime: LambdaRuntime, probe_zip: bytes, make_spec: SpecFactory) -> None:
    result = runtime.invoke(make_spec(probe_zip), '{"action": "unserialisable"}')
    assert not result.ok
    assert json.loads(result.payload)["errorType"] == "Runtime.MarshalError"


def test_an_import_error_is_reported_like_the_lambda_runtime_does(
        runtime: LambdaRuntime, sink: RecordingSink, make_zip: Callable[..., bytes],
        make_spec: SpecFactory) -> None:
    code = make_zip({"broken.py": "import not_a_module_anywhere\n"})
    result = runtime.invoke(make_spec(code, name="broken", handler="broken.handler"), "{}")
    assert not result.ok
    error = json.loads(result.payload)
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert error["errorMessage"] == ("Unable to import module 'broken': No module named "
                                     "'not_a_module_anywhere'")
    assert any(line.startswith("[ERROR] Runtime.ImportModuleError")
               for line in sink.lines["/aws/lambda/broken"])


def test_functions_see_only_their_own_environment(
        runtime: LambdaRuntime, probe_zip: bytes, make_spec: SpecFactory,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMULATOR_SECRET_MARKER", "must-not-leak")
    one = make_spec(probe_zip, name="one", environment={"ONLY_ONE": "1", "AWS_REGION": "xx"})
    two = make_spec(probe_zip, name="two", environment={"ONLY_TWO": "2"})
    env_one = json.loads(runtime.invoke(one, '{"action": "env"}').payload)["env"]
    env_two = json.loads(runtime.invoke(two, '{"action": "env"}').payload)["env"]
    assert env_one["ONLY_ONE"] == "1" and "ONLY_TWO" not in env_one
    assert env_two["ONLY_TWO"] == "2" and "ONLY_ONE" not in env_two
    for env in (env_one, env_two):
        assert "EMULATOR_SECRET_MARKER" not in env
        assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"
        assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"  # reserved wins
    assert env_one["AWS_LAMBDA_FUNCTION_NAME"] == "one"
    assert "HOME" not in env_one and "VIRTUAL_ENV" not in env_one
    # Exactly the function's variables plus Lambda's own: nothing else gets in.
    lambda_own = {"PATH", "LANG", "TZ", "PYTHONUNBUFFERED", "LAMBDA_TASK_ROOT", "_HANDLER",
                  "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
                  "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_GROUP_NAME",
                  "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_REGION", "AWS_DEFAULT_REGION",
                  "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
                  "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                  "_X_AMZN_TRACE_ID"}  # set per invocation, as the Lambda runtime does
    # Python itself adds LC_CTYPE when the en_US.UTF-8 locale is not installed (PEP 538).
    assert set(env_two) - lambda_own - {"LC_CTYPE"} == {"ONLY_TWO"}


def test_the_zips_own_package_wins_over_an_installed_one(
        runtime: LambdaRuntime, make_zip: Callable[..., bytes], make_spec: SpecFactory) -> None:
    # `lambda_src` is installed (editable) in this environment; the zip's copy must be used.
    code = make_zip({
        "lambda_src/__init__.py": "",
        "lambda_src/probe_from_zip.py":
            "import lambda_src\n"
            "def handler(event, context):\n"
            "    return {'package': lambda_src.__file__, 'cwd': __import__('os').getcwd()}\n",
    })
    result = runtime.invoke(make_spec(code, name="zipwins",
                                      handler="lambda_src.probe_from_zip.handler"), "{}")
    assert result.ok, result.payload
    payload = json.loads(result.payload)
    code_dir = runtime.home / "lambda" / "code"
    assert Path(payload["package"]).parent.parent.parent == code_dir
    assert Path(payload["cwd"]).parent == code_dir


def test_new_code_replaces_the_worker(
        runtime: LambdaRuntime, make_zip: Callable[..., bytes], make_spec: SpecFactory) -> None:
    v1 = make_zip({"app.py": "import os\ndef handler(e, c):\n    return ['v1', os.getpid()]\n"})
    v2 = make_zip({"app.py": "import os\ndef handler(e, c):\n    return ['v2', os.getpid()]\n"})
    first = json.loads(runtime.invoke(make_spec(v1, handler="app.handler"), "{}").payload)
    second = json.loads(runtime.invoke(make_spec(v2, handler="app.handler"), "{}").payload)
    assert first[0] == "v1" and second[0] == "v2"
    assert not _process_exists(first[1])
    # A configuration change (environment) also means a fresh environment.
    third = json.loads(runtime.invoke(make_spec(v2, handler="app.handler",
                                                environment={"X": "1"}), "{}").payload)
    assert third[1] != second[1]


def test_asynchronous_events_are_retried_twice_then_dropped(  # noqa: PLR0917 - fixtures
        runtime: LambdaRuntime, sink: RecordingSink, sleeps: list[float], probe_zip: bytes,
        make_spec: SpecFactory, caplog: pytest.LogCaptureFixture) -> None:
    spec = make_spec(probe_zip)
    with caplog.at_level(logging.WARNING):
        runtime.submit_event(spec, '{"action": "fail"}')
        runtime.submit_event(spec, '{"action": "echo", "n": 7}')
        assert runtime.wait_idle(20)
    starts = [line for line in sink.lines["/aws/lambda/probe"] if line.startswith("START")]
    assert len(starts) == 4  # three attempts of the failing event, one of the good one
    assert sleeps == [1.0, 2.0]
    assert 'echo {"action": "echo", "n": 7}' in sink.lines["/aws/lambda/probe"]
    assert "asynchronous event for probe failed 3 times; dropped" in caplog.text


def _records(keys: Sequence[str], first_seq: int = 100) -> list[dict[str, Any]]:
    return [{"eventName": "INSERT", "dynamodb": {"SequenceNumber": str(first_seq + i),
                                                 "Keys": {"Item": {"S": key}}}}
            for i, key in enumerate(keys)]


def _deliveries(path: Path) -> list[list[str]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _stream_spec(make_spec: SpecFactory, code: bytes, tmp_path: Path,
                 **env: str) -> RuntimeFunction:
    return make_spec(code, name="stream", handler="stream.handler",
                     environment={"RECORD_FILE": str(tmp_path / "records.jsonl"), **env})


def test_stream_records_arrive_in_order_in_batches_of_the_mapping_size(
        runtime: LambdaRuntime, stream_zip: bytes, make_spec: SpecFactory,
        tmp_path: Path) -> None:
    spec = _stream_spec(make_spec, stream_zip, tmp_path)
    keys = [f"k{i:03d}" for i in range(25)]
    records = _records(keys)
    mapping = StreamMapping(uuid="m-1", batch_size=10)
    for start in range(0, 25, 5):  # several writes queue up while a batch is in flight
        runtime.submit_stream_records(spec, mapping, records[start:start + 5])
    assert runtime.wait_idle(20)
    batches = _deliveries(tmp_path / "records.jsonl")
    assert all(len(b) <= 10 for b in batches)
    assert [entry.split(":")[1] for b in batches for entry in b] == keys


def test_batch_item_failures_retry_from_the_first_failed_record(
        runtime: LambdaRuntime, stream_zip: bytes, make_spec: SpecFactory,
        tmp_path: Path) -> None:
    spec = _stream_spec(make_spec, stream_zip, tmp_path, FAIL_ONCE="c,e")
    mapping = StreamMapping(uuid="m-2", batch_size=10, report_batch_item_failures=True)
    runtime.submit_stream_records(spec, mapping, _records(["a", "b", "c", "d", "e"]))
    assert runtime.wait_idle(20)
    assert _deliveries(tmp_path / "records.jsonl") == [
        ["100:a", "101:b", "102:c", "103:d", "104:e"],
        # AWS's checkpoint rule: everything from the lowest failed sequence number on.
        ["102:c", "103:d", "104:e"],
    ]


def test_the_last_failed_record_alone_is_retried(
        runtime: LambdaRuntime, stream_zip: bytes, make_spec: SpecFactory,
        tmp_path: Path) -> None:
    spec = _stream_spec(make_spec, stream_zip, tmp_path, FAIL_ONCE="e")
    mapping = StreamMapping(uuid="m-3", batch_size=10, report_batch_item_failures=True)
    runtime.submit_stream_records(spec, mapping, _records(["a", "b", "c", "d", "e"]))
    assert runtime.wait_idle(20)
    assert _deliveries(tmp_path / "records.jsonl")[1:] == [["104:e"]]


def test_batch_item_failures_are_ignored_without_report_batch_item_failures(
        runtime: LambdaRuntime, stream_zip: bytes, make_spec: SpecFactory,
        tmp_path: Path) -> None:
    spec = _stream_spec(make_spec, stream_zip, tmp_path, FAIL_ONCE="a")
    runtime.submit_stream_records(spec, StreamMapping(uuid="m-4"), _records(["a", "b"]))
    assert runtime.wait_idle(20)
    assert len(_deliveries(tmp_path / "records.jsonl")) == 1


def test_a_failing_batch_is_retried_a_bounded_number_of_times_then_dropped(  # noqa: PLR0917
        runtime: LambdaRuntime, stream_zip: bytes, make_spec: SpecFactory, tmp_path: Path,
        sleeps: list[float], caplog: pytest.LogCaptureFixture) -> None:
    spec = _stream_spec(make_spec, stream_zip, tmp_path, ALWAYS_FAIL="1")
    mapping = StreamMapping(uuid="m-5", max_retry_attempts=2)
    with caplog.at_level(logging.WARNING):
        runtime.submit_stream_records(spec, mapping, _records(["a", "b"]))
        assert runtime.wait_idle(20)
    assert len(_deliveries(tmp_path / "records.jsonl")) == 3  # the first try and two retries
    assert "dropped 2 stream records (sequence numbers 100..101) for stream after 2 retries" \
        in caplog.text
    assert sleeps == [0.2, 0.4]


class RecordingDestinations:
    def __init__(self) -> None:
        self.records: list[tuple[str, dict[str, Any], str]] = []

    def deliver(self, destination_arn: str, record: dict[str, Any], *, s3_key: str,
                account_id: str, region: str) -> None:
        assert (account_id, region) == ("123456789012", "us-east-1")
        self.records.append((destination_arn, record, s3_key))


@pytest.fixture
def destinations() -> RecordingDestinations:
    return RecordingDestinations()


@pytest.fixture
def kept_runtime(tmp_path: Path, sink: RecordingSink, sleeps: list[float],
                 destinations: RecordingDestinations) -> Iterator[LambdaRuntime]:
    rt = LambdaRuntime(home=tmp_path, endpoint="http://127.0.0.1:9", log_sink=sink,
                       sleep=sleeps.append, destinations=destinations)
    yield rt
    rt.shutdown()


KEY_TIME = r"\d{4}/\d{2}/\d{2}/\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}-[0-9a-f-]{36}"


def test_an_event_that_fails_every_attempt_goes_to_the_on_failure_destination(
        kept_runtime: LambdaRuntime, sink: RecordingSink, destinations: RecordingDestinations,
        probe_zip: bytes, make_spec: SpecFactory) -> None:
    spec = make_spec(probe_zip)
    config = AsyncConfig(on_failure="arn:aws:s3:::kept")
    kept_runtime.submit_event(spec, '{"action": "fail", "n": 1}', config)
    kept_runtime.submit_event(spec, '{"action": "echo"}', config)
    assert kept_runtime.wait_idle(20)
    assert len([line for line in sink.lines["/aws/lambda/probe"] if line.startswith("START")]) == 4
    [(arn, record, key)] = destinations.records
    assert arn == "arn:aws:s3:::kept"
    assert re.fullmatch(r"aws/lambda/async/probe/" + KEY_TIME, key)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"] == spec.arn + ":$LATEST"
    assert record["requestPayload"] == {"action": "fail", "n": 1}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                         "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["version"] == "1.0"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", record["timestamp"])
    # The record's request id is an invocation's: its log says what went wrong.
    assert (f"START RequestId: {record['requestContext']['requestId']} Version: $LATEST"
            in sink.lines["/aws/lambda/probe"])


def test_the_event_invoke_configs_retry_count_and_event_age_are_honoured(
        tmp_path: Path, sink: RecordingSink, destinations: RecordingDestinations,
        probe_zip: bytes, make_spec: SpecFactory) -> None:
    now = [1000.0]
    rt = LambdaRuntime(home=tmp_path, endpoint="http://127.0.0.1:9", log_sink=sink,
                       destinations=destinations, clock=lambda: now[0],
                       sleep=lambda seconds: now.__setitem__(0, now[0] + seconds))
    try:
        spec = make_spec(probe_zip)
        rt.submit_event(spec, '{"action": "fail"}',
                        AsyncConfig(max_retry_attempts=0, on_failure="arn:aws:s3:::kept"))
        assert rt.wait_idle(20)
        rt.submit_event(spec, '{"action": "fail"}',
                        AsyncConfig(max_event_age_s=1.5, on_failure="arn:aws:s3:::kept"))
        assert rt.wait_idle(20)
    finally:
        rt.shutdown()
    starts = [line for line in sink.lines["/aws/lambda/probe"] if line.startswith("START")]
    assert len(starts) == 1 + 2  # no retry; then one retry before the event was too old
    assert [(r["requestContext"]["condition"], r["requestContext"]["approximateInvokeCount"])
            for _, r, _ in destinations.records] == [("RetriesExhausted", 1),
                                                     ("EventAgeExceeded", 2)]


@pytest.fixture
def failing_on(make_zip: Callable[..., bytes], make_spec: SpecFactory,
               tmp_path: Path) -> Callable[[str], RuntimeFunction]:
    """A stream function that records its batches and fails any batch holding the key."""
    def spec(key: str) -> RuntimeFunction:
        return make_spec(make_zip(FAILING_ON), name="stream", handler="stream.handler",
                         environment={"RECORD_FILE": str(tmp_path / "records.jsonl"),
                                      "FAIL_ON": key})

    return spec


def _kept_mapping(uuid: str, **settings: Any) -> StreamMapping:
    settings.setdefault("batch_size", 10)
    return StreamMapping(uuid=uuid, on_failure="arn:aws:s3:::kept",
                         stream_arn="arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x",
                         shard_id="shardId-1", **settings)


def test_a_failing_batch_is_bisected_down_to_the_bad_record_which_is_kept(  
        kept_runtime: LambdaRuntime, failing_on: Callable[[str], RuntimeFunction], tmp_path: Path,
        destinations: RecordingDestinations, sleeps: list[float]) -> None:
    spec = failing_on("c")
    mapping = _kept_mapping("m-6", batch_size=5, max_retry_attempts=1,
                            bisect_batch_on_function_error=True)
    kept_runtime.submit_stream_records(spec, mapping, _records(["a", "b", "c", "d", "e"]))
    kept_runtime.submit_stream_records(spec, mapping, _records(["f"], first_seq=105))
    assert kept_runtime.wait_idle(30)
    assert _deliveries(tmp_path / "records.jsonl") == [
        ["100:a", "101:b", "102:c", "103:d", "104:e"],
        ["100:a", "101:b"],  # the first half succeeds
        ["102:c", "103:d", "104:e"],
        ["102:c"],
        ["102:c"],  # alone, the bad record uses its retry: splits did not count
        ["103:d", "104:e"],
        ["105:f"],  # records after the discarded one still flow
    ]
    assert sleeps == [0.2]
    [(arn, record, key)] = destinations.records
    assert re.fullmatch(r"aws/lambda/m-6/shardId-1/" + KEY_TIME, key)
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"]["functionError"] == "Unhandled"
    info = record["DDBStreamBatchInfo"]
    assert {k: info[k] for k in ("shardId", "startSequenceNumber", "endSequenceNumber",
                                 "batchSize", "streamArn")} == {
        "shardId": "shardId-1", "startSequenceNumber": "102", "endSequenceNumber": "102",
        "batchSize": 1, "streamArn": mapping.stream_arn}
    assert record["payload"] == {"Records": _records(["a", "b", "c"])[2:]}


def test_without_bisection_the_whole_batch_is_retried_and_kept(
        kept_runtime: LambdaRuntime, failing_on: Callable[[str], RuntimeFunction], tmp_path: Path,
        destinations: RecordingDestinations) -> None:
    spec = failing_on("b")
    kept_runtime.submit_stream_records(spec, _kept_mapping("m-7", max_retry_attempts=2),
                                       _records(["a", "b"]))
    assert kept_runtime.wait_idle(30)
    assert len(_deliveries(tmp_path / "records.jsonl")) == 3
    [(_, record, _)] = destinations.records
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert [r["dynamodb"]["SequenceNumber"]
            for r in record["payload"]["Records"]] == ["100", "101"]


def test_records_older_than_the_maximum_age_are_discarded_instead_of_retried(
        kept_runtime: LambdaRuntime, failing_on: Callable[[str], RuntimeFunction], tmp_path: Path,
        destinations: RecordingDestinations) -> None:
    spec = failing_on("a")
    records = _records(["a"])
    records[0]["dynamodb"]["ApproximateCreationDateTime"] = time.time() - 3600
    kept_runtime.submit_stream_records(
        spec, _kept_mapping("m-8", max_retry_attempts=5, max_record_age_s=60), records)
    assert kept_runtime.wait_idle(30)
    assert len(_deliveries(tmp_path / "records.jsonl")) == 1
    [(_, record, _)] = destinations.records
    assert record["requestContext"]["condition"] == "RecordAgeExceeded"
    arrival = record["DDBStreamBatchInfo"]["approximateArrivalOfFirstRecord"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", arrival)


# Records what it got; fails (a function error) whenever its batch holds the key FAIL_ON.
FAILING_ON = {"stream.py": """
import json, os

def handler(event, context):
    keys = [r["dynamodb"]["Keys"]["Item"]["S"] for r in event["Records"]]
    with open(os.environ["RECORD_FILE"], "a") as out:
        out.write(json.dumps([r["dynamodb"]["SequenceNumber"] + ":" + k
                              for r, k in zip(event["Records"], keys)]) + "\\n")
    if os.environ["FAIL_ON"] in keys:
        raise RuntimeError("a bad record")
    return {}
"""}


def test_shutdown_ends_every_worker_process(
        tmp_path: Path, sink: RecordingSink, probe_zip: bytes, make_spec: SpecFactory) -> None:
    rt = LambdaRuntime(home=tmp_path, endpoint="http://127.0.0.1:9", log_sink=sink)
    pids = {json.loads(rt.invoke(make_spec(probe_zip, name=n), '{"action": "echo"}').payload)
            ["pid"] for n in ("a", "b")}
    busy = threading.Thread(target=rt.invoke, args=(make_spec(probe_zip, name="c"),
                                                     '{"action": "sleep", "seconds": 30}'))
    busy.start()
    deadline = time.monotonic() + 10
    while rt.stats()["workers"] < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rt.stats()["workers"] == 3
    time.sleep(0.5)  # let the third worker get into its handler
    assert all(_process_exists(pid) for pid in pids)
    rt.shutdown()
    busy.join(timeout=10)
    assert not busy.is_alive()
    assert not any(_process_exists(pid) for pid in pids)
    assert rt.stats()["workers"] == 0


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes (its parent has not reaped it yet).
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def test_a_stream_batchs_record_states_its_iterator_age_and_others_none(
        runtime: LambdaRuntime, stream_zip: bytes, make_spec: SpecFactory,
        tmp_path: Path) -> None:
    from inventory_cli.local.invocation_records import InvocationRecord

    seen: list[InvocationRecord] = []
    runtime.records.add(seen.append)
    spec = _stream_spec(make_spec, stream_zip, tmp_path)
    written = time.time() - 30.0  # the newest record reached the stream 30 s ago
    records = _records(["a", "b"])
    records[0]["dynamodb"]["ApproximateCreationDateTime"] = written - 60.0
    records[1]["dynamodb"]["ApproximateCreationDateTime"] = written
    runtime.submit_stream_records(spec, StreamMapping(uuid="m-age"), records)
    assert runtime.wait_idle(20)
    runtime.invoke(spec, json.dumps({"Records": []}))
    [batch, direct] = seen
    assert batch.iterator_age_ms is not None and 30_000 <= batch.iterator_age_ms < 40_000
    assert direct.iterator_age_ms is None
    assert not batch.throttled and not direct.throttled  # the runtime waits, never refuses
