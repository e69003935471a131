"""load_inventory on moto: what ends up in the table, the report, and the log."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from lambda_helpers import (
    SAMPLES,
    TABLE,
    Logs,
    canned_event,
    s3_event_for,
    table_items,
    upload_and_load,
)

from lambda_src import aws_clients
from lambda_src import load_inventory as loader
from lambda_src.load_inventory import S3Object, handle_event, object_in_record

CSV = b"store,item,count\nBerlin,Echo Dot,12\nBerlin,Echo Plus,0\n"


def test_loads_rows_and_writes_the_report(s3: Any, dynamodb: Any, bucket: str,
                                          table: str) -> None:
    loaded = upload_and_load(s3, dynamodb, bucket, "inventory-berlin.csv", CSV)
    assert table_items(dynamodb) == {("Berlin", "Echo Dot"): 12, ("Berlin", "Echo Plus"): 0}
    report = loaded.report(s3, bucket, "inventory-berlin.csv")
    assert report == {
        "source": {"bucket": bucket, "key": "inventory-berlin.csv",
                   "version_id": loaded.put["VersionId"], "etag": loaded.put["ETag"].strip('"')},
        "status": "loaded", "rows_read": 2, "loaded": 2, "rejected": [], "duplicates": [],
        "rejected_count": 0, "duplicate_count": 0, "message": "loaded 2 items from 2 rows",
    }
    assert loaded.summary == {"files": [{"key": "inventory-berlin.csv", "status": "loaded",
                                         "rows_read": 2, "loaded": 2, "rejected": 0,
                                         "duplicates": 0}], "ignored": []}


def test_logs_one_json_line_per_file_and_not_the_event(s3: Any, dynamodb: Any, bucket: str,
                                                       table: str) -> None:
    loaded = upload_and_load(s3, dynamodb, bucket, "a.csv", CSV)
    assert len(loaded.logs.lines) == 1
    line = json.loads(loaded.logs.lines[0])
    assert line == {"event": "load_report", **loaded.report(s3, bucket, "a.csv")}


def test_report_of_an_unversioned_bucket_has_no_version(s3: Any, dynamodb: Any,
                                                        table: str) -> None:
    s3.create_bucket(Bucket="plain")
    loaded = upload_and_load(s3, dynamodb, "plain", "a.csv", CSV)
    source = loaded.report(s3, "plain", "a.csv")["source"]
    assert source == {"bucket": "plain", "key": "a.csv", "version_id": None,
                      "etag": loaded.put["ETag"].strip('"')}


def test_rejected_rows_and_duplicates_are_reported_and_valid_rows_load(
        s3: Any, dynamodb: Any, bucket: str, table: str) -> None:
    body = (b"store,item,count\nBerlin,Echo Dot,12\nBerlin,Echo Show,-3\n"
            b"Berlin,Echo Dot,7\nBerlin,,1\nBerlin,Tap,1.5\n")
    loaded = upload_and_load(s3, dynamodb, bucket, "b.csv", body)
    assert table_items(dynamodb) == {("Berlin", "Echo Dot"): 7}
    report = loaded.report(s3, bucket, "b.csv")
    assert report["status"] == "loaded"
    assert (report["rows_read"], report["loaded"]) == (5, 1)
    assert report["rejected"] == [
        {"line": 3, "reason": "count '-3' is not a whole number >= 0"},
        {"line": 5, "reason": "item is empty"},
        {"line": 6, "reason": "count '1.5' is not a whole number >= 0"},
    ]
    assert report["duplicates"] == [{"line": 4, "store": "Berlin", "item": "Echo Dot",
                                     "previous_line": 2}]
    assert report["message"] == ("loaded 1 item from 5 rows; 3 rejected; "
                                 "1 duplicate (the last row wins)")


def test_last_row_wins_across_many_concurrent_batches(s3: Any, dynamodb: Any, bucket: str,
                                                      table: str) -> None:
    lines = ["store,item,count"] + [f"S,item {n},{n}" for n in range(1000)]
    # lines[n] is line n + 1: line 5 becomes an early row of the key of line 1001 (which must
    # win although its batch is written long after), and item 3 moves to the end.
    lines[4] = "S,item 999,1"
    lines.append("S,item 3,42")
    body = ("\n".join(lines) + "\n").encode()

    class OverTheNetwork:
        """Each call waits 5 ms as on AWS, so the writer really overlaps its batches."""

        def __init__(self) -> None:
            self.most_in_flight = 0
            self._in_flight = 0
            self._lock = threading.Lock()

        def batch_write_item(self, **kwargs: Any) -> Any:
            with self._lock:
                self._in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self._in_flight)
            time.sleep(0.005)
            try:
                return dynamodb.batch_write_item(**kwargs)
            finally:
                with self._lock:
                    self._in_flight -= 1

    network = OverTheNetwork()
    loaded = upload_and_load(s3, network, bucket, "big.csv", body, max_workers=4)
    assert network.most_in_flight > 1
    items = table_items(dynamodb)
    assert len(items) == 1000
    assert items[("S", "item 999")] == 999  # line 1001 beat line 5
    assert items[("S", "item 3")] == 42
    report = loaded.report(s3, bucket, "big.csv")
    assert (report["rows_read"], report["loaded"], report["duplicate_count"]) == (1001, 1000, 1)
    assert report["duplicates"] == [{"line": 1001, "store": "S", "item": "item 999",
                                     "previous_line": 5}]


def test_invalid_utf8_late_in_the_file_writes_nothing(s3: Any, dynamodb: Any, bucket: str,
                                                      table: str) -> None:
    body = b"store,item,count\n" + b"".join(f"S,i{n},1\n".encode() for n in range(300))
    body += b"S,caf\xe9,2\n"
    loaded = upload_and_load(s3, dynamodb, bucket, "latin1.csv", body)
    assert table_items(dynamodb) == {}
    report = loaded.report(s3, bucket, "latin1.csv")
    assert report["status"] == "rejected"
    assert report["loaded"] == 0
    assert report["rejected"] == [{"line": 302, "reason": "not valid UTF-8 (byte 6 of the line: "
                                                          "b'\\xe9'); save the file as UTF-8"}]
    assert report["message"].startswith("file rejected, nothing loaded: line 302: not valid")


def test_missing_columns_reject_the_file(s3: Any, dynamodb: Any, bucket: str,
                                         table: str) -> None:
    loaded = upload_and_load(s3, dynamodb, bucket, "c.csv", b"Store,Product,Qty\nA,b,1\n")
    report = loaded.report(s3, bucket, "c.csv")
    assert report["status"] == "rejected"
    assert report["message"] == (
        "file rejected, nothing loaded: line 1: missing columns item, count (the header must "
        "name store, item and count; found: 'Store', 'Product', 'Qty')")
    assert table_items(dynamodb) == {}


@pytest.mark.parametrize("body,message", [
    (b"", "nothing loaded: the file is empty"),
    (b"\xef\xbb\xbfstore,item,count\r\n", "nothing loaded: the file has a header but no rows"),
])
@pytest.mark.usefixtures("table")
def test_empty_files_load_nothing_and_say_so(s3: Any, dynamodb: Any, bucket: str, body: bytes,
                                            message: str) -> None:
    loaded = upload_and_load(s3, dynamodb, bucket, "e.csv", body)
    report = loaded.report(s3, bucket, "e.csv")
    assert (report["status"], report["loaded"], report["message"]) == ("empty", 0, message)
    assert table_items(dynamodb) == {}


def test_a_file_of_only_bad_rows_is_rejected(s3: Any, dynamodb: Any, bucket: str,
                                             table: str) -> None:
    loaded = upload_and_load(s3, dynamodb, bucket, "f.csv", b"store,item,count\nA,b,x\nA,c,\n")
    report = loaded.report(s3, bucket, "f.csv")
    assert (report["status"], report["loaded"], report["rejected_count"]) == ("rejected", 0, 2)
    assert report["message"] == "all 2 rows were rejected; nothing loaded"


def test_report_lists_are_capped_but_counts_are_complete(
        s3: Any, dynamodb: Any, bucket: str, table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from lambda_src import load_report

    monkeypatch.setattr(load_report, "MAX_LISTED", 2)
    body = b"store,item,count\nA,a,1\n" + b"A,b,-1\n" * 5 + b"A,a,2\n" * 3
    report = upload_and_load(s3, dynamodb, bucket, "g.csv", body).report(s3, bucket, "g.csv")
    assert (len(report["rejected"]), report["rejected_count"]) == (2, 5)
    assert (len(report["duplicates"]), report["duplicate_count"]) == (2, 3)
    assert report["message"] == ("loaded 1 item from 9 rows; 5 rejected, first 2 listed; "
                                 "3 duplicates (the last row wins, first 2 listed)")


def test_a_key_with_spaces_and_slashes_loads(s3: Any, dynamodb: Any, bucket: str,
                                            table: str) -> None:
    key = "north region/week 12/Berlin + Pusan (final).CSV"
    loaded = upload_and_load(s3, dynamodb, bucket, key, CSV)
    assert loaded.summary["files"][0]["key"] == key
    assert len(table_items(dynamodb)) == 2
    assert loaded.report(s3, bucket, key)["source"]["key"] == key


def test_the_canned_s3_event_loads_its_url_encoded_key(s3: Any, dynamodb: Any, bucket: str,
                                                       table: str) -> None:
    event = canned_event("s3_put.json")
    obj = event["Records"][0]["s3"]["object"]
    assert obj["key"] == "north+region%2Finventory-berlin.csv"
    put = s3.put_object(Bucket=bucket, Key="north region/inventory-berlin.csv",
                        Body=(SAMPLES / "inventory-berlin.csv").read_bytes())
    obj["versionId"] = put["VersionId"]
    summary = handle_event(event, s3=s3, dynamodb=dynamodb, table=TABLE, log=Logs())
    assert summary["files"][0]["loaded"] == 6
    assert table_items(dynamodb)[("Berlin", "Echo Plus")] == 0


def test_the_version_named_by_the_event_is_loaded(s3: Any, dynamodb: Any, bucket: str,
                                                  table: str) -> None:
    first = s3.put_object(Bucket=bucket, Key="v.csv", Body=b"store,item,count\nA,a,1\n")
    s3.put_object(Bucket=bucket, Key="v.csv", Body=b"store,item,count\nA,a,2\n")
    handle_event(s3_event_for(bucket, "v.csv", version_id=first["VersionId"]), s3=s3,
                 dynamodb=dynamodb, table=table, log=Logs())
    assert table_items(dynamodb) == {("A", "a"): 1}


def test_reports_and_other_keys_are_ignored_without_error(s3: Any, dynamodb: Any, bucket: str,
                                                         table: str) -> None:
    event = canned_event("s3_put_ignored.json")
    s3.put_object(Bucket=bucket, Key="reports/inventory-berlin.csv.json", Body=b"{}")
    s3.put_object(Bucket=bucket, Key="notes/readme.txt", Body=b"hello")
    logs = Logs()
    summary = handle_event(event, s3=s3, dynamodb=dynamodb, table=table, log=logs)
    assert summary == {"files": [], "ignored": [
        {"key": "reports/inventory-berlin.csv.json", "reason": "a load report"},
        {"key": "notes/readme.txt", "reason": "not a .csv key"}]}
    assert [e["event"] for e in logs.events()] == ["load_ignored", "load_ignored"]
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert sorted(o["Key"] for o in listed) == ["notes/readme.txt",
                                                "reports/inventory-berlin.csv.json"]
    assert table_items(dynamodb) == {}


def test_every_record_of_an_event_is_loaded(s3: Any, dynamodb: Any, bucket: str,
                                            table: str) -> None:
    records = []
    for path in sorted(SAMPLES.glob("*.csv"))[:3]:
        put = s3.put_object(Bucket=bucket, Key=path.name, Body=path.read_bytes())
        records += s3_event_for(bucket, path.name, version_id=put["VersionId"])["Records"]
    summary = handle_event({"Records": records}, s3=s3, dynamodb=dynamodb, table=table,
                           log=Logs())
    assert [f["loaded"] for f in summary["files"]] == [6, 6, 6]
    assert len(table_items(dynamodb)) == 18


def test_records_that_are_not_object_creations_are_skipped() -> None:
    assert object_in_record({"eventName": "ObjectRemoved:Delete", "s3": {}}) is None
    assert object_in_record({"Event": "s3:TestEvent"}) is None
    record = s3_event_for("b", "a b/c+d.csv", version_id="null")["Records"][0]
    assert object_in_record(record) == S3Object("b", "a b/c+d.csv", None)


class _ChunkSpy:
    """An S3 client whose bodies record how they are read."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3
        self.reads: list[str] = []
        self.get_calls: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        self.get_calls.append(kwargs)
        response: dict[str, Any] = self._s3.get_object(**kwargs)
        body = response["Body"]
        spy = self

        class Body:
            def iter_chunks(self, chunk_size: int) -> Any:
                spy.reads.append(f"iter_chunks({chunk_size})")
                return body.iter_chunks(chunk_size)

            def read(self, *args: Any) -> bytes:
                spy.reads.append(f"read{args}")
                data: bytes = body.read(*args)
                return data

            def close(self) -> None:
                body.close()

        response["Body"] = Body()
        return response


