"""The one place where inventory reaches into moto's internals.

moto (pinned in pyproject.toml) is the engine of the built-in emulator. What it lacks for this
pipeline is supplied here, by patching moto classes when `install()` is called:

- Cognito identity pool role mapping (`SetIdentityPoolRoles` / `GetIdentityPoolRoles`), which
  moto 5.2.5 does not implement (in-process: NotImplementedError; server: HTTP 500).

`install()` is idempotent and is called both by the emulator server process and by in-process
tests. `tests/local/test_moto_seam.py` fails loudly if an upgrade of moto moves what we patch.
"""

from __future__ import annotations

import json
import threading
from typing import Any

_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Patch moto once per process."""
    global _installed  # noqa: PLW0603 - a process-wide, idempotent switch is the point
    with _install_lock:
        if _installed:
            return
        _install_cognito_identity_pool_roles()
        _installed = True


def _install_cognito_identity_pool_roles() -> None:
    from moto.cognitoidentity.exceptions import ResourceNotFoundError
    from moto.cognitoidentity.models import CognitoIdentityBackend
    from moto.cognitoidentity.responses import CognitoIdentityResponse

    def _roles(backend: CognitoIdentityBackend) -> dict[str, dict[str, Any]]:
        store: dict[str, dict[str, Any]] | None = getattr(backend, "_inventory_pool_roles", None)
        if store is None:
            store = {}
            backend._inventory_pool_roles = store  # type: ignore[attr-defined]
        return store

    def set_identity_pool_roles(self: CognitoIdentityResponse) -> str:
        pool_id = self._get_param("IdentityPoolId")
        if pool_id not in self.backend.identity_pools:
            raise ResourceNotFoundError(pool_id)
        _roles(self.backend)[pool_id] = {
            "Roles": self._get_param("Roles") or {},
            "RoleMappings": self._get_param("RoleMappings") or {},
        }
        return ""

    def get_identity_pool_roles(self: CognitoIdentityResponse) -> str:
        pool_id = self._get_param("IdentityPoolId")
        if pool_id not in self.backend.identity_pools:
            raise ResourceNotFoundError(pool_id)
        stored = _roles(self.backend).get(pool_id, {"Roles": {}, "RoleMappings": {}})
        return json.dumps({"IdentityPoolId": pool_id, **stored})

    CognitoIdentityResponse.set_identity_pool_roles = set_identity_pool_roles  # type: ignore[attr-defined]
    CognitoIdentityResponse.get_identity_pool_roles = get_identity_pool_roles  # type: ignore[attr-defined]
