"""The planners, one module per AWS service, each handling its kinds of resource.

`KINDS` maps a spec's `kind` to its `Kind` (plan and delete); a new kind adds itself to its
service module's `KINDS`.
"""

from __future__ import annotations

from collections.abc import Sequence

from inventory_cli.config import StackNames
from inventory_cli.stack.instructions import Step
from inventory_cli.stack.kinds import awslambda, cloudfront, cognito, dynamodb, iam, logs, s3, sns
from inventory_cli.stack.kinds.common import Kind, Skip
from inventory_cli.stack.model import Spec
from inventory_cli.stack.remote import RemoteState

KINDS: dict[str, Kind] = {
    **iam.KINDS, **s3.KINDS, **dynamodb.KINDS, **sns.KINDS, **logs.KINDS, **awslambda.KINDS,
    **cognito.KINDS, **cloudfront.KINDS,
}


def deletion(specs: Sequence[Spec], remote: RemoteState,
             names: StackNames) -> tuple[list[Step], list[str]]:
    """The steps that delete `specs`, in the order given, and what was found but is not the
    stack's to delete. A call two specs both plan (the mappings of a function, deleted before
    it and with it) runs once."""
    steps: list[Step] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for spec in specs:
        for item in KINDS[spec.kind].delete(spec, remote, names):
            if isinstance(item, Skip):
                if item.reason not in skipped:
                    skipped.append(item.reason)
                continue
            key = repr((type(item).__name__, getattr(item, "service", ""),
                        getattr(item, "method", ""), dict(getattr(item, "params", {})),
                        getattr(item, "bucket", "")))
            if key not in seen:
                seen.add(key)
                steps.append(item)
    return steps, skipped
