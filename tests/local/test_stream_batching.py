"""How a stream mapping's batches are cut: BatchSize, MaximumBatchingWindowInSeconds and the
6 MB invocation payload (Lambda Developer Guide, "Lambda event source mappings", batching
behavior; "Lambda quotas").

The dispatcher on its own, with an `invoke` that only records: no processes, no moto. The
window is real time, so its tests use windows of a fraction of a second.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from inventory_cli.local.lambda_dispatch import (
    MAX_STREAM_EVENT_BYTES,
    Activity,
    QueuedRecord,
    StreamDispatcher,
    StreamMapping,
    stream_event,
    take_batch,
)
from inventory_cli.local.lambda_worker import RuntimeFunction

SPEC = RuntimeFunction(arn="arn:aws:lambda:us-east-1:123456789012:function:f", name="f",
                       handler="f.handler", runtime="python3.12", code_sha256="", code=b"",
                       environment={}, timeout_s=3.0, memory_mb=128, version="$LATEST",
                       region="us-east-1", account_id="123456789012", instance_id="f")


@dataclass(frozen=True)
class Outcome:
    request_id: str = "r"
    ok: bool = True
    payload: str = "null"


@dataclass
class Recorder:
    """The invocations a dispatcher made: each event's text and when it was made."""

    events: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    # Cleared to hold the first invocation in flight (records queue up behind it).
    gate: threading.Event = field(default_factory=threading.Event)
    entered: threading.Event = field(default_factory=threading.Event)

    def __call__(self, spec: RuntimeFunction, event_json: str, age_ms: float) -> Outcome:
        self.times.append(time.monotonic())
        self.events.append(event_json)
        self.entered.set()
        self.gate.wait(10)
        return Outcome()

    @property
    def batches(self) -> list[list[str]]:
        return [[r["dynamodb"]["Keys"]["Item"]["S"] for r in json.loads(e)["Records"]]
                for e in self.events]


def _record(key: str, sequence: int, padding: int = 0) -> dict[str, Any]:
    image = {"Store": {"S": "Berlin"}, "Item": {"S": key}, "Count": {"N": "1"}}
    if padding:
        image["Note"] = {"S": "x" * padding}
    return {"eventID": f"e{sequence}", "eventName": "INSERT", "eventSource": "aws:dynamodb",
            "dynamodb": {"Keys": {"Store": image["Store"], "Item": image["Item"]},
                         "NewImage": image, "SequenceNumber": str(sequence)}}


def _records(keys: list[str], padding: int = 0) -> list[dict[str, Any]]:
    return [_record(k, 100 + i, padding) for i, k in enumerate(keys)]


@pytest.fixture
def recorder() -> Recorder:
    recorder = Recorder()
    recorder.gate.set()
    return recorder


@pytest.fixture
def activity() -> Activity:
    return Activity()


@pytest.fixture
def dispatch(recorder: Recorder, activity: Activity) -> Iterator[Any]:
    """Makes a dispatcher of a mapping; every one made is closed after the test."""
    made: list[StreamDispatcher] = []

    def make(mapping: StreamMapping) -> StreamDispatcher:
        made.append(StreamDispatcher(mapping, recorder, activity, sleep=lambda _s: None))
        return made[-1]

    yield make
    for dispatcher in made:
        dispatcher.close()


# -- MaximumBatchingWindowInSeconds ------------------------------------------------------------


def test_records_arriving_within_the_window_go_in_one_batch(
        dispatch: Any, recorder: Recorder, activity: Activity) -> None:
    mapping = StreamMapping(uuid="w-1", batch_size=100, batching_window_s=0.6)
    dispatcher = dispatch(mapping)
    started = time.monotonic()
    for key in ("a", "b", "c"):
        dispatcher.add(SPEC, mapping, _records([key]))
        time.sleep(0.1)
    assert activity.wait_idle(5)
    assert recorder.batches == [["a", "b", "c"]]
    # Not before the window, counted from the first record, had passed.
    assert recorder.times[0] - started >= 0.55


def test_wait_idle_waits_for_a_batch_still_in_its_window(
        dispatch: Any, recorder: Recorder, activity: Activity) -> None:
    mapping = StreamMapping(uuid="w-2", batching_window_s=0.5)
    dispatch(mapping).add(SPEC, mapping, _records(["a"]))
    assert not activity.wait_idle(0.1)  # the waiting record counts as work not yet done
    assert recorder.events == []
    assert activity.wait_idle(5)
    assert recorder.batches == [["a"]]


def test_a_full_batch_goes_at_once_and_the_rest_waits_for_its_window(
        dispatch: Any, recorder: Recorder, activity: Activity) -> None:
    mapping = StreamMapping(uuid="w-3", batch_size=3, batching_window_s=0.8)
    started = time.monotonic()
    dispatch(mapping).add(SPEC, mapping, _records(["a", "b", "c", "d", "e"]))
    assert activity.wait_idle(5)
    assert recorder.batches == [["a", "b", "c"], ["d", "e"]]
    assert recorder.times[0] - started < 0.4  # BatchSize reached: no waiting
    assert recorder.times[1] - started >= 0.75  # two records only: the whole window


