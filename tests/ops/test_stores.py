"""inventory stores add/list/rotate/revoke and upload --store-key's option rules, via CliRunner
against the real provisioned stack on in-process moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from cli_runner import Cli

from inventory_cli.aws import Aws
from inventory_cli.config import StackNames
from inventory_cli.ops import stores as core
from lambda_src import store_keys
from lambda_src.store_scope import store_prefix


@pytest.fixture
def cli(aws: Aws) -> Cli:
    """Tables here are read at 100 columns."""
    return Cli(aws, columns=100)


def records(aws: Aws, names: StackNames) -> list[store_keys.KeyRecord]:
    items = aws.client("dynamodb").scan(TableName=names.store_keys_table)["Items"]
    return sorted((store_keys.KeyRecord.from_item(i) for i in items), key=lambda r: r.created)


def test_add_prints_the_key_once_with_the_page_and_the_script_line(cli: Cli, aws: Aws,
                                                                   stack: StackNames) -> None:
    result = cli("stores", "add", "Berlin", "--output", "table")
    assert result.exit_code == 0, result.stderr
    record, = records(aws, stack)
    url = aws.client("lambda").get_function_url_config(
        FunctionName=stack.store_upload_function)["FunctionUrl"].rstrip("/")
    lines = result.stdout.splitlines()
    key = lines[2].split()[-1]
    assert key.startswith(f"sk1.{record.key_id}.")
    # A private dashboard (the default): the page is served by the stack's distribution.
    [distribution] = aws.client("cloudfront").list_distributions()["DistributionList"]["Items"]
    page = f"https://{distribution['DomainName']}/upload.html"
    assert lines == [
        "Created an upload key for store 'Berlin'. It is shown only now: keep it secret, the "
        "stack keeps only a hash of it.",
        "",
        f"  Key          {key}",
        f"  Upload URL   {url}",
        f"  Upload page  {page}",
        "",
        "A script or nightly job (no AWS account needed):",
        f"  inventory upload --store-key {key} --upload-url {url} inventory.csv --wait",
    ]
    # Only a salted HMAC is kept.
    secret = key.rsplit(".", 1)[1]
    assert record.store == "Berlin" and record.state == "active" and record.matches(secret)
    assert secret not in json.dumps(aws.client("dynamodb").scan(
        TableName=stack.store_keys_table)["Items"])


def test_add_json_and_a_second_add_is_refused(cli: Cli, aws: Aws, stack: StackNames) -> None:
    result = cli("stores", "add", "  São Paulo ", "--output", "json")
    assert result.exit_code == 0
    issued = json.loads(result.stdout)
    assert set(issued) == {"store", "key", "upload_url", "page_url"}
    assert issued["store"] == "São Paulo"
    again = cli("stores", "add", "São Paulo")
    assert again.exit_code == 1
    assert again.stderr == ("Error: store 'São Paulo' already has an upload key\n"
                            "Hint: `inventory stores rotate 'São Paulo'` makes a new one\n")


@pytest.mark.parametrize(("name", "message"), [
    ("   ", "Error: a store name cannot be empty\n"),
    ("Ber\nlin", "Error: store name 'Ber\\nlin' contains control characters\n"),
    ("x" * 201, "Error: store name is longer than 200 bytes of UTF-8\n"),
])
def test_invalid_store_names_are_usage_errors(cli: Cli, aws: Aws, stack: StackNames, name: str,
                                              message: str) -> None:
    result = cli("stores", "add", name)
    assert (result.exit_code, result.stderr) == (2, message)


def test_rotate_replaces_and_revoke_stops(cli: Cli, aws: Aws, stack: StackNames) -> None:
    first = json.loads(cli("stores", "add", "Berlin", "-o", "json").stdout)
    rotated = json.loads(cli("stores", "rotate", "Berlin", "-o", "json").stdout)
    assert rotated["key"] != first["key"]

    def states() -> list[str]:
        by_id = {r.key_id: r.state for r in records(aws, stack)}
        return [by_id[first["key"].split(".")[1]], by_id[rotated["key"].split(".")[1]]]

    assert states() == ["replaced", "active"]
    result = cli("stores", "revoke", "Berlin")
    assert result.exit_code == 0
    assert result.stdout == "Revoked the key of store 'Berlin': uploads with it are refused.\n"
    assert states() == ["replaced", "revoked"]
    assert cli("stores", "revoke", "Berlin").stdout == (
        "Store 'Berlin' had no working key; nothing changed.\n")
    missing = cli("stores", "rotate", "Pusan")
    assert (missing.exit_code, missing.stderr) == (
        1, "Error: no store 'Pusan'\nHint: `inventory stores add Pusan` creates it\n")
    # A revoked store can be given a key again.
    assert cli("stores", "add", "Berlin", "-o", "json").exit_code == 0


def test_list_shows_created_last_upload_and_state(cli: Cli, aws: Aws, stack: StackNames) -> None:
    assert cli("stores", "list", "-o", "table").stdout == (
        "No stores yet. Give one a key with `inventory stores add NAME`.\n")
    moments = iter([datetime(2026, 11, 1, 8, 0, tzinfo=UTC), datetime(2026, 11, 2, 9, 30,
                                                                        tzinfo=UTC)])
    core.add_store(aws, stack, "Pusan", clock=lambda: next(moments))
    core.add_store(aws, stack, "Berlin", clock=lambda: next(moments))
    core.revoke_store(aws, stack, "Pusan")
    aws.client("s3").put_object(Bucket=stack.uploads_bucket,
                                Key=store_prefix("Berlin") + "20261130T000000Z-a-x.csv", Body=b"")
    listed = json.loads(cli("stores", "list", "-o", "json").stdout)
    uploaded = listed[0]["last_upload"]
    assert uploaded is not None and uploaded.endswith("Z")
    assert listed == [
        {"store": "Berlin", "created": "2026-11-02T09:30:00Z", "last_upload": uploaded,
         "state": "active"},
        {"store": "Pusan", "created": "2026-11-01T08:00:00Z", "last_upload": None,
         "state": "revoked"},
    ]
    table = cli("stores", "list", "-o", "table").stdout.splitlines()
    assert table[0].split() == ["Store", "Created", "Last", "upload", "State"]
    assert table[2].split() == ["Berlin", "2026-11-02T09:30:00Z", uploaded, "active"]
    assert table[3].split() == ["Pusan", "2026-11-01T08:00:00Z", "never", "revoked"]


def test_store_key_and_upload_url_go_together(cli: Cli, aws: Aws, tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    csv = tmp_path / "berlin.csv"
    csv.write_text("store,item,count\nBerlin,Echo Dot,1\n", encoding="utf-8")
    result = cli("upload", str(csv), "--store-key", "sk1.x.y")
    assert (result.exit_code, result.stderr) == (
        2, "Error: --store-key and --upload-url go together (or INVENTORY_STORE_KEY and "
           "INVENTORY_UPLOAD_URL)\n")
    result = cli("upload", str(csv), "--store-key", "k", "--upload-url", "ftp://x")
    assert (result.exit_code, result.stderr) == (
        2, "Error: --upload-url 'ftp://x' is not an http(s) URL\n")


def _health_server(answer: bytes) -> tuple[str, object]:
    """A tiny HTTP server answering every GET with `answer` (as the emulator's health route
    would, or as an endpoint that is not the emulator would)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            status = 200 if self.path == "/_inventory/health" else 404
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


