"""What `attach()` handed over: the emulator's Lambda runtime and outbox (None in-process).

Read at call time by the patches (`attached.runtime`), so `attach` and `detach` take effect at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inventory_cli.local.lambda_runtime import LambdaRuntime
    from inventory_cli.local.outbox import Outbox

runtime: LambdaRuntime | None = None
outbox: Outbox | None = None
