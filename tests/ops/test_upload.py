"""`inventory upload`: local check with the loader's contract, concurrent send, --wait."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from cli_runner import Cli
from ops_doubles import keep_load_failure, load_object, write_report
from rich.console import Console

from inventory_cli.aws import Aws
from inventory_cli.cli import ops_cmds
from inventory_cli.config import StackNames
from inventory_cli.ops import upload as core
from lambda_src.inventory_csv import check_bytes

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
LAB_FILES = sorted(SAMPLES.glob("inventory-*.csv"))


def object_versions(aws: Aws, bucket: str) -> list[tuple[str, str]]:
    listing = aws.client("s3").list_object_versions(Bucket=bucket)
    return sorted((v["Key"], v["VersionId"]) for v in listing.get("Versions", []))


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


class FakeTime:
    """sleep() advances clock(); `during_sleep` plays the loader while the CLI waits."""

    def __init__(self, during_sleep: Callable[[int], None] | None = None) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.during_sleep = during_sleep

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.during_sleep is not None:
            self.during_sleep(len(self.sleeps))


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(ops_cmds, "SLEEP", fake.sleep)
    monkeypatch.setattr(ops_cmds, "CLOCK", fake.clock)
    return fake


def test_the_six_lab_files_land_in_the_bucket_under_their_names(cli: Cli,
        aws: Aws, stack: StackNames, lambda_invocations: Any) -> None:
    result = cli("upload", *map(str, LAB_FILES))
    assert result.exit_code == 0, result.output
    s3 = aws.client("s3")
    keys = [key for key, _ in object_versions(aws, stack.uploads_bucket)]
    assert keys == [p.name for p in LAB_FILES]
    lines = result.stdout.splitlines()
    assert len(lines) == 6
    for path, line in zip(LAB_FILES, lines, strict=True):
        head = s3.head_object(Bucket=stack.uploads_bucket, Key=path.name)
        assert line == (f"Sent {path} to s3://{stack.uploads_bucket}/{path.name} "
                        f"(version {head['VersionId']})")
        body = s3.get_object(Bucket=stack.uploads_bucket, Key=path.name)["Body"].read()
        assert body == path.read_bytes()
    assert result.stderr == ""
    # Each upload notified the loader once (the provisioned S3 -> Lambda wiring).
    notified = sorted(json.loads(event)["Records"][0]["s3"]["object"]["key"]
                      for function, event in lambda_invocations.events
                      if function == stack.load_function)
    assert notified == sorted(p.name for p in LAB_FILES)


def test_invalid_files_are_listed_by_line_and_nothing_is_sent(cli: Cli,
        aws: Aws, stack: StackNames, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "good.csv", "store,item,count\nBerlin,Echo Dot,3\n")
    write(tmp_path / "bad.csv",
          "store,item,count\nBerlin,Echo Dot,x\nBerlin,,3\nBerlin,Echo Show,-1\n")
    write(tmp_path / "headless.csv", "name,qty\nBerlin,3\n")
    result = cli("upload", "good.csv", "bad.csv", "headless.csv", "missing.csv")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "File           Line   Reason                                                    \n"
        "────────────────────────────────────────────────────────────────────────────────\n"
        "bad.csv           2   count 'x' is not a whole number >= 0                      \n"
        "bad.csv           3   item is empty                                             \n"
        "bad.csv           4   count '-1' is not a whole number >= 0                     \n"
        "headless.csv      1   missing columns store, item, count (the header must name  \n"
        "                      store, item and count; found: 'name', 'qty')              \n"
        "missing.csv       -   cannot read: No such file or directory                    \n"
        "Error: 3 files refused, nothing was sent\n")
    assert object_versions(aws, stack.uploads_bucket) == []


def test_a_file_with_bad_rows_is_refused_with_a_hint_and_sent_with_skip_invalid(cli: Cli,
        aws: Aws, stack: StackNames, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    bad = write(Path("bad.csv"), "store,item,count\nBerlin,Echo Dot,x\nBerlin,Echo,2\n")
    refused = cli("upload", str(bad))
    assert refused.exit_code == 1
    assert refused.stderr == (
        "File      Line   Reason                              \n"
        "─────────────────────────────────────────────────────\n"
        "bad.csv      2   count 'x' is not a whole number >= 0\n"
        "Error: 1 file refused, nothing was sent\n"
        "Hint: fix the rows, or send the files anyway with --skip-invalid (the loader then skips "
        "those rows)\n")
    assert object_versions(aws, stack.uploads_bucket) == []

    sent = cli("upload", "--skip-invalid", str(bad))
    assert sent.exit_code == 0, sent.output
    assert [key for key, _ in object_versions(aws, stack.uploads_bucket)] == ["bad.csv"]


def test_two_files_with_one_name_are_refused_as_a_usage_error(cli: Cli,
        aws: Aws, stack: StackNames, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write(tmp_path / "a" / "berlin.csv", "store,item,count\nBerlin,Echo,1\n")
    second = write(tmp_path / "b" / "berlin.csv", "store,item,count\nBerlin,Echo,2\n")
    result = cli("upload", str(first), str(second))
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {first} and {second} would both be uploaded as 'berlin.csv' (the object key is "
        "the file's name), and the second would replace the first\n"
        "Hint: upload them in separate calls, or rename one\n")
    assert object_versions(aws, stack.uploads_bucket) == []


def test_empty_file_and_directory_are_refused_even_with_skip_invalid(cli: Cli,
        aws: Aws, stack: StackNames, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "empty.csv", "")
    write(tmp_path / "header.csv", "store,item,count\n")
    (tmp_path / "folder.csv").mkdir()
    result = cli("upload", "--skip-invalid", "empty.csv", "header.csv", "folder.csv")
    assert result.exit_code == 1
    assert result.stderr == (
        "File         Line   Reason                              \n"
        "────────────────────────────────────────────────────────\n"
        "empty.csv       -   the file is empty                   \n"
        "header.csv      -   the file has a header but no rows   \n"
        "folder.csv      -   cannot read: a directory, not a file\n"
        "Error: 3 files refused, nothing was sent\n")
    assert object_versions(aws, stack.uploads_bucket) == []


def test_duplicates_are_warned_about_and_sent(cli: Cli, aws: Aws, stack: StackNames,
                                              tmp_path: Path) -> None:
    dup = write(tmp_path / "dup.csv", "store,item,count\nBerlin,Dot,2\nBerlin,Dot,4\n")
    result = cli("upload", str(dup))
    assert result.exit_code == 0
    assert result.stderr == (f"Warning: {dup} line 3 repeats Berlin / Dot from line 2; "
                             "the later row wins\n")


def test_wait_prints_each_load_report_of_the_uploaded_version(cli: Cli,
        aws: Aws, stack: StackNames, fake_time: FakeTime) -> None:
    berlin, pusan = LAB_FILES[0], LAB_FILES[3]
    # Yesterday's report for the same key must not be taken for today's.
    write_report(aws, stack, berlin.name, {"source": {"version_id": "older"}, "status": "loaded",
                                           "rows_read": 1, "loaded": 1, "rejected": []})

    def loader(sleeps: int) -> None:
        if sleeps == 2:  # the loader needs a while
            load_object(aws, stack, berlin.name)
            load_object(aws, stack, pusan.name)

    fake_time.during_sleep = loader
    result = cli("upload", "--wait", str(berlin), str(pusan))
    assert result.exit_code == 0, result.output
    assert fake_time.sleeps == [1.0, 1.0]
    assert result.stdout.splitlines()[2:] == [
        "File                   Status   Rows   Loaded   Rejected",
        "────────────────────────────────────────────────────────",
        "inventory-berlin.csv   loaded      6        6          0",
        "inventory-pusan.csv    loaded      6        6          0",
    ]


def test_wait_fails_when_the_loader_rejected_rows(cli: Cli,
        aws: Aws, stack: StackNames, fake_time: FakeTime, tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.csv", "store,item,count\nBerlin,Echo,x\nBerlin,Dot,1\n")
    fake_time.during_sleep = lambda _: load_object(aws, stack, bad.name)
    result = cli("upload", "--wait", "--skip-invalid", str(bad))
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1:] == [
        "File      Status   Rows   Loaded   Rejected",
        "───────────────────────────────────────────",
        "bad.csv   loaded      2        1          1",
        "bad.csv line 2: count 'x' is not a whole number >= 0",
    ]
    assert result.stderr == "Error: the loader rejected rows (listed above)\n"


def test_wait_times_out_without_a_report(cli: Cli, aws: Aws, stack: StackNames,
                                         fake_time: FakeTime) -> None:
    result = cli("upload", "--wait", "--timeout", "5", str(LAB_FILES[0]))
    assert result.exit_code == 1
    assert fake_time.sleeps == [1.0] * 5
    assert result.stdout.splitlines()[1:] == [
        "File                   Status      Rows   Loaded   Rejected",
        "───────────────────────────────────────────────────────────",
        "inventory-berlin.csv   timed out      -        -          -",
    ]
    assert result.stderr == (
        "Error: no load report and no kept failure after 5 s for: inventory-berlin.csv: "
        "stored, but never loaded (the loader was not invoked, or is still running)\n"
        "Hint: `inventory retry unloaded:inventory-berlin.csv` loads them; `inventory logs "
        "load` shows what the loader did\n")


def test_wait_stops_at_once_on_a_kept_failure_of_the_load(cli: Cli,
        aws: Aws, stack: StackNames, fake_time: FakeTime) -> None:
    berlin, pusan = LAB_FILES[0], LAB_FILES[3]

    def loader(sleeps: int) -> None:
        if sleeps == 1:  # Berlin loads; Pusan's load fails for good and is kept
            load_object(aws, stack, berlin.name)
            keep_load_failure(aws, stack, pusan.name, "k-pusan")

    fake_time.during_sleep = loader
    result = cli("upload", "--wait", "--timeout", "60", str(berlin), str(pusan))
    assert result.exit_code == 1
    assert fake_time.sleeps == [1.0]  # not the 60 s of the timeout
    assert result.stdout.splitlines()[2:] == [
        "File                   Status   Rows   Loaded   Rejected",
        "────────────────────────────────────────────────────────",
        "inventory-berlin.csv   loaded      6        6          0",
        "inventory-pusan.csv    failed      -        -          -",
    ]
    assert result.stderr == (
        "Error: the loader failed for 1 file(s): inventory-pusan.csv: ResourceNotFoundException: "
        "Requested resource not found (after 3 attempts, kept as k-pusan)\n"
        "Hint: fix the cause (`inventory status` shows drift), then `inventory retry k-pusan`\n")


def test_show_csv_round_trips_through_upload(cli: Cli, aws: Aws, stack: StackNames,
                                             tmp_path: Path) -> None:
    assert cli("upload", *map(str, LAB_FILES)).exit_code == 0
    for path in LAB_FILES:
        load_object(aws, stack, path.name)
    shown = cli("show", "--output", "csv")
    assert shown.exit_code == 0
    export = write(tmp_path / "export.csv", shown.stdout)
    again = cli("upload", str(export))
    assert again.exit_code == 0, again.output
    exported = check_bytes(export.read_bytes())
    assert exported.rejected == [] and exported.duplicates == []
    originals = {(r.store, r.item, r.count) for p in LAB_FILES
                 for r in check_bytes(p.read_bytes()).rows}
    assert {(r.store, r.item, r.count) for r in exported.rows} == originals
    assert len(exported.rows) == 36


def test_no_stack_is_reported_before_anything_is_sent(cli: Cli, aws: Aws) -> None:
    result = cli("upload", str(LAB_FILES[0]))
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: no stack 'inventory' in region us-east-1 (function inventory-check-stock not "
        "found)\nHint: create it with `inventory provision` (or choose another one with --stack "
        "/ --region)\n")


# -- the core, below the CLI -------------------------------------------------------------------

def test_a_large_file_goes_in_parts_and_its_version_is_known(
        aws: Aws, stack: StackNames, tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    big.write_bytes(b"store,item,count\n" + b"Berlin,Echo Dot,1\n" * 400_000)  # about 7 MB
    checked = core.CheckedFile(path=big, key=big.name, size=big.stat().st_size, rows=400_000)
    config = TransferConfig(multipart_threshold=5 * 1024 * 1024,
                            multipart_chunksize=5 * 1024 * 1024)
    seen: list[tuple[str, str, int]] = []

    class Recorder:
        def started(self, key: str, size: int) -> None:
            seen.append(("started", key, size))

        def advanced(self, key: str, sent: int) -> None:
            seen.append(("advanced", key, sent))

        def finished(self, key: str) -> None:
            seen.append(("finished", key, 0))

    [uploaded] = core.upload_files(aws, stack.uploads_bucket, [checked], progress=Recorder(),
                                   transfer_config=config)
    head = aws.client("s3").head_object(Bucket=stack.uploads_bucket, Key="big.csv")
    assert uploaded.version_id == head["VersionId"]
    assert uploaded.etag == head["ETag"].strip('"')
    assert uploaded.etag.endswith("-2")  # two parts
    assert seen[0] == ("started", "big.csv", checked.size)
    assert sum(n for kind, _, n in seen if kind == "advanced") == checked.size
    assert seen[-1] == ("finished", "big.csv", 0)


def test_without_versioning_the_etag_identifies_the_report(aws: Aws, tmp_path: Path) -> None:
    aws.client("s3").create_bucket(Bucket="plain")
    path = write(tmp_path / "berlin.csv", "store,item,count\nBerlin,Echo,1\n")
    [up] = core.upload_files(aws, "plain", [core.check_file(path)])
    assert up.version_id is None
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        aws.client("s3").put_object(Bucket="plain", Key="reports/berlin.csv.json",
                                    Body=b'{"source": {"etag": "%s", "version_id": null}, '
                                         b'"status": "loaded", "rows_read": 1, "loaded": 1, '
                                         b'"rejected": []}' % up.etag.encode())

    aws.client("s3").put_object(Bucket="plain", Key="reports/berlin.csv.json",
                                Body=b'{"source": {"etag": "other"}, "status": "loaded"}')
    [outcome] = core.wait_for_reports(aws, "plain", [up], sleep=sleep, clock=lambda: 0.0)
    assert sleeps == [1.0]
    assert (outcome.status, outcome.loaded, outcome.failed) == ("loaded", 1, False)


def test_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    files = [core.CheckedFile(path=tmp_path / f"{n}.csv", key=f"{n}.csv", size=10, rows=1)
             for n in "ab"]
    plain = Console(file=io.StringIO())
    with ops_cmds._progress(plain, files) as progress:
        assert progress is None
    out = io.StringIO()
    terminal = Console(file=out, force_terminal=True, width=60)
    with ops_cmds._progress(terminal, files[:1]) as progress:
        assert progress is None  # one small file: nothing to watch
    with ops_cmds._progress(terminal, files) as progress:
        assert progress is not None
        for f in files:
            progress.started(f.key, f.size)
            progress.advanced(f.key, 10)
            progress.finished(f.key)
    assert "a.csv" in out.getvalue()


@pytest.mark.parametrize("name", ["stock.txt", "stock.csv.txt", "stock", "csv"])
def test_files_the_stack_would_never_load_are_refused_by_name(
        cli: Cli, aws: Aws, stack: StackNames, tmp_path: Path, *, name: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / name, "store,item,count\nBerlin,Echo Dot,3\n")
    result = cli("upload", name)
    assert result.exit_code == 1
    words = " ".join(result.stderr.split())  # the table may wrap the reason
    assert (f"{name} - the file name must end in .csv (any letter case): the stack loads only "
            "those") in words
    assert words.endswith("Error: 1 file refused, nothing was sent")
    assert object_versions(aws, stack.uploads_bucket) == []


@pytest.mark.parametrize("name", ["STOCK.CSV", "stock.Csv", "stock.cSV"])
def test_csv_files_in_any_letter_case_are_sent(cli: Cli,
                                               aws: Aws, stack: StackNames, tmp_path: Path,
                                               name: str) -> None:
    """The loader loads `.csv` in any letter case (`inventory_csv.is_inventory_key`): the CLI
    asks the very same function."""
    from lambda_src.inventory_csv import is_inventory_key

    path = tmp_path / name
    write(path, "store,item,count\nBerlin,Echo Dot,3\n")
    result = cli("upload", str(path))
    assert result.exit_code == 0, result.output
    assert [key for key, _ in object_versions(aws, stack.uploads_bucket)] == [name]
    assert is_inventory_key(name)
