"""The functions' environment contract, their log lines and their stream batch answer."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from inventory_cli.config import StackNames
from inventory_cli.errors import StackIncomplete
from inventory_cli.ops.stack_info import parse_threshold
from inventory_cli.stack import resources as r
from lambda_src import environment
from lambda_src.environment import FUNCTION_VARIABLES, LOW_STOCK_THRESHOLD, threshold_from_env
from lambda_src.stream_batch import batch_response
from lambda_src.structured_log import event_line, log_event

LAMBDA_SRC = Path(environment.__file__).parent
NAMES = StackNames(stack="shop", account_id="123456789012", region="eu-central-1")
# Set by Lambda itself, not by the stack.
LAMBDA_OWN = {"AWS_REGION"}


def _literal_environment_reads(source: str) -> list[tuple[int, str]]:
    """`os.environ["X"]` and `os.environ.get("X", ...)` with a literal name, by line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        target = name = None
        if isinstance(node, ast.Subscript):
            target, name = node.value, node.slice
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "get" and node.args):
            target, name = node.func.value, node.args[0]
        if (isinstance(target, ast.Attribute) and target.attr == "environ"
                and isinstance(name, ast.Constant) and name.value not in LAMBDA_OWN):
            found.append((node.lineno, str(name.value)))
    return found


def test_no_function_names_a_variable_outside_the_environment_module() -> None:
    offenders = {path.name: reads for path in sorted(LAMBDA_SRC.glob("*.py"))
                 if path.name != "environment.py"
                 and (reads := _literal_environment_reads(path.read_text(encoding="utf-8")))}
    assert offenders == {}


def test_the_stack_gives_each_function_exactly_the_variables_it_reads() -> None:
    specs = [r.load_function(NAMES), r.check_function(NAMES, 3),
             r.summarize_function(NAMES, 3), r.store_upload_function(NAMES),
             r.announce_function(NAMES)]
    by_module = {spec.handler.rsplit(".", 1)[0]: sorted(spec.environment) for spec in specs}
    assert by_module == {module: sorted(names) for module, names in FUNCTION_VARIABLES.items()}


@pytest.mark.parametrize(("raw", "expected"), [("", 0), ("  ", 0), ("7", 7), (" 5 ", 5)])
def test_the_cli_reads_the_threshold_as_the_functions_do(raw: str, expected: int) -> None:
    variables = {LOW_STOCK_THRESHOLD: raw}
    assert threshold_from_env(variables) == expected
    assert parse_threshold(variables, "shop-check-stock") == expected
    assert parse_threshold({}, "shop-check-stock") == 0


@pytest.mark.parametrize("raw", ["x", "-1", "2.5"])
def test_a_threshold_the_functions_refuse_is_an_incomplete_stack(raw: str) -> None:
    with pytest.raises(ValueError, match="must be a whole number >= 0"):
        threshold_from_env({LOW_STOCK_THRESHOLD: raw})
    with pytest.raises(StackIncomplete, match=f"shop-check-stock: LOW_STOCK_THRESHOLD must be "
                                              f"a whole number >= 0, not '{raw}'"):
        parse_threshold({LOW_STOCK_THRESHOLD: raw}, "shop-check-stock")


def test_log_event_writes_one_json_line_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    log_event("alert_sent", store="Zürich", count=3)
    out = capsys.readouterr().out
    assert out == '{"event": "alert_sent", "store": "Zürich", "count": 3}\n'
    assert json.loads(out) == {"event": "alert_sent", "store": "Zürich", "count": 3}
    assert event_line("load_ignored", key="a b.txt") == (
        '{"event": "load_ignored", "key": "a b.txt"}')


def test_batch_response_names_the_records_to_retry() -> None:
    assert batch_response([]) == {"batchItemFailures": []}
    assert batch_response(iter(["11", "12"])) == {
        "batchItemFailures": [{"itemIdentifier": "11"}, {"itemIdentifier": "12"}]}