def test_the_object_is_streamed_twice_in_chunks_never_read_whole(
        s3: Any, dynamodb: Any, bucket: str, table: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="s.csv", Body=CSV * 1)
    spy = _ChunkSpy(s3)
    handle_event(s3_event_for(bucket, "s.csv", version_id=put["VersionId"]), s3=spy,
                 dynamodb=dynamodb, table=table, log=Logs())
    assert spy.reads == ["iter_chunks(65536)", "iter_chunks(65536)"]
    # The second pass reads exactly the bytes of the first.
    assert spy.get_calls[1] == {"Bucket": bucket, "Key": "s.csv",
                                "VersionId": put["VersionId"], "IfMatch": put["ETag"]}


def test_an_object_replaced_between_the_passes_is_left_to_its_own_event(
        s3: Any, dynamodb: Any, table: str) -> None:
    s3.create_bucket(Bucket="plain")
    s3.put_object(Bucket="plain", Key="r.csv", Body=CSV)

    class Replacing(_ChunkSpy):
        def get_object(self, **kwargs: Any) -> dict[str, Any]:
            response = super().get_object(**kwargs)
            if len(self.get_calls) == 1:
                s3.put_object(Bucket="plain", Key="r.csv", Body=CSV + b"Berlin,New,1\n")
            return response

    logs = Logs()
    summary = handle_event(s3_event_for("plain", "r.csv"), s3=Replacing(s3), dynamodb=dynamodb,
                           table=table, log=logs)
    assert summary["files"] == []
    assert logs.events() == [{"event": "load_skipped", "bucket": "plain", "key": "r.csv",
                              "reason": "s3://plain/r.csv changed while it was loading"}]
    assert table_items(dynamodb) == {}
    assert "Contents" not in s3.list_objects_v2(Bucket="plain", Prefix="reports/")


