"""Cognito identity pools in moto: role mapping, unknown pools, guest credentials.

- Role mapping (`SetIdentityPoolRoles` / `GetIdentityPoolRoles`), which moto 5.2.5 does not
  implement (in-process: NotImplementedError; server: HTTP 500), and `GetId` for an unknown
  pool answering ResourceNotFoundException as AWS does (moto: HTTP 500).
- Guest credentials: `AllowClassicFlow` is kept on the pool (moto drops it), the
  enhanced flow's keys are recognisable, and with `INVENTORY_LOCAL_DENY_ENHANCED_FLOW=1` in the
  emulator's environment DynamoDB refuses them (a test switch for the dashboard's fallback to
  the basic flow, GetOpenIdToken + AssumeRoleWithWebIdentity).
- Guest sessions under role enforcement (`seam/iam.py`): an enhanced-flow key acts as the
  pool's unauthenticated role scoped down by AWS's session policy for unauthenticated
  identities (`UNAUTHED_SESSION_POLICY`); a basic-flow key (AssumeRoleWithWebIdentity) acts as
  the role with its own policies only (Amazon Cognito Developer Guide, "Identity pools
  authentication flow").
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from inventory_cli.local.seam import iam

logger = logging.getLogger(__name__)

# -- Cognito identity pool roles ---------------------------------------------------------------


def _roles(backend: Any) -> dict[str, dict[str, Any]]:
    """The roles each pool of a moto Cognito backend maps its identities to."""
    store: dict[str, dict[str, Any]] | None = getattr(backend, "_inventory_pool_roles", None)
    if store is None:
        store = {}
        backend._inventory_pool_roles = store
    return store


def install_identity_pool_roles() -> None:
    from moto.cognitoidentity.exceptions import ResourceNotFoundError
    from moto.cognitoidentity.responses import CognitoIdentityResponse

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

    upstream_get_id = CognitoIdentityResponse.get_id

    def get_id(self: CognitoIdentityResponse) -> str:
        # moto looks the pool up with a bare dict index: an unknown pool is an HTTP 500 there,
        # where AWS answers 400 ResourceNotFoundException (what the dashboard shows its users).
        from moto.cognitoidentity.models import cognitoidentity_backends

        pool_id = str(self._get_param("IdentityPoolId") or "")
        try:
            backend = cognitoidentity_backends[self.current_account][pool_id.partition(":")[0]]
            known = pool_id in backend.identity_pools
        except (KeyError, ValueError):
            known = False
        if not known:
            raise ResourceNotFoundError(pool_id)
        return upstream_get_id(self)

    CognitoIdentityResponse.get_id = get_id  # type: ignore[method-assign]
    CognitoIdentityResponse.set_identity_pool_roles = set_identity_pool_roles  # type: ignore[attr-defined]
    CognitoIdentityResponse.get_identity_pool_roles = get_identity_pool_roles  # type: ignore[attr-defined]


# -- Cognito guest credentials: classic flow, and a switch that denies the enhanced flow ---------

# Keys GetCredentialsForIdentity issues start with this (20 characters in all, like AWS's), so
# DynamoDB can tell them from keys of AssumeRoleWithWebIdentity (moto's "ASIA" + random).
GUEST_KEY_PREFIX = "ASIAGUEST"
DENY_ENHANCED_FLOW_ENV = "INVENTORY_LOCAL_DENY_ENHANCED_FLOW"
_COGNITO = "cognito-identity.amazonaws.com"


def deny_enhanced_flow() -> bool:
    """Test switch: DynamoDB refuses keys issued by GetCredentialsForIdentity (the enhanced flow),
    as AWS's scope-down policy for guests might. Read per request from the environment."""

    return os.environ.get(DENY_ENHANCED_FLOW_ENV, "").strip() not in ("", "0")


def _open_id_token(pool_id: str, identity_id: str) -> str:
    """An unsigned token with the claims STS checks against a role's trust policy."""
    import base64

    claims = {"aud": pool_id, "sub": identity_id, "amr": ["unauthenticated"]}
    return base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")


