"""`provision` as the command runs it: the stack (`inventory_cli.stack.provision`), then the
summaries when the summary table is new or was computed for another threshold (the low sets
depend on it; the summarizing function keeps them from then on).

The one place where provisioning joins the stack and the everyday operations, so that neither
package imports the other.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from rich.console import Console

from inventory_cli.aws import Aws
from inventory_cli.stack import provision as stack_provision
from inventory_cli.stack.executor import BeforeStep
from inventory_cli.stack.packaging import LambdaZip

if TYPE_CHECKING:
    from inventory_cli.ops.summaries import RebuildResult


@dataclass(frozen=True)
class ProvisionResult(stack_provision.ProvisionResult):
    # Set when provision computed the summaries (a new summary table or another threshold).
    summaries_rebuilt: RebuildResult | None = None


def provision(aws: Aws, *, threshold: int | None = None, dry_run: bool = False,
              console: Console | None = None, sleep: Callable[[float], None] = time.sleep,
              before_step: BeforeStep | None = None, code: LambdaZip | None = None,
              dashboard: bool | None = None, warm_writes: int | None = None,
              dashboard_access: str | None = None) -> ProvisionResult:
    """`inventory_cli.stack.provision.provision`, then the summaries if they need computing."""
    from inventory_cli.ops.summaries import needs_rebuild, rebuild_summaries

    result = stack_provision.provision(aws, threshold=threshold, dry_run=dry_run,
                                       console=console, sleep=sleep, before_step=before_step,
                                       code=code, dashboard=dashboard,
                                       warm_writes=warm_writes,
                                       dashboard_access=dashboard_access)
    rebuilt = None
    if not dry_run and needs_rebuild(aws, aws.names, result.threshold):
        rebuilt = rebuild_summaries(aws, aws.names, result.threshold, sleep=sleep)
    return ProvisionResult(**{f.name: getattr(result, f.name) for f in fields(result)},
                           summaries_rebuilt=rebuilt)
