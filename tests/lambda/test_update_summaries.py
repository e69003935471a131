"""update_summaries: exact summaries under duplicated, retried, bisected and replayed records."""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st
from lambda_helpers import Logs
from summary_helpers import (
    SUMMARY_TABLE,
    StreamModel,
    cell_count,
    create_summary_table,
    expected_summaries,
    stored_summaries,
)

from lambda_src import update_summaries as summarizer
from lambda_src.update_summaries import CellState, change_of, handle_event, stream_cell


@pytest.fixture
def summaries(dynamodb: Any) -> str:
    return create_summary_table(dynamodb)


def deliver(dynamodb: Any, records: list[dict[str, Any]], threshold: int = 2) -> dict[str, Any]:
    logs = Logs()
    result = handle_event({"Records": copy.deepcopy(records)}, ddb=dynamodb,
                          table=SUMMARY_TABLE, threshold=threshold, log=logs,
                          sleep=lambda _: None)
    assert not logs.events("summary_update_failed"), logs.lines
    return result


def test_summaries_follow_uploads_restocks_and_deletes(dynamodb: Any, summaries: str) -> None:
    model = StreamModel()
    for item, count in (("Echo Dot", 0), ("Echo Plus", 5), ("Echo Show", 2)):
        model.put("Berlin", item, count)
    model.put("Paris", "Echo Dot", 1)
    assert deliver(dynamodb, model.records) == {"batchItemFailures": []}
    assert stored_summaries(dynamodb) == {
        "store": {
            "Berlin": {"Items": 3, "Units": 7, "LowCount": 2,
                       "LowItems": {"Echo Dot": 0, "Echo Show": 2}},
            "Paris": {"Items": 1, "Units": 1, "LowCount": 1, "LowItems": {"Echo Dot": 1}},
        },
        "item": {
            "Echo Dot": {"Stores": 2, "Units": 1, "LowCount": 2,
                         "LowStores": {"Berlin": 0, "Paris": 1}},
            "Echo Plus": {"Stores": 1, "Units": 5, "LowCount": 0, "LowStores": {}},
            "Echo Show": {"Stores": 1, "Units": 2, "LowCount": 1, "LowStores": {"Berlin": 2}},
        },
    }
    start = len(model.records)
    model.put("Berlin", "Echo Dot", 9)      # restocked: no longer low
    model.put("Berlin", "Echo Show", 1)     # still low, another count
    model.delete("Paris", "Echo Dot")       # the store's last item
    deliver(dynamodb, model.records[start:])
    assert stored_summaries(dynamodb) == expected_summaries(model.rows, 2)
    assert "Paris" not in stored_summaries(dynamodb)["store"]


def test_a_batch_delivered_twice_and_bisected_changes_nothing_the_second_time(
        dynamodb: Any, summaries: str) -> None:
    model = StreamModel()
    for n in range(40):  # more cells than one transaction takes
        model.put(f"Store{n % 3}", f"Item{n}", n % 4)
    model.put("Store0", "Item0", 7)
    deliver(dynamodb, model.records)
    expected = expected_summaries(model.rows, 2)
    assert stored_summaries(dynamodb) == expected
    deliver(dynamodb, model.records)                 # a retried batch
    deliver(dynamodb, model.records[:20])            # its bisected halves
    deliver(dynamodb, model.records[20:])
    assert stored_summaries(dynamodb) == expected
    assert cell_count(dynamodb) == 40


def test_an_old_record_replayed_after_a_newer_one_does_not_make_an_item_low_again(
        dynamodb: Any, summaries: str) -> None:
    model = StreamModel()
    dropped = model.put("Berlin", "Echo Dot", 0)
    restocked = model.put("Berlin", "Echo Dot", 10)
    deliver(dynamodb, [dropped, restocked])
    deliver(dynamodb, [dropped])  # `inventory retry` of a kept failure, days later
    assert stored_summaries(dynamodb)["store"]["Berlin"] == {
        "Items": 1, "Units": 10, "LowCount": 0, "LowItems": {}}
    # Out of order within one batch too: the newest record of a cell wins.
    model.put("Berlin", "Echo Dot", 1)
    newest = model.records[-1]
    deliver(dynamodb, [newest, dropped, restocked])
    assert stored_summaries(dynamodb) == expected_summaries(model.rows, 2)


