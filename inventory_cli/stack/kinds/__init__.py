"""The planners, one module per AWS service, each handling its kinds of resource.

`KINDS` maps a spec's `kind` to its `Kind` (plan and delete); a new kind adds itself to its
service module's `KINDS`, and a new service module is found by its file.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence

from inventory_cli.config import StackNames
from inventory_cli.stack.instructions import Step
from inventory_cli.stack.kinds.common import Kind, Skip
from inventory_cli.stack.model import Spec
from inventory_cli.stack.remote import RemoteState


def _discovered_kinds() -> dict[str, Kind]:
    """Every service module of this package, found by its file: a new service's planner is
    picked up without being listed here (adding a resource touches its spec and its kind)."""
    found: dict[str, Kind] = {}
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module.name == "common":
            continue
        kinds: dict[str, Kind] = importlib.import_module(f"{__name__}.{module.name}").KINDS
        for kind in kinds:
            if kind in found:
                raise RuntimeError(f"two planners claim the kind {kind!r}")
        found.update(kinds)
    return found


KINDS: dict[str, Kind] = _discovered_kinds()


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
