"""Tables of thousands of rows, printed in one pass, looking exactly like `render`'s Rich tables.

Rich lays a `Table` out by measuring, wrapping and dividing every cell: about 1.2 s for the
5,000 rows of one store in a big catalogue (`inventory show --store`), longer than the read
itself. For such tables every cell is one line (no folding is needed when the table fits the
console), so the layout is simple: each column as wide as its widest cell, cells padded by one
space, columns separated by a space (the `SIMPLE_HEAD` box), a rule under the bold header.
`print_table` builds those lines as `Text` directly (same characters, same styles) and falls
back to Rich's own `Table` when the table is short (nothing to gain) or too wide for the console
(Rich folds cells then). tests/test_long_table.py compares both outputs character by character,
styles included.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich import box
from rich.cells import cell_len
from rich.style import Style
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from rich.console import Console

# Below this many rows Rich's Table is quick enough (~0.25 ms a row) and lays out anything.
LONG_TABLE_ROWS = 200
_SEPARATOR = " "  # SIMPLE_HEAD's vertical edge between columns: a space
_GAP = " " + _SEPARATOR + " "  # a cell's right padding, the edge, the next cell's left padding


def rich_table(columns: Sequence[str], right: Sequence[str] = ()) -> Table:
    """A borderless table; `right` names the right-aligned (numeric) columns."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name in columns:
        # fold, never "…": a file name or a reason cut short is useless to the reader
        table.add_column(name, justify="right" if name in right else "left", overflow="fold")
    return table


def print_table(console: Console, columns: Sequence[str], rows: Sequence[Sequence[Text]], *,
                right: Sequence[str] = ()) -> None:
    """Print `rows` (one `Text` per cell) under `columns`, as `rich_table` would."""
    widths = [cell_len(name) for name in columns]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], cell.cell_len)
    total = sum(widths) + 3 * (len(widths) - 1)  # pad, separator, pad between columns
    if len(rows) < LONG_TABLE_ROWS or total > console.width or any(
            "\n" in cell.plain for row in rows for cell in row):
        table = rich_table(columns, right)
        for row in rows:
            table.add_row(*row)
        console.print(table)
        return
    aligned_right = [name in right for name in columns]
    if console.color_system is None:  # no styles to show (a pipe, a file, NO_COLOR...)
        lines = [_plain_line(columns, widths, aligned_right), "─" * total]
        lines.extend(_plain_line([cell.plain for cell in row], widths, aligned_right)
                     for row in rows)
        write_plain(console, "\n".join(lines))
        return
    header_style = console.get_style("table.header")
    styled = [_line([Text(name) for name in columns], widths, right, columns, header_style),
              Text("─" * total)]
    styled.extend(_row_line(row, widths, aligned_right) if all(not c.spans for c in row)
                  else _line(row, widths, right, columns, None) for row in rows)
    console.print(Text("\n").join(styled), soft_wrap=True)


def write_plain(console: Console, text: str) -> None:
    """Text exactly as it is, and a newline, straight to the console's file (so not into a
    `Console.capture()`). `Console.out` would split it into lines and segments first: 0.3 s
    for the 5,000 records of one store."""
    if console.record:  # a recording console keeps what it prints
        console.out(text, highlight=False)
        return
    console.file.write(text + "\n")
    console.file.flush()


def _plain_line(cells: Sequence[str], widths: Sequence[int], aligned_right: Sequence[bool],
                ) -> str:
    return _GAP.join(" " * (width - cell_len(cell)) + cell if right else
                      cell + " " * (width - cell_len(cell))
                      for cell, width, right in zip(cells, widths, aligned_right, strict=True))


def _row_line(cells: Sequence[Text], widths: Sequence[int], aligned_right: Sequence[bool],
              ) -> Text:
    """`_line` for a row whose cells have one style each (no spans): one `Text.assemble`
    instead of a dozen appends, a third of the time."""
    pieces: list[str | tuple[str, str | Style]] = []
    for index, cell in enumerate(cells):
        if index:
            pieces.append(_GAP)
        gap = " " * (widths[index] - cell.cell_len)
        pieces.append((gap + cell.plain if aligned_right[index] else cell.plain + gap,
                       cell.style))
    return Text.assemble(*pieces)


def _line(cells: Sequence[Text], widths: Sequence[int], right: Sequence[str],
          columns: Sequence[str], pad_style: object) -> Text:
    """One row: each cell padded to its column (justified within its own style), one space of
    padding inside each inner edge (styled like a header cell in the header), a space between."""
    line = Text()
    last = len(cells) - 1
    for index, cell in enumerate(cells):
        if index:
            line.append(_SEPARATOR)
            line.append(" ", style=pad_style)  # type: ignore[arg-type]
        gap = widths[index] - cell.cell_len
        padded = cell.copy()
        if gap:
            if columns[index] in right:
                padded = Text(" " * gap, style=padded.style) + padded
            else:
                padded.append(" " * gap, style=padded.style)
        if pad_style is not None:
            padded = Text.assemble(padded, style=pad_style)  # type: ignore[arg-type]  # a header cell
        line.append_text(padded)
        if index != last:
            line.append(" ", style=pad_style)  # type: ignore[arg-type]
    return line