@pytest.mark.parametrize(("answer", "builtin"), [
    (b'{"endpoint": "x", "lambda": {"running": 0}}', True),  # the built-in emulator
    (b'{"services": {"lambda": "running"}}', False),         # an endpoint of another kind
    (b"not json", False),
])
def test_add_prints_the_url_the_endpoint_reports_except_on_the_builtin_emulator(
        aws: Aws, stack: StackNames, answer: bytes, builtin: bool) -> None:
    reported = aws.client("lambda").get_function_url_config(
        FunctionName=stack.store_upload_function)["FunctionUrl"].rstrip("/")
    aws.client("s3")  # the clients keep moto's AWS endpoints; only the probe goes to the server
    endpoint, server = _health_server(answer)
    aws.endpoint_url = endpoint
    try:
        issued = core.add_store(aws, stack, "Berlin")
    finally:
        server.shutdown()  # type: ignore[attr-defined]
    expected = (f"{endpoint}/_inventory/function-urls/{stack.store_upload_function}"
                if builtin else reported)
    assert issued.upload_url == expected
    # The emulator's stand-in for CloudFront serves a private stack's pages.
    assert issued.page_url == f"{endpoint}/_inventory/cdn/{stack.dashboard_bucket}/upload.html"


def test_add_prints_no_page_url_for_a_stack_without_a_dashboard(cli: Cli, aws: Aws,
                                                                stack: StackNames) -> None:
    from inventory_cli.stack.provision import provision

    provision(aws, threshold=0, sleep=lambda _: None, dashboard=False)
    result = cli("stores", "add", "Berlin", "--output", "table")
    assert result.exit_code == 0, result.stderr
    assert "Upload page" not in result.stdout and "upload.html" not in result.stdout
    assert "  Upload URL   https://" in result.stdout
    issued = json.loads(cli("stores", "rotate", "Berlin", "--output", "json").stdout)
    assert issued["page_url"] is None


