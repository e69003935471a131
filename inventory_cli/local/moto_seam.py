"""The former name of `inventory_cli.local.seam`, kept importable while callers move.

Every name resolves, at the time it is read, in the package (`install`, `attach`, `detach`,
`server_app`, `MOTO_VERSION`) or in its service modules, so module state such as the write
limiter is the seam's own, not a copy. New code imports `inventory_cli.local.seam` directly.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = ("", ".awslambda", ".dynamodb", ".sns", ".cognito", ".s3", ".iam", ".logs",
            ".attached")


def __getattr__(name: str) -> Any:
    for suffix in _MODULES:
        module = importlib.import_module("inventory_cli.local.seam" + suffix)
        if name in vars(module):
            return vars(module)[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