def test_a_replayed_insert_after_the_delete_does_not_bring_the_item_back(
        dynamodb: Any, summaries: str) -> None:
    model = StreamModel()
    inserted = model.put("Berlin", "Echo Dot", 3)
    removed = model.delete("Berlin", "Echo Dot")
    assert removed is not None
    deliver(dynamodb, [inserted, removed])
    deliver(dynamodb, [inserted])
    assert stored_summaries(dynamodb) == {"store": {}, "item": {}}


def test_unreadable_records_are_logged_and_skipped(dynamodb: Any, summaries: str) -> None:
    model = StreamModel()
    good = model.put("Berlin", "Echo Dot", 3)
    bad = copy.deepcopy(good)
    bad["dynamodb"]["NewImage"]["Count"] = {"S": "three"}
    logs = Logs()
    result = handle_event({"Records": [bad, good]}, ddb=dynamodb, table=SUMMARY_TABLE,
                          threshold=0, log=logs)
    assert result == {"batchItemFailures": []}
    assert [e["event"] for e in logs.events()] == ["record_skipped", "summary_batch"]
    [batch] = logs.events("summary_batch")
    assert (batch["records"], batch["cells"], batch["cells_written"], batch["rows"],
            batch["drains"], batch["conditional_cells"]) == (1, 1, 1, 2, 1, 0)
    assert stored_summaries(dynamodb)["store"]["Berlin"]["Units"] == 3


