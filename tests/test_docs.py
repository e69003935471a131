"""The README documents every command, with an example, and the test command CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from inventory_cli.cli.app import app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _commands(typer_app: typer.Typer, prefix: str = "") -> list[str]:
    group = typer.main.get_group(typer_app)
    names: list[str] = []
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):
            names += [f"{prefix}{name} {sub}" for sub in sorted(command.commands)]
        else:
            names.append(f"{prefix}{name}")
    return names


def test_every_command_has_an_example_in_the_readme() -> None:
    commands = _commands(app)
    assert len(commands) >= 16
    missing = [c for c in commands
               if not re.search(rf"inventory (--[\w-]+ (\S+ )?)*{re.escape(c)}\b", README)]
    assert missing == []


def test_readme_gives_the_two_set_up_commands() -> None:
    assert ".venv/bin/pip install . && .venv/bin/inventory demo" in README
    assert "bash .ci/run" in README
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "python -m pytest -n 2 --dist loadfile" in ci
    assert "python -m pytest -n 2 --dist loadfile" in README


def test_relative_links_in_the_docs_resolve_to_files() -> None:
    root = Path(__file__).resolve().parent.parent
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue
            path = target.split("#", 1)[0]
            if not (page.parent / path).exists():
                broken.append(f"{page.relative_to(root)}: {target}")
    assert broken == []
