"""Options more than one command module takes (command modules do not import each other)."""

from __future__ import annotations

from typing import Annotated

import typer

from inventory_cli.render import OutputFormat

OutputOption = Annotated[OutputFormat | None, typer.Option(
    "--output", "-o", case_sensitive=False, show_default=False,
    help="table, json or csv (default: table on a terminal, json otherwise).")]
SinceOption = Annotated[str, typer.Option(
    "--since", metavar="DURATION", help="How far back: 30m, 24h, 7d.")]
VerifyOption = Annotated[bool | None, typer.Option(
    "--verify/--no-verify", show_default=False,
    help="Phones only, when the account is in the SNS SMS sandbox: text the number a "
    "verification code (--verify) or not (--no-verify). Default: ask on a terminal, "
    "otherwise only say what to do.")]