@pytest.mark.parametrize(("name", "message"), [
    ("Ber\u200blin", "Error: store name 'Ber\\u200blin' contains invisible or look-alike "
                     "characters (U+200B ZERO WIDTH SPACE): a name that differs only in them "
                     "would look the same\n"
                     "Hint: type the name with plain spaces and no hidden characters\n"),
    ("\u202eBerlin", "Error: store name '\\u202eBerlin' contains invisible or look-alike "
                     "characters (U+202E RIGHT-TO-LEFT OVERRIDE): a name that differs only in "
                     "them would look the same\n"
                     "Hint: type the name with plain spaces and no hidden characters\n"),
    ("São\u00a0Paulo", "Error: store name 'São\\xa0Paulo' contains invisible or look-alike "
                       "characters (U+00A0 NO-BREAK SPACE): a name that differs only in them "
                       "would look the same\n"
                       "Hint: type the name with plain spaces and no hidden characters\n"),
    ("Sa\u0303o Paulo", "Error: store name 'Sa\\u0303o Paulo' is not in Unicode normal form NFC: "
                        "it looks the same as 'São Paulo' but is spelled with other code points\n"
                        "Hint: use the NFC spelling, `inventory stores add 'São Paulo'`, and "
                        "make sure the store's files spell it the same way\n"),
])
def test_look_alike_store_names_are_refused_with_the_reason(cli: Cli,
        aws: Aws, stack: StackNames, name: str, message: str) -> None:
    result = cli("stores", "add", name)
    assert (result.exit_code, result.stderr) == (2, message)
    assert records(aws, stack) == []


def test_names_in_errors_and_the_list_never_look_the_same(cli: Cli,
                                                          aws: Aws, stack: StackNames) -> None:
    """Two stores whose names differ only in an invisible character (one made before names
    were checked) are told apart in every message and in the table."""
    assert cli("stores", "add", "São Paulo").exit_code == 0
    # A look-alike record, as an older version could have made it.
    _, record = store_keys.new_key("São Paulo\u200b", now="2026-11-01T00:00:00Z")
    aws.client("dynamodb").put_item(TableName=stack.store_keys_table, Item=record.to_item())
    table = cli("stores", "list", "-o", "table").stdout
    assert "│ São Paulo " in table or "São Paulo   " in table
    assert "'São Paulo\\u200b'" in table
    missing = cli("stores", "revoke", "Sa\u0303o Paulo")
    assert missing.exit_code == 1
    assert missing.stderr.splitlines()[0] == (
        "Error: no store 'Sa\\u0303o Paulo' (but there is 'São Paulo', 'São Paulo\\u200b')")
    revoked = cli("stores", "revoke", "São Paulo\u200b")
    assert revoked.stdout == ("Revoked the key of store 'São Paulo\\u200b': uploads with it are "
                              "refused.\n")
    again = cli("stores", "add", "São Paulo")
    assert again.stderr.splitlines()[0] == "Error: store 'São Paulo' already has an upload key"