def _token_claims(token: str) -> dict[str, Any]:
    import base64

    try:
        claims = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _trust_allows(policy: Any, claims: Mapping[str, Any]) -> bool:
    """Whether a role's trust policy lets this Cognito guest token assume it (the conditions
    `inventory provision` writes: aud = the pool, amr contains "unauthenticated")."""
    document = json.loads(policy) if isinstance(policy, str) else policy or {}
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        federated = (statement.get("Principal") or {}).get("Federated")
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if (statement.get("Effect") != "Allow" or _COGNITO not in (
                federated if isinstance(federated, list) else [federated])
                or "sts:AssumeRoleWithWebIdentity" not in actions):
            continue
        condition = statement.get("Condition") or {}
        aud = (condition.get("StringEquals") or {}).get(f"{_COGNITO}:aud")
        amr = (condition.get("ForAnyValue:StringLike") or {}).get(f"{_COGNITO}:amr")
        if aud is not None and claims.get("aud") not in (aud if isinstance(aud, list) else [aud]):
            continue
        if amr is not None and amr not in claims.get("amr", []):
            continue
        return True
    return False


def install_guest_credentials() -> None:
    _install_classic_flow_setting()
    _install_guest_tokens()
    _install_enhanced_flow_denial()


def _install_classic_flow_setting() -> None:
    """moto drops AllowClassicFlow; keep it on the pool so provision's drift check works."""
    from moto.cognitoidentity.models import CognitoIdentityPool
    from moto.cognitoidentity.responses import CognitoIdentityResponse

    upstream_to_json = CognitoIdentityPool.to_json

    def to_json(self: CognitoIdentityPool) -> str:
        data = json.loads(upstream_to_json(self))
        data["AllowClassicFlow"] = bool(getattr(self, "_inventory_allow_classic_flow", False))
        return json.dumps(data)

    def keeping_classic_flow(upstream: Callable[[Any], str]) -> Callable[[Any], str]:
        def call(self: CognitoIdentityResponse) -> str:
            answer = json.loads(upstream(self))
            pool = self.backend.identity_pools[answer["IdentityPoolId"]]
            pool._inventory_allow_classic_flow = bool(  # type: ignore[attr-defined]
                self._get_param("AllowClassicFlow") or False)
            return pool.to_json()
        return call

    CognitoIdentityPool.to_json = to_json  # type: ignore[method-assign]
    CognitoIdentityResponse.create_identity_pool = keeping_classic_flow(  # type: ignore[method-assign,assignment]
        CognitoIdentityResponse.create_identity_pool)
    CognitoIdentityResponse.update_identity_pool = keeping_classic_flow(  # type: ignore[method-assign,assignment]
        CognitoIdentityResponse.update_identity_pool)


def _pool_of_identity(account_id: str, identity_id: str) -> str | None:
    from moto.cognitoidentity.models import cognitoidentity_backends

    try:
        backend = cognitoidentity_backends[account_id][identity_id.partition(":")[0]]
    except (KeyError, ValueError):
        return None
    for pool_id, listing in backend.pools_identities.items():
        if any(i.get("IdentityId") == identity_id for i in listing.get("Identities", [])):
            return str(pool_id)
    return None


# AWS's scope-down policy for enhanced-flow sessions of unauthenticated identities, version 3
# (AWS Managed Policy Reference, AmazonCognitoUnAuthedIdentitiesSessionPolicy): the guest's
# permissions are its intersection with the role's. It lists no DynamoDB or S3 action.
UNAUTHED_SESSION_POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{
        "Sid": "CognitoUnAuthedIdentitiesSessionPolicy",
        "Effect": "Allow",
        "Action": [
            "rum:PutRumEvents", "sagemaker:InvokeEndpoint", "polly:*", "comprehend:*",
            "translate:*", "transcribe:*", "rekognition:*", "mobiletargeting:*", "firehose:*",
            "personalize:*", "geo:GetMap*", "geo:SearchPlaceIndex*", "geo:GetPlace",
            "geo:CalculateRoute*", "geo:*Geofence", "geo:*Geofences", "geo:*DevicePosition*",
            "kms:Encrypt", "kms:Decrypt", "kms:ReEncryptTo", "kms:ReEncryptFrom",
            "kms:GenerateDataKey", "kms:GenerateDataKeyPair",
            "kms:GenerateDataKeyPairWithoutPlaintext", "kms:GenerateDataKeyWithoutPlaintext",
        ],
        "Resource": "*",
    }],
})
# The session name AWS gives enhanced-flow guest sessions.
ENHANCED_FLOW_SESSION = "CognitoIdentityCredentials"


