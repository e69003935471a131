"""`inventory provision` on a new stack makes exactly the recorded calls, in the recorded order,
with the recorded parameters; a second run makes no mutating call at all.

The recordings in tests/stack/recorded/ were taken from the code before the stack package was
reshaped, and pin that any reshaping keeps what provision does on AWS. A deliberate change of
what provision does rewrites them: run this file with INVENTORY_WRITE_RECORDED=1 (the run then
fails, so a rewrite is never silent), and review the diff of the JSON.
"""

from __future__ import annotations

import os

import boto3
import pytest
from call_recording import ParamRecorder, load_recorded, write_recorded
from stack_fixtures import fresh_aws
from typer.testing import CliRunner

from inventory_cli.cli.app import app


def _provision(session: boto3.session.Session, *args: str) -> ParamRecorder:
    recorder = ParamRecorder(session)
    result = CliRunner().invoke(app, ["provision", *args], obj=fresh_aws(session, "inventory"))
    assert result.exit_code == 0, result.output
    return recorder


def _compare(name: str, recorder: ParamRecorder) -> None:
    recorded = {"mutating": recorder.mutating, "reads": recorder.reads}
    if os.environ.get("INVENTORY_WRITE_RECORDED") == "1":
        write_recorded(name, recorded)
        pytest.fail(f"rewrote tests/stack/recorded/{name}: review its diff, then rerun")
    expected = load_recorded(name)
    # Compared call by call first, so a difference names the first call that differs.
    for index, (got, want) in enumerate(zip(recorder.mutating, expected["mutating"],
                                            strict=False)):
        assert got == want, f"mutating call {index} differs"
    assert recorder.mutating == expected["mutating"]


@pytest.mark.parametrize(("name", "args"), [
    # A public dashboard makes the calls every stack made before the private mode.
    ("provision_new_stack.json", ("--public-dashboard",)),
    ("provision_new_stack_private.json", ()),
    ("provision_new_stack_no_dashboard.json", ("--no-dashboard",)),
])
def test_new_stack_makes_the_recorded_calls_and_a_rerun_none(
        session: boto3.session.Session, name: str, args: tuple[str, ...]) -> None:
    _compare(name, _provision(session, *args))

    again = _provision(session)
    assert again.calls, "the recorder saw the second run's reads"
    assert again.mutating == []