def test_without_a_window_a_batch_is_what_is_queued_when_the_last_one_ends(
        dispatch: Any, recorder: Recorder, activity: Activity) -> None:
    mapping = StreamMapping(uuid="w-4", batch_size=10)
    recorder.gate.clear()
    dispatcher = dispatch(mapping)
    dispatcher.add(SPEC, mapping, _records(["a"]))
    assert recorder.entered.wait(2)  # the first record went alone, at once
    dispatcher.add(SPEC, mapping, _records(["b", "c"]))
    dispatcher.add(SPEC, mapping, _records(["d"]))
    recorder.gate.set()
    assert activity.wait_idle(5)
    assert recorder.batches == [["a"], ["b", "c", "d"]]


def test_a_changed_window_applies_from_the_next_batch(
        dispatch: Any, recorder: Recorder, activity: Activity) -> None:
    waiting = StreamMapping(uuid="w-5", batching_window_s=300)
    dispatcher = dispatch(waiting)
    dispatcher.add(SPEC, waiting, _records(["a"]))
    assert not activity.wait_idle(0.2)
    # UpdateEventSourceMapping to no window: the waiting batch goes with the next record.
    dispatcher.add(SPEC, StreamMapping(uuid="w-5"), _records(["b"]))
    assert activity.wait_idle(5)
    assert recorder.batches == [["a", "b"]]


def test_close_ends_a_dispatcher_waiting_in_its_window(
        dispatch: Any, recorder: Recorder, activity: Activity) -> None:
    mapping = StreamMapping(uuid="w-6", batching_window_s=300)
    dispatcher = dispatch(mapping)
    dispatcher.add(SPEC, mapping, _records(["a"]))
    time.sleep(0.1)
    dispatcher.close()
    dispatcher._thread.join(timeout=2)
    assert not dispatcher._thread.is_alive()
    assert recorder.events == []


# -- the 6 MB invocation payload --------------------------------------------------------------


def test_the_event_text_is_json_dumps_of_the_records() -> None:
    records = [*_records(["a", "b"]), {"dynamodb": {"Keys": {"Item": {"S": "Köln ü"}}}}]
    queued = [QueuedRecord(r, json.dumps(r), 0.0) for r in records]
    assert stream_event(queued) == json.dumps({"Records": records})


def _queued(sizes: list[int]) -> deque[QueuedRecord]:
    """Records whose texts are exactly these lengths."""
    queue: deque[QueuedRecord] = deque()
    for i, size in enumerate(sizes):
        text = json.dumps({"n": i, "pad": ""})
        text = json.dumps({"n": i, "pad": "x" * (size - len(text))})
        assert len(text) == size
        queue.append(QueuedRecord({"n": i}, text, 0.0))
    return queue


def test_a_batch_may_fill_the_six_mb_exactly_but_not_one_byte_more() -> None:
    overhead = len(stream_event([])) + len(", ")  # two records: one separator
    half = (MAX_STREAM_EVENT_BYTES - overhead) // 2
    exact = _queued([half, MAX_STREAM_EVENT_BYTES - overhead - half])
    assert len(stream_event(list(exact))) == MAX_STREAM_EVENT_BYTES
    assert len(take_batch(exact, 100)) == 2
    over = _queued([half, MAX_STREAM_EVENT_BYTES - overhead - half + 1])
    assert len(take_batch(over, 100)) == 1
    assert len(over) == 1  # the second waits for the next batch


def test_batches_are_cut_before_six_mb_in_order_with_nothing_lost(
        dispatch: Any, recorder: Recorder, activity: Activity) -> None:
    mapping = StreamMapping(uuid="s-1", batch_size=10_000)
    paddings = [1_500_000, 1_900_000, 1_000_000, 2_500_000, 1_200_000, 1_800_000, 900_000,
                2_000_000]
    records = [_record(f"k{i}", 100 + i, p) for i, p in enumerate(paddings)]
    dispatch(mapping).add(SPEC, mapping, records)
    assert activity.wait_idle(10)
    sizes = [len(e) for e in recorder.events]
    assert all(size <= MAX_STREAM_EVENT_BYTES for size in sizes)
    assert [k for batch in recorder.batches for k in batch] == [f"k{i}" for i in range(8)]
    assert [len(b) for b in recorder.batches] == [3, 3, 2]
    # Each as full as 6 MB allows: the record after it (and ", ") did not fit.
    texts = [len(json.dumps(r)) for r in records]
    assert sizes[0] + 2 + texts[3] > MAX_STREAM_EVENT_BYTES
    assert sizes[1] + 2 + texts[6] > MAX_STREAM_EVENT_BYTES


def test_a_record_bigger_than_six_mb_goes_alone(
        dispatch: Any, recorder: Recorder, activity: Activity) -> None:
    mapping = StreamMapping(uuid="s-2", batch_size=100)
    records = [_record("small", 100), _record("huge", 101, MAX_STREAM_EVENT_BYTES),
               _record("after", 102)]
    dispatch(mapping).add(SPEC, mapping, records)
    assert activity.wait_idle(10)
    assert recorder.batches == [["small"], ["huge"], ["after"]]


def test_six_mb_queued_ends_the_window_early(
        dispatch: Any, recorder: Recorder, activity: Activity) -> None:
    mapping = StreamMapping(uuid="s-3", batch_size=10_000, batching_window_s=1.0)
    started = time.monotonic()
    dispatch(mapping).add(SPEC, mapping, _records(["a", "b", "c", "d", "e"], 2_500_000))
    assert activity.wait_idle(10)
    assert recorder.batches == [["a", "b"], ["c", "d"], ["e"]]
    assert recorder.times[1] - started < 0.6  # full by size: no waiting
    assert recorder.times[2] - started >= 0.95  # one record left: the whole window
