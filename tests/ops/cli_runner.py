"""Running the installed command in-process against a test's AWS (the `cli` fixture)."""

from __future__ import annotations

from dataclasses import dataclass

from typer.testing import CliRunner, Result

from inventory_cli.aws import Aws
from inventory_cli.cli.app import app


@dataclass(frozen=True)
class Cli:
    """`cli("show", "--store", "Berlin")`: the command's result, as a user's terminal of
    `columns` characters (no colour) would show it; `input` is what the user types."""

    aws: Aws
    columns: int = 80

    def __call__(self, *args: str, columns: int | None = None,
                 input: str | None = None) -> Result:
        width = columns or self.columns
        return CliRunner().invoke(app, list(args), obj=self.aws, input=input,
                                  env={"COLUMNS": str(width), "NO_COLOR": "1"})
