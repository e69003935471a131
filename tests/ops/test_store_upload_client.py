"""`inventory upload --store-key` against endpoints that answer what the endpoint's function
never does: Lambda's own 403 in front of a function URL whose public permissions are missing.
The endpoint is a tiny local HTTP server; the files never reach S3."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from inventory_cli.cli.app import app

runner = CliRunner()
KEY = "sk1." + "0" * 20 + "." + "A" * 43


def serve(status: int, body: bytes) -> tuple[str, ThreadingHTTPServer, list[str]]:
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.append(f"{self.command} {self.path}")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer  # noqa: N815 - http.server's names

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server, seen


@pytest.fixture
def csv(tmp_path: Path) -> Path:
    path = tmp_path / "berlin.csv"
    path.write_text("store,item,count\nBerlin,Echo Dot,1\n", encoding="utf-8")
    return path


@pytest.fixture
def lambda_forbidden() -> Iterator[tuple[str, list[str]]]:
    url, server, seen = serve(403, b'{"Message":"Forbidden"}')
    yield url, seen
    server.shutdown()


def test_a_403_from_the_function_url_itself_is_not_called_a_refused_key(
        csv: Path, lambda_forbidden: tuple[str, list[str]]) -> None:
    url, seen = lambda_forbidden
    result = runner.invoke(app, ["upload", str(csv), "--store-key", KEY, "--upload-url", url])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: the upload endpoint itself refused the request (HTTP 403 Forbidden) before any "
        "key was checked: not an answer about the key; the stack's function URL does not let "
        "the public call it",
        "Hint: ask the stack's operator to run `inventory provision`, which restores the function "
        "URL's permissions (`inventory status` shows them as drifted)"]
    assert seen == ["GET /whoami"]  # nothing was sent


@pytest.mark.parametrize(("status", "answer", "first", "hint"), [
    (403, {"error": "revoked_key", "message": "this key no longer works: it was revoked"},
     "Error: the upload endpoint refused the request (403 revoked_key): this key no longer "
     "works: it was revoked",
     "Hint: ask the stack's operator for a new key (`inventory stores rotate STORE`)"),
    (401, {"error": "unknown_key", "message": "this key is not a key of this stack"},
     "Error: the upload endpoint refused the request (401 unknown_key): this key is not a key "
     "of this stack",
     "Hint: ask the stack's operator for a key (`inventory stores add STORE`)"),
])
def test_the_endpoints_own_key_answers_stay_key_answers(
        csv: Path, status: int, answer: dict[str, str], first: str, hint: str) -> None:
    url, server, _ = serve(status, json.dumps(answer).encode())
    try:
        result = runner.invoke(app, ["upload", str(csv), "--store-key", KEY, "--upload-url", url])
    finally:
        server.shutdown()
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [first, hint]


@pytest.fixture
def berlin_endpoint() -> Iterator[tuple[str, list[str]]]:
    """An endpoint whose key is Berlin's; any POST is recorded and refused."""
    url, server, seen = serve(200, json.dumps({"store": "Berlin"}).encode())
    yield url, seen
    server.shutdown()


def upload_as_store(path: Path, text: str, url: str, *extra: str) -> Result:
    path.write_text(text, encoding="utf-8")
    return runner.invoke(app, ["upload", str(path), "--store-key", KEY, "--upload-url", url,
                               *extra], env={"COLUMNS": "200"})


def test_a_file_with_only_another_stores_rows_is_refused_before_sending(
        tmp_path: Path, berlin_endpoint: tuple[str, list[str]]) -> None:
    url, seen = berlin_endpoint
    path = tmp_path / "pusan.csv"
    result = upload_as_store(path, "store,item,count\nPusan,Echo Dot,1\nPusan,Echo Show,2\n",
                             url)
    assert result.exit_code == 1
    words = " ".join(result.stderr.split())
    assert (f"{path} - none of its 2 rows is a row of store 'Berlin' (the key's store), so "
            "nothing would load") in words
    assert (f"{path} 2 row of store 'Pusan': this file was uploaded with the key of store "
            "'Berlin', which may change only its own stock") in words
    assert words.endswith("Error: 1 file refused, nothing was sent Hint: fix the rows, or send "
                          "the files anyway with --skip-invalid (the loader then skips those "
                          "rows)")
    assert seen == ["GET /whoami"]  # nothing was sent


def test_rows_of_another_store_beside_the_stores_own_are_warnings(
        tmp_path: Path, berlin_endpoint: tuple[str, list[str]]) -> None:
    url, seen = berlin_endpoint
    path = tmp_path / "mixed.csv"
    result = upload_as_store(path, "store,item,count\nBerlin,Echo Dot,1\nPusan,Echo Show,2\n",
                             url)
    # The stub answers the upload request with no POST: the CLI got as far as sending.
    assert result.stderr.splitlines()[0] == (
        f"Warning: {path} line 3: row of store 'Pusan': this file was uploaded with the key of "
        "store 'Berlin', which may change only its own stock")
    assert seen[:2] == ["GET /whoami", "POST /uploads"]


def test_skip_invalid_sends_a_file_of_another_store_anyway(
        tmp_path: Path, berlin_endpoint: tuple[str, list[str]]) -> None:
    url, seen = berlin_endpoint
    upload_as_store(tmp_path / "pusan.csv", "store,item,count\nPusan,Echo Dot,1\n", url,
                    "--skip-invalid")
    assert seen[:2] == ["GET /whoami", "POST /uploads"]