def test_a_failed_transaction_reports_its_records_for_a_retry(
        dynamodb: Any, summaries: str, monkeypatch: pytest.MonkeyPatch) -> None:
    model = StreamModel()
    model.put("Berlin", "Echo Dot", 3)
    model.put("Berlin", "Echo Dot", 4)

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "boom"}},
                          "TransactWriteItems")

    monkeypatch.setattr(dynamodb, "transact_write_items", refuse)
    logs = Logs()
    result = handle_event({"Records": model.records}, ddb=dynamodb, table=SUMMARY_TABLE,
                          threshold=0, log=logs)
    assert result == {"batchItemFailures": [
        {"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in model.records]}
    assert logs.events("summary_update_failed")
    monkeypatch.undo()
    assert deliver(dynamodb, model.records) == {"batchItemFailures": []}
    assert stored_summaries(dynamodb)["store"]["Berlin"]["Units"] == 4


def test_a_concurrent_writer_makes_the_transaction_read_again(
        dynamodb: Any, summaries: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A replayed batch (`inventory retry`) holds the lease, so the stream's invocation running
    beside it writes with conditions too; the stream applies a newer record between the
    replay's read and its write: the replay's condition fails, it reads again, finds a newer
    cell and leaves it."""
    model = StreamModel()
    older = model.put("Berlin", "Echo Dot", 0)
    newer = model.put("Berlin", "Echo Dot", 8)
    real = summarizer.read_cells
    raced = []

    def read_then_race(ddb: Any, table: str, cells: Any) -> Any:
        states = real(ddb, table, cells)
        if not raced:
            raced.append(True)
            deliver(dynamodb, [newer])
        return states

    monkeypatch.setattr(summarizer, "read_cells", read_then_race)
    replay = handle_event({"Records": copy.deepcopy([older]), summarizer.REPLAY_FIELD: True},
                          ddb=dynamodb, table=SUMMARY_TABLE, threshold=2, log=Logs(),
                          sleep=lambda _: None)
    assert replay == {"batchItemFailures": []}
    monkeypatch.undo()
    assert stored_summaries(dynamodb)["store"]["Berlin"] == {
        "Items": 1, "Units": 8, "LowCount": 0, "LowItems": {}}


def test_the_handler_reads_its_table_and_threshold_from_the_environment(
        dynamodb: Any, summaries: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMARY_TABLE", SUMMARY_TABLE)
    monkeypatch.setenv("LOW_STOCK_THRESHOLD", "5")
    model = StreamModel()
    model.put("Berlin", "Echo Dot", 5)
    assert summarizer.lambda_handler({"Records": model.records}, None) == {
        "batchItemFailures": []}
    assert stored_summaries(dynamodb)["store"]["Berlin"]["LowItems"] == {"Echo Dot": 5}


def test_records_of_a_rebuilt_cell_apply_only_when_created_after_the_rebuild_began() -> None:
    model = StreamModel()
    change = change_of(model.put("Berlin", "Echo Dot", 4))
    rebuilt = CellState(count=9, low=False, sequence="", created_at=change.created_at + 1,
                        version=3)
    assert stream_cell(rebuilt, change, 0, None) is None
    later = CellState(count=9, low=False, sequence="", created_at=change.created_at - 1,
                      version=3)
    after = stream_cell(later, change, 0, None)
    assert after is not None and (after.count, after.version) == (4, 4)
    # No cell at all: the meta row's rebuild time decides.
    assert stream_cell(summarizer.NO_CELL, change, 0, change.created_at + 1) is None
    assert stream_cell(summarizer.NO_CELL, change, 0, None) is not None


def test_the_canned_stream_event_is_read(dynamodb: Any, summaries: str) -> None:
    from lambda_helpers import canned_event

    event = canned_event("ddb_stream.json")
    result = handle_event(event, ddb=dynamodb, table=SUMMARY_TABLE, threshold=0, log=Logs())
    assert result == {"batchItemFailures": []}
    assert json.dumps(stored_summaries(dynamodb))  # something was summarised
    assert stored_summaries(dynamodb)["store"]


def _actions(chunk: list[tuple[str, str]]) -> int:
    return len(chunk) + len({s for s, _ in chunk}) + len({i for _, i in chunk})


@given(st.lists(st.tuples(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
                          st.integers(0, 300).map(str)), unique=True, max_size=600))
def test_every_transaction_fits_in_100_actions_and_every_cell_is_in_one(
        cells: list[tuple[str, str]]) -> None:
    chunks = list(summarizer.transaction_chunks(cells))
    assert [cell for chunk in chunks for cell in chunk] == cells
    assert all(chunk and _actions(chunk) <= summarizer.MAX_ACTIONS for chunk in chunks)
    # Each run is as long as fits: one cell more would not have.
    for chunk, following in itertools.pairwise(chunks):
        assert _actions([*chunk, following[0]]) > summarizer.MAX_ACTIONS


def test_cells_in_item_order_share_item_rows_so_a_rebuild_needs_fewer_transactions() -> None:
    cells = [(f"Store{s:02}", f"Item {i:04}") for s in range(20) for i in range(500)]
    in_store_order = list(summarizer.transaction_chunks(sorted(cells)))
    in_item_order = list(summarizer.transaction_chunks(summarizer.by_item(cells)))
    assert len(in_store_order) == 205  # 49 cells (49 + 49 items + 1 store rows) each
    assert len(in_item_order) == 133  # about 76 cells (76 + 4 items + 20 stores)
    assert sum(map(_actions, in_item_order)) < 0.7 * sum(map(_actions, in_store_order))


# ---- one bad cell takes no other cell with it --------------------------------------------------

def _poisoned_batch() -> tuple[StreamModel, dict[str, Any], dict[tuple[str, str], int]]:
    """Forty healthy rows and, among them, one whose cell key DynamoDB refuses: the JSON of
    [store, item] doubles each quote, so 600 quotes (an item name the inventory table holds)
    make a 1,208-byte sort key. The contract no longer accepts such a name; data loaded before
    it, or written to the table by other means, still reaches the stream."""
    model = StreamModel()
    for n in range(40):
        model.put(f"S{n % 4}", f"item {n}", n)
    poison = model.put("S1", '"' * 600, 5)
    healthy = {cell: count for cell, count in model.rows.items() if cell != ("S1", '"' * 600)}
    return model, poison, healthy


def test_a_cell_dynamodb_refuses_fails_alone_and_the_others_apply(
        dynamodb: Any, summaries: str) -> None:
    model, poison, healthy = _poisoned_batch()
    logs = Logs()
    result = handle_event({"Records": copy.deepcopy(model.records)}, ddb=dynamodb,
                          table=SUMMARY_TABLE, threshold=2, log=logs, sleep=lambda _: None)
    assert result == {"batchItemFailures": [
        {"itemIdentifier": poison["dynamodb"]["SequenceNumber"]}]}
    assert stored_summaries(dynamodb) == expected_summaries(healthy, 2)
    [failure] = logs.events("summary_update_failed")
    assert (failure["cells"], failure["store"], failure["retriable"]) == (1, "S1", False)
    assert "ValidationException" in failure["error"]
    # Delivered again (Lambda's retry): still only that record, nothing applied twice.
    again = handle_event({"Records": copy.deepcopy(model.records)}, ddb=dynamodb,
                         table=SUMMARY_TABLE, threshold=2, log=Logs(), sleep=lambda _: None)
    assert again == result
    assert stored_summaries(dynamodb) == expected_summaries(healthy, 2)


class _StrictKeys:
    """A DynamoDB client that refuses, as AWS does, a BatchGetItem with an over-long sort key,
    and cancels a transaction whose item holds a number out of range (a ValidationError
    cancellation reason: "TransactWriteItems", DynamoDB API Reference)."""

    def __init__(self, real: Any, refused_item: str) -> None:
        self._real = real
        self._refused_item = refused_item
        self.transactions = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def batch_get_item(self, **kwargs: Any) -> Any:
        for request in kwargs["RequestItems"].values():
            if any(len(key["Name"]["S"].encode()) > 1024 for key in request["Keys"]):
                raise ClientError({"Error": {"Code": "ValidationException", "Message":
                                             "Aggregated size of all range keys has exceeded "
                                             "the size limit of 1024 bytes"}}, "BatchGetItem")
        return self._real.batch_get_item(**kwargs)

    def transact_write_items(self, **kwargs: Any) -> Any:
        self.transactions += 1
        actions = kwargs["TransactItems"]
        if any(a.get("Put", {}).get("Item", {}).get("Item", {}).get("S") == self._refused_item
               for a in actions):
            reasons = [{"Code": "ValidationError", "Message": "Number overflow"}
                       if a.get("Put", {}).get("Item", {}).get("Item", {}).get("S")
                       == self._refused_item else {"Code": "None"} for a in actions]
            raise ClientError({"Error": {"Code": "TransactionCanceledException",
                                         "Message": "Transaction cancelled"},
                               "CancellationReasons": reasons}, "TransactWriteItems")
        return self._real.transact_write_items(**kwargs)


def test_a_refused_read_or_a_validation_cancellation_isolates_one_cell(
        dynamodb: Any, summaries: str) -> None:
    model, poison, healthy = _poisoned_batch()
    overflow = model.put("S2", "big item", 10**27)  # this client refuses the item's cell
    strict = _StrictKeys(dynamodb, "big item")
    logs = Logs()
    result = handle_event({"Records": copy.deepcopy(model.records)}, ddb=strict,
                          table=SUMMARY_TABLE, threshold=2, log=logs, sleep=lambda _: None)
    assert {f["itemIdentifier"] for f in result["batchItemFailures"]} == {
        overflow["dynamodb"]["SequenceNumber"], poison["dynamodb"]["SequenceNumber"]}
    assert stored_summaries(dynamodb) == expected_summaries(healthy, 2)
    assert sorted((e["store"], e["retriable"]) for e in logs.events("summary_update_failed")) \
        == [("S1", False), ("S2", False)]
    # Halving: a few dozen transactions for 41 cells, not one per cell plus retries of the lot.
    assert strict.transactions < 30


def test_a_race_is_retried_whole_not_split(dynamodb: Any, summaries: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    model = StreamModel()
    for n in range(10):
        model.put("Berlin", f"item {n}", n)
    real = dynamodb.transact_write_items
    calls: list[int] = []

    def lose_once(**kwargs: Any) -> Any:
        calls.append(len(kwargs["TransactItems"]))
        if len(calls) == 1:
            raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "x"},
                               "CancellationReasons": [{"Code": "ConditionalCheckFailed"}]},
                              "TransactWriteItems")
        return real(**kwargs)

    monkeypatch.setattr(dynamodb, "transact_write_items", lose_once)
    assert deliver(dynamodb, model.records) == {"batchItemFailures": []}
    assert calls == [calls[0], calls[0]]  # the same whole transaction, twice
    assert stored_summaries(dynamodb) == expected_summaries(model.rows, 2)


@pytest.mark.parametrize("text,expected", [("0", 0), ("9" * 38, 10**38 - 1),
                                           ("9007199254740993", 2**53 + 1), ("1E+30", 10**30),
                                           ("-12", -12), ("1.0E2", 100)])
def test_numbers_are_read_exactly(text: str, expected: int) -> None:
    assert summarizer.whole_number(text) == expected


@pytest.mark.parametrize("text", ["1.5", "x", "NaN", "Infinity", ""])
def test_numbers_that_are_not_whole_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        summarizer.whole_number(text)


def test_counts_beyond_a_floats_precision_sum_exactly(dynamodb: Any, summaries: str) -> None:
    model = StreamModel()
    big = 10**27 + 1  # a float would read it as 10**27
    for store in ("A", "B", "C"):
        model.put(store, "Echo", big)
    model.put("A", "Tap", 2**53 + 1)
    assert deliver(dynamodb, model.records) == {"batchItemFailures": []}
    stored = stored_summaries(dynamodb)
    assert stored["item"]["Echo"]["Units"] == 3 * big
    assert stored["store"]["A"]["Units"] == big + 2**53 + 1
    assert stored == expected_summaries(model.rows, 2)


class _ItemSizeLimit:
    """A DynamoDB client whose store rows hold at most `entries` low items: what AWS's 400 KB
    item limit does to a store low on a few thousand items of long names, at a size a test can
    reach (AWS cancels the transaction with a ValidationError reason)."""

    def __init__(self, real: Any, entries: int) -> None:
        self._real = real
        self._entries = entries

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        actions = kwargs["TransactItems"]
        reasons = [self._reason(action.get("Update")) for action in actions]
        if any(reason["Code"] != "None" for reason in reasons):
            raise ClientError({"Error": {"Code": "TransactionCanceledException",
                                         "Message": "Transaction cancelled"},
                               "CancellationReasons": reasons}, "TransactWriteItems")
        return self._real.transact_write_items(**kwargs)

    def _reason(self, update: dict[str, Any] | None) -> dict[str, str]:
        if not update or update["Key"]["Kind"]["S"] != "store" or " SET " not in update[
                "UpdateExpression"]:
            return {"Code": "None"}
        row = self._real.get_item(TableName=update["TableName"], Key=update["Key"]).get("Item")
        listed = set((row or {}).get("LowItems", {}).get("M", {}))
        added = {update["ExpressionAttributeNames"][name]
                 for name in update["ExpressionAttributeNames"] if name.startswith("#s")}
        if len(listed | added) > self._entries:
            return {"Code": "ValidationError",
                    "Message": "Item size to update has exceeded the maximum allowed size"}
        return {"Code": "None"}


def test_a_store_whose_low_list_outgrows_one_item_keeps_exact_sums_and_fails_nothing(
        dynamodb: Any, summaries: str) -> None:
    """Nothing is kept as a failure: the sums and LowCount stay exact, the list lacks the
    members that did not fit, and the log names them."""
    model = StreamModel()
    for n in range(120):
        model.put("Big", f"item {n:03d}", n % 3)  # two in three low at threshold 1
    for n in range(5):
        model.put("Small", f"item {n:03d}", 0)
    logs = Logs()
    result = handle_event({"Records": copy.deepcopy(model.records)},
                          ddb=_ItemSizeLimit(dynamodb, entries=50), table=SUMMARY_TABLE,
                          threshold=1, log=logs, sleep=lambda _: None)
    assert result == {"batchItemFailures": []}
    assert logs.events("summary_update_failed") == []
    full = logs.events("summary_low_list_full")
    assert len(full) == 80 - 50 and {e["store"] for e in full} == {"Big"}
    stored = stored_summaries(dynamodb)
    expected = expected_summaries(model.rows, 1)
    big, want = stored["store"]["Big"], expected["store"]["Big"]
    assert (big["Items"], big["Units"], big["LowCount"]) == (120, 120, 80) == (
        want["Items"], want["Units"], want["LowCount"])
    assert len(big["LowItems"]) == 50
    assert all(want["LowItems"][item] == count for item, count in big["LowItems"].items())
    assert stored["store"]["Small"] == expected["store"]["Small"]
    # The item rows keep their whole lists, apart from the members set aside with the store's.
    for item, row in stored["item"].items():
        assert (row["Stores"], row["Units"], row["LowCount"]) == (
            expected["item"][item]["Stores"], expected["item"][item]["Units"],
            expected["item"][item]["LowCount"])


class CountingClient:
    """The DynamoDB client, counting the calls that create a row's low map."""

    def __init__(self, ddb: Any) -> None:
        self._ddb = ddb
        self.map_creations: list[str] = []

    def update_item(self, **kwargs: Any) -> Any:
        if "if_not_exists(#map" in kwargs.get("UpdateExpression", ""):
            self.map_creations.append(kwargs["Key"]["Name"]["S"])
        return self._ddb.update_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ddb, name)


def test_a_rows_low_map_is_created_once_per_container_not_before_every_drain(
        dynamodb: Any, summaries: str) -> None:
    ddb, known = CountingClient(dynamodb), set[tuple[str, str]]()
    model = StreamModel()
    for batch in range(3):
        start = len(model.records)
        for n in range(3):
            model.put("Berlin", f"item-{batch}-{n}", 0)  # each batch sets Berlin's low map
        handle_event({"Records": copy.deepcopy(model.records[start:])}, ddb=ddb,
                     table=SUMMARY_TABLE, threshold=2, log=Logs(), sleep=lambda _: None,
                     known_maps=known)
    assert ddb.map_creations.count("Berlin") == 1  # was one per batch (per drain)
    assert stored_summaries(dynamodb) == expected_summaries(model.rows, 2)


def test_a_low_map_removed_by_hand_is_created_again_and_the_summaries_stay_exact(
        dynamodb: Any, summaries: str) -> None:
    ddb, known = CountingClient(dynamodb), set[tuple[str, str]]()
    model = StreamModel()
    model.put("Berlin", "tea", 0)
    logs = Logs()
    handle_event({"Records": copy.deepcopy(model.records)}, ddb=ddb, table=SUMMARY_TABLE,
                 threshold=2, log=logs, sleep=lambda _: None, known_maps=known)
    # Someone empties the store row's map attribute away by hand.
    dynamodb.update_item(TableName=SUMMARY_TABLE,
                         Key={"Kind": {"S": "store"}, "Name": {"S": "Berlin"}},
                         UpdateExpression="REMOVE LowItems")
    start = len(model.records)
    model.put("Berlin", "coffee", 1)
    result = handle_event({"Records": copy.deepcopy(model.records[start:])}, ddb=ddb,
                          table=SUMMARY_TABLE, threshold=2, log=logs, sleep=lambda _: None,
                          known_maps=known)
    assert result == {"batchItemFailures": []}
    batch = logs.events("summary_batch")[-1]
    assert batch["conditional_cells"] == 1  # the drain failed; the conditional path made it
    assert stored_summaries(dynamodb)["store"]["Berlin"]["LowItems"] == {"coffee": 1}