def test_a_failing_write_fails_the_invocation_and_writes_no_report(
        s3: Any, dynamodb: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="x.csv", Body=CSV)
    logs = Logs()
    with pytest.raises(dynamodb.exceptions.ResourceNotFoundException):
        handle_event(s3_event_for(bucket, "x.csv", version_id=put["VersionId"]), s3=s3,
                     dynamodb=dynamodb, table="no-such-table", log=logs)
    failed = logs.events("load_failed")
    assert [(e["key"], e["error"].split(":")[0]) for e in failed] == [
        ("x.csv", "ResourceNotFoundException")]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="reports/")


@pytest.mark.usefixtures("table")
def test_lambda_handler_creates_its_clients_lazily_and_reuses_them(
        s3: Any, bucket: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert aws_clients._clients == {}  # importing the handler made none
    monkeypatch.setenv("INVENTORY_TABLE", TABLE)
    put = s3.put_object(Bucket=bucket, Key="h.csv", Body=CSV)
    event = s3_event_for(bucket, "h.csv", version_id=put["VersionId"])
    assert loader.lambda_handler(event, None)["files"][0]["loaded"] == 2
    clients = dict(aws_clients._clients)
    assert sorted(clients) == ["dynamodb", "s3"]
    loader.lambda_handler(event, None)
    assert aws_clients._clients == clients
    printed = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["event"] for line in printed] == ["load_report", "load_report"]
