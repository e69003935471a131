"""What every command receives: settings, consoles, and a lazily built AWS adapter."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from inventory_cli.aws import Aws
    from inventory_cli.config import Settings


@dataclass(frozen=True)
class SettingsOptions:
    """The global options as given on the command line (None = not given)."""

    stack: str | None = None
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    local: bool | None = None
    debug: bool = False


@dataclass
class AppContext:
    options: SettingsOptions = field(default_factory=SettingsOptions)
    # Tests hand in an adapter built on their own (moto) session.
    aws_override: Aws | None = None
    _aws: Aws | None = None

    @cached_property
    def settings(self) -> Settings:
        """Options merged over the environment and validated (raises ConfigError)."""
        from inventory_cli.config import Settings

        o = self.options
        return Settings.resolve(stack=o.stack, region=o.region, profile=o.profile,
                                endpoint_url=o.endpoint_url, local=o.local, debug=o.debug)

    @cached_property
    def console(self) -> Console:
        """Standard output. Rich decides colour: only on a terminal, and never with NO_COLOR."""
        from rich.console import Console

        return Console(highlight=False)

    @cached_property
    def err(self) -> Console:
        from rich.console import Console

        return Console(stderr=True, highlight=False)

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
