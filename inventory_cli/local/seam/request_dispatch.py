"""Per-request work moto's server repeats, done once.

Under a big load every request paid for two lookups whose answers never change while the
emulator runs (together about a tenth of the emulator's time for a BatchWriteItem):

- `backends.list_of_moto_modules()`: a directory listing of moto's package plus one `isdir`
  per entry (about 150), asked by the dispatcher for every request to place its host. The
  package's folders are fixed once moto is installed: listed once.
- `method_names_from_class(handler class)`: `inspect.getmembers` over the handler class (every
  attribute, sorted) to ask whether the action is one of its functions. Answered per name
  instead, with the same test (`inspect.isfunction` of the class attribute), so a method a
  seam adds later is found as before.
"""

from __future__ import annotations

import inspect
from typing import Any


def install() -> None:
    from moto import backends
    from moto.core import responses

    listed = tuple(backends.list_of_moto_modules())
    setattr(backends, "list_of_moto_modules", lambda: listed)  # noqa: B010
    setattr(responses, "method_names_from_class", _FunctionNames)  # noqa: B010


class _FunctionNames:
    """`name in _FunctionNames(cls)`: what `name in method_names_from_class(cls)` answers."""

    def __init__(self, clazz: Any) -> None:
        self._clazz = clazz

    def __contains__(self, name: object) -> bool:
        # getmembers reads through the class's MRO at call time; so does getattr.
        return isinstance(name, str) and inspect.isfunction(getattr(self._clazz, name, None))
