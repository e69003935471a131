"""The one-pass printer of long tables (inventory_cli/long_table.py) prints exactly what Rich's
Table prints: the same characters, each in the same style, with colour and without."""

from __future__ import annotations

import io
import random

import pytest
from rich.console import Console
from rich.text import Text

from inventory_cli import long_table

COLUMNS = ("Store", "Item", "Count", "")
RIGHT = ("Count",)
LOW = "bold red"


def _rows(seed: int, count: int) -> list[list[Text]]:
    rng = random.Random(seed)
    names = ["Berlin", "Zürich", "東京", "[bold]x[/bold]", "a", "Store with a long name"]
    rows = []
    for _ in range(count):
        number = rng.choice([0, 3, 5, 17, 1234, 98765])
        low = number <= 5
        item = f"Item {rng.randrange(10 ** rng.randrange(1, 7))}"
        rows.append([Text(rng.choice(names)), Text(item),
                     Text(str(number), style=LOW if low else ""),
                     Text("low", style=LOW) if low else Text("")])
    return rows


def _printed(rows: list[list[Text]], *, colour: bool, long: bool, width: int = 100) -> str:
    out = io.StringIO()
    console = Console(file=out, force_terminal=colour,
                      color_system="standard" if colour else None, width=width)
    if long:
        long_table.print_table(console, COLUMNS, rows, right=RIGHT)
    else:
        table = long_table.rich_table(COLUMNS, RIGHT)
        for row in rows:
            table.add_row(*row)
        console.print(table)
    return out.getvalue()


def _styled_characters(ansi: str) -> list[tuple[str, str]]:
    """Every character with the style it is shown in (how the escape codes are grouped into
    segments does not matter to a reader, so it does not matter here)."""
    console = Console(color_system="standard")
    result = []
    for line in ansi.split("\n"):
        text = Text.from_ansi(line)
        result.extend((char, str(text.get_style_at_offset(console, offset)))
                      for offset, char in enumerate(text.plain))
        result.append(("\n", ""))
    return result


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("colour", [False, True], ids=["plain", "colour"])
def test_a_long_table_prints_what_rich_prints(seed: int, colour: bool) -> None:
    rows = _rows(seed, long_table.LONG_TABLE_ROWS + 50)
    ours = _printed(rows, colour=colour, long=True)
    theirs = _printed(rows, colour=colour, long=False)
    assert ours.replace("\x1b", "") != "" and len(ours.splitlines()) == len(rows) + 2
    if colour:
        assert _styled_characters(ours) == _styled_characters(theirs)
    else:
        assert ours == theirs


def test_a_table_wider_than_the_console_is_left_to_rich_which_folds_it() -> None:
    rows = _rows(1, long_table.LONG_TABLE_ROWS + 5)
    rows[0][1] = Text("x" * 150)
    ours = _printed(rows, colour=False, long=True, width=80)
    assert ours == _printed(rows, colour=False, long=False, width=80)
    assert max(len(line) for line in ours.splitlines()) <= 80
