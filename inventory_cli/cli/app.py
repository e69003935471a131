"""The `inventory` command: global options, error handling, and the command groups."""

from __future__ import annotations

import sys
import traceback
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from inventory_cli.cli.context import AppContext, SettingsOptions
from inventory_cli.errors import InventoryError


class InventoryGroup(TyperGroup):
    """Turns typed errors into `Error: ...` on stderr and an exit code; no traceback unless --debug.

    Doing this in the group (not in `main`) means CliRunner tests see exactly what users see.
    """

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            # typer.Exit, Abort and usage errors are not InventoryErrors: they are re-raised as is.
            error = _as_inventory_error(exc)
            if error is None:
                raise
            obj = ctx.obj
            debug = isinstance(obj, AppContext) and obj.options.debug
            if debug:
                traceback.print_exception(exc, file=sys.stderr)
            message = f"Error: {error.message}"
            if error.hint:
                message += f"\nHint: {error.hint}"
            typer.echo(message, err=True)
            raise typer.Exit(code=error.exit_code) from None


def _as_inventory_error(exc: BaseException) -> InventoryError | None:
    if isinstance(exc, InventoryError):
        return exc
    if "botocore" in sys.modules:  # only then can it be an AWS error; keeps start-up light
        from inventory_cli.aws import translate_aws_error

        return translate_aws_error(exc)
    return None


app = typer.Typer(
    name="inventory",
    cls=InventoryGroup,
    help="Provision and operate a serverless inventory pipeline (S3 -> Lambda -> DynamoDB -> "
    "Lambda -> SNS, plus a dashboard) on AWS or on a built-in local emulator.",
    no_args_is_help=True,
    epilog="""\b
Examples:
  inventory demo                          the whole pipeline locally, in seconds
  inventory --local provision             a stack on the built-in emulator
  inventory provision                     a stack on AWS (default credentials)
  inventory upload samples/*.csv --wait   load store files and wait for the reports
  inventory show --store Berlin           one store's stock
  inventory subscribe ops@example.com     alerts by e-mail
  inventory teardown                      delete the stack""",
    # Plain help: Rich-rendered help costs ~90 ms of imports, and `inventory --help` must start
    # faster than `import boto3` (benchmarks/bench_startup.py).
    rich_markup_mode=None,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    stack: Annotated[str | None, typer.Option(
        "--stack", envvar="INVENTORY_STACK", show_default="inventory", metavar="NAME",
        help="Stack name; resource names are derived from it.")] = None,
    region: Annotated[str | None, typer.Option(
        "--region", metavar="REGION",
        help="AWS region (default: AWS_REGION or your profile's).")] = None,
    profile: Annotated[str | None, typer.Option(
        "--profile", metavar="NAME",
        help="AWS profile from ~/.aws/config (default: AWS_PROFILE).")] = None,
    endpoint_url: Annotated[str | None, typer.Option(
        "--endpoint-url", metavar="URL",
        help="Send every AWS call here (LocalStack, a moto server); "
        "default: AWS_ENDPOINT_URL.")] = None,
    local: Annotated[bool, typer.Option(
        "--local", help="Use the built-in local emulator, starting it if needed "
        "(or set INVENTORY_LOCAL=1).")] = False,
    debug: Annotated[bool, typer.Option(
        "--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    """Global options go before the command: `inventory --stack shop --local show`."""
    override = ctx.obj if ctx.obj is not None and not isinstance(ctx.obj, AppContext) else None
    # Settings are validated when a command first needs them, so `inventory CMD --help` stays
    # cheap (pydantic is not imported for help).
    options = SettingsOptions(stack=stack, region=region, profile=profile,
                              endpoint_url=endpoint_url, local=local or None, debug=debug)
    ctx.obj = AppContext(options=options, aws_override=override)


def _register_commands() -> None:
    from inventory_cli.cli import (
        dashboard_cmds,
        demo_cmd,
        failure_cmds,
        local_cmds,
        ops_cmds,
        phone_cmds,
        stack_cmds,
        staff_cmds,
        store_cmds,
        summary_cmds,
    )

    for module in (stack_cmds, ops_cmds, phone_cmds, failure_cmds, summary_cmds, store_cmds,
                   dashboard_cmds, local_cmds, demo_cmd, staff_cmds):
        module.register(app)


_register_commands()


# Global options and whether they take a value. Like the AWS CLI's, they may also be written
# after the command (`inventory show --local`); `main` moves them in front of it for click.
GLOBAL_OPTIONS = {"--stack": True, "--region": True, "--profile": True, "--endpoint-url": True,
                  "--local": False, "--debug": False}


def hoist_global_options(argv: list[str]) -> list[str]:
    """Move global options written after the command to before it; `--` ends the options."""
    first_command = next((i for i, arg in enumerate(argv) if not arg.startswith("-")
                          and (i == 0 or not GLOBAL_OPTIONS.get(argv[i - 1], False))), None)
    if first_command is None:
        return argv
    head, tail = argv[:first_command], argv[first_command:]
    hoisted: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(tail):
        arg = tail[i]
        if arg == "--":
            rest.extend(tail[i:])
            break
        name = arg.split("=", 1)[0]
        if name in GLOBAL_OPTIONS:
            takes_value = GLOBAL_OPTIONS[name] and "=" not in arg
            hoisted.extend(tail[i:i + 2] if takes_value else [arg])
            i += 2 if takes_value else 1
            continue
        rest.append(arg)
        i += 1
    return head + hoisted + rest


def main() -> None:
    app(args=hoist_global_options(sys.argv[1:]), prog_name="inventory")
