"""What every command receives: settings, consoles, and a lazily built AWS adapter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from inventory_cli.config import Settings

if TYPE_CHECKING:
    from inventory_cli.aws import Aws


@dataclass
class AppContext:
    settings: Settings
    console: Console = field(default_factory=lambda: Console(highlight=False))
    err: Console = field(default_factory=lambda: Console(stderr=True, highlight=False))
    # Tests hand in an adapter built on their own (moto) session.
    aws_override: Aws | None = None
    _aws: Aws | None = None

    def aws(self) -> Aws:
        """The AWS adapter; with --local the emulator is started first if it is not running."""
        if self.aws_override is not None:
            return self.aws_override
        if self._aws is None:
            from inventory_cli.aws import make_aws

            endpoint = None
            if self.settings.local and not self.settings.endpoint_url:
                from inventory_cli.local.emulator import ensure_running

                endpoint = ensure_running(console=self.err).endpoint
            self._aws = make_aws(self.settings, endpoint_url=endpoint)
        return self._aws


def app_context(ctx: typer.Context) -> AppContext:
    obj: Any = ctx.find_root().obj
    if not isinstance(obj, AppContext):  # pragma: no cover - the root callback always sets it
        raise RuntimeError("inventory: command run without the root callback")
    return obj