def _get_credentials_for_identity(self: Any) -> str:
    """moto's answer with keys of their own, recognisable as the enhanced flow's, acting as the
    pool's unauthenticated role scoped down as on AWS."""
    import secrets
    import string

    identity_id = str(self._get_param("IdentityId") or "")
    answer = json.loads(self.backend.get_credentials_for_identity(identity_id))
    alphabet = string.ascii_uppercase + string.digits
    key = GUEST_KEY_PREFIX + "".join(
        secrets.choice(alphabet) for _ in range(20 - len(GUEST_KEY_PREFIX)))
    answer["Credentials"]["AccessKeyId"] = key
    answer["Credentials"]["SecretKey"] = secrets.token_urlsafe(30)
    pool_id = _pool_of_identity(self.current_account, identity_id) or ""
    # A login (a user pool's id token): the pool's authenticated role, with no scope-down
    # policy (AWS applies one to guests only). The token itself is not checked here.
    signed_in = bool(self._get_param("Logins"))
    role_arn = str(_roles(self.backend).get(pool_id, {}).get("Roles", {}).get(
        "authenticated" if signed_in else "unauthenticated") or "")
    role = iam.role_named(self.current_account, role_arn) if role_arn else None
    iam.register_session(key, iam.Session(
        account_id=self.current_account, role_arn=role_arn,
        session_name=ENHANCED_FLOW_SESSION, role_id=getattr(role, "id", None),
        session_policies=() if signed_in else (UNAUTHED_SESSION_POLICY,)))
    return json.dumps(answer)


def _get_open_id_token(self: Any) -> str:
    """A token naming the identity's pool, which AssumeRoleWithWebIdentity checks."""
    identity_id = str(self._get_param("IdentityId") or "")
    pool_id = _pool_of_identity(self.current_account, identity_id)
    if pool_id is None:
        from moto.cognitoidentity.exceptions import ResourceNotFoundError

        raise ResourceNotFoundError(identity_id)
    return json.dumps({"IdentityId": identity_id, "Token": _open_id_token(pool_id, identity_id)})


def _install_guest_tokens() -> None:
    from moto.cognitoidentity.responses import CognitoIdentityResponse
    from moto.core.exceptions import AccessDeniedError
    from moto.iam.models import iam_backends
    from moto.sts.responses import TokenResponse
    from moto.utilities.utils import get_partition

    upstream_assume = TokenResponse.assume_role_with_web_identity

    def assume_role_with_web_identity(self: TokenResponse) -> Any:
        role_arn = str(self._get_param("RoleArn") or "")
        claims = _token_claims(str(self._get_param("WebIdentityToken") or ""))
        # Only Cognito tokens are checked; other web identities keep moto's behaviour.
        if claims.get("aud"):
            account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
            try:
                role = iam_backends[account][get_partition(self.region)].get_role_by_arn(
                    role_arn)
            except Exception:  # noqa: BLE001 - moto raises several kinds for "no role"
                role = None
            if role is None or not _trust_allows(role.assume_role_policy_document, claims):
                # AWS: 403 AccessDenied "Not authorized to perform sts:AssumeRoleWithWebIdentity"
                raise AccessDeniedError(f"cognito-identity:{claims.get('sub', '')}",
                                        "sts:AssumeRoleWithWebIdentity")
        return upstream_assume(self)

    CognitoIdentityResponse.get_credentials_for_identity = (  # type: ignore[method-assign]
        _get_credentials_for_identity)
    CognitoIdentityResponse.get_open_id_token = _get_open_id_token  # type: ignore[method-assign]
    TokenResponse.assume_role_with_web_identity = assume_role_with_web_identity  # type: ignore[method-assign]


def _install_enhanced_flow_denial() -> None:
    from moto.dynamodb.responses import DynamoHandler

    upstream_call_action = DynamoHandler.call_action

    def call_action(self: DynamoHandler) -> Any:
        auth = str(self.headers.get("Authorization") or "")
        key = auth.partition("Credential=")[2].partition("/")[0]
        if key.startswith(GUEST_KEY_PREFIX) and deny_enhanced_flow():
            operation = self.get_endpoint_name(self.headers) or "?"
            body = {"__type": "com.amazonaws.dynamodb.v20120810#AccessDeniedException",
                    "message": f"User: arn:aws:sts::{self.current_account}:assumed-role/"
                               f"guest/CognitoIdentityCredentials is not authorized to perform: "
                               f"dynamodb:{operation} because no session policy allows the "
                               f"dynamodb:{operation} action"}
            return 400, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(body)
        return upstream_call_action(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    if deny_enhanced_flow():  # a test switch: say so in the emulator's log
        logger.warning("%s is set: DynamoDB refuses keys issued by GetCredentialsForIdentity",
                       DENY_ENHANCED_FLOW_ENV)
