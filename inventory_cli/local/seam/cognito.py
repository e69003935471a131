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
    _install_logins()


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
    pool_id = _pool_of_identity(self.current_account, identity_id) or ""
    if not pool_id:  # AWS: an identity it never issued is not found
        from moto.cognitoidentity.exceptions import ResourceNotFoundError

        raise ResourceNotFoundError(f"Identity '{identity_id}' not found.")
    logins = self._get_param("Logins") or {}
    pool = self.backend.identity_pools.get(pool_id)
    if logins or identity_id in _authenticated_identities(self.backend):
        return _authenticated_credentials(self, identity_id, pool_id, logins)
    if pool is not None and not pool.allow_unauthenticated_identities:
        raise _not_authorized(UNAUTHENTICATED_REFUSED)
    answer = json.loads(self.backend.get_credentials_for_identity(identity_id))
    alphabet = string.ascii_uppercase + string.digits
    key = GUEST_KEY_PREFIX + "".join(
        secrets.choice(alphabet) for _ in range(20 - len(GUEST_KEY_PREFIX)))
    answer["Credentials"]["AccessKeyId"] = key
    answer["Credentials"]["SecretKey"] = secrets.token_urlsafe(30)
    role_arn = str(_roles(self.backend).get(pool_id, {}).get("Roles", {}).get(
        "unauthenticated") or "")
    role = iam.role_named(self.current_account, role_arn) if role_arn else None
    iam.register_session(key, iam.Session(
        account_id=self.current_account, role_arn=role_arn,
        session_name=ENHANCED_FLOW_SESSION, role_id=getattr(role, "id", None),
        session_policies=(UNAUTHED_SESSION_POLICY,)))
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


# -- signed-in staff: principal tags, logins, guests refused -----------------------------------
#
# A private dashboard's identity pool accepts only its user pool's members. What AWS does, and
# the emulator with it (Amazon Cognito Developer Guide, "Identity pools authentication flow",
# "Using attributes for access control"; API reference GetId, GetCredentialsForIdentity):
# - GetId without Logins, on a pool that does not allow unauthenticated identities, is refused
#   (NotAuthorizedException "Unauthenticated access is not supported for this identity pool.").
# - With Logins, the user pool's id token must be one the pool issued, unexpired, for an app
#   client the identity pool names; with ServerSideTokenCheck the user must still exist and be
#   enabled. The identity is then an authenticated one.
# - GetCredentialsForIdentity with that login gives credentials of the pool's authenticated
#   role (if its trust policy lets authenticated identities of this pool assume it, with
#   sts:TagSession when tags are passed), whose session carries the principal tags mapped from
#   the token's claims by SetPrincipalTagAttributeMap. No scope-down policy: AWS applies one to
#   guests only.

UNAUTHENTICATED_REFUSED = "Unauthenticated access is not supported for this identity pool."


def _principal_tag_maps(backend: Any) -> dict[tuple[str, str], dict[str, Any]]:
    store: dict[tuple[str, str], dict[str, Any]] | None = getattr(
        backend, "_inventory_principal_tags", None)
    if store is None:
        store = {}
        backend._inventory_principal_tags = store
    return store


def _authenticated_identities(backend: Any) -> dict[str, str]:
    """Identity id -> the login provider it was made with."""
    store: dict[str, str] | None = getattr(backend, "_inventory_logins", None)
    if store is None:
        store = {}
        backend._inventory_logins = store
    return store


def _not_authorized(message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError("NotAuthorizedException", message)


def _jwt_claims(token: str) -> dict[str, Any]:
    parts = token.split(".")
    return _token_claims(parts[1]) if len(parts) == 3 else {}


def verified_login(account_id: str, pool: Any,
                   logins: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The (provider, claims) of the one login the identity pool accepts; NotAuthorized else."""
    import time

    from moto.cognitoidp.models import cognitoidp_backends

    if not logins:
        raise _not_authorized(UNAUTHENTICATED_REFUSED)
    providers = {p.get("ProviderName"): p for p in pool.cognito_identity_providers or []}
    for provider, token in logins.items():
        config = providers.get(provider)
        if config is None:
            raise _not_authorized(f"Invalid login token. Provider {provider} is not configured "
                                  "for this identity pool.")
        region, _, user_pool_id = str(provider).removeprefix("cognito-idp.").partition(
            ".amazonaws.com/")
        try:
            user_pool = cognitoidp_backends[account_id][region].user_pools[user_pool_id]
        except KeyError:
            raise _not_authorized("Invalid login token. Not a valid user pool.") from None
        issued = user_pool.id_tokens.get(str(token))
        claims = _jwt_claims(str(token))
        if issued is None or claims.get("token_use") != "id":
            raise _not_authorized("Invalid login token. Not a valid OpenId Connect identity "
                                  "token.")
        if int(claims.get("exp", 0)) <= time.time():
            raise _not_authorized("Invalid login token. Token expired: the id token has "
                                  "expired.")
        if config.get("ClientId") and claims.get("aud") != config.get("ClientId"):
            raise _not_authorized("Invalid login token. Incorrect token audience.")
        if config.get("ServerSideTokenCheck"):
            user = user_pool._get_user(issued[1])
            if user is None or not user.enabled:
                raise _not_authorized("Invalid login token. The user no longer exists or is "
                                      "disabled.")
        return str(provider), claims
    raise _not_authorized(UNAUTHENTICATED_REFUSED)


def principal_tags_of(backend: Any, pool_id: str, provider: str,
                      claims: Mapping[str, Any]) -> dict[str, str]:
    """Session tags from the token's claims, as the pool's map says (defaults: username from
    sub, client from aud)."""
    stored = _principal_tag_maps(backend).get((pool_id, provider))
    mapping = (stored or {}).get("PrincipalTags") or {}
    if stored is None or stored.get("UseDefaults"):
        mapping = {"username": "sub", "client": "aud"}
    tags = {}
    for tag, claim in mapping.items():
        value = claims.get(claim)
        if isinstance(value, str) and value:
            tags[str(tag)] = value
    return tags


def _install_logins() -> None:
    from moto.cognitoidentity.models import cognitoidentity_backends
    from moto.cognitoidentity.responses import CognitoIdentityResponse

    def set_principal_tag_attribute_map(self: CognitoIdentityResponse) -> str:
        from moto.cognitoidentity.exceptions import ResourceNotFoundError

        pool_id = str(self._get_param("IdentityPoolId") or "")
        if pool_id not in self.backend.identity_pools:
            raise ResourceNotFoundError(pool_id)
        provider = str(self._get_param("IdentityProviderName") or "")
        stored = {"UseDefaults": bool(self._get_param("UseDefaults")),
                  "PrincipalTags": dict(self._get_param("PrincipalTags") or {})}
        _principal_tag_maps(self.backend)[(pool_id, provider)] = stored
        return json.dumps({"IdentityPoolId": pool_id, "IdentityProviderName": provider,
                           **stored})

    def get_principal_tag_attribute_map(self: CognitoIdentityResponse) -> str:
        from moto.cognitoidentity.exceptions import ResourceNotFoundError

        pool_id = str(self._get_param("IdentityPoolId") or "")
        if pool_id not in self.backend.identity_pools:
            raise ResourceNotFoundError(pool_id)
        provider = str(self._get_param("IdentityProviderName") or "")
        stored = _principal_tag_maps(self.backend).get(
            (pool_id, provider), {"UseDefaults": True, "PrincipalTags": {}})
        return json.dumps({"IdentityPoolId": pool_id, "IdentityProviderName": provider,
                           **stored})

    guest_get_id = CognitoIdentityResponse.get_id

    def get_id(self: CognitoIdentityResponse) -> str:
        pool_id = str(self._get_param("IdentityPoolId") or "")
        try:
            backend = cognitoidentity_backends[self.current_account][pool_id.partition(":")[0]]
            pool = backend.identity_pools.get(pool_id)
        except (KeyError, ValueError):
            pool = None
        logins = self._get_param("Logins") or {}
        if pool is None or (not logins and pool.allow_unauthenticated_identities):
            return guest_get_id(self)  # unknown pools answer ResourceNotFoundException there
        provider, _claims = verified_login(self.current_account, pool, logins)
        answer = json.loads(guest_get_id(self))
        _authenticated_identities(backend)[answer["IdentityId"]] = provider
        return json.dumps(answer)

    CognitoIdentityResponse.get_id = get_id  # type: ignore[method-assign]
    CognitoIdentityResponse.set_principal_tag_attribute_map = (  # type: ignore[attr-defined]
        set_principal_tag_attribute_map)
    CognitoIdentityResponse.get_principal_tag_attribute_map = (  # type: ignore[attr-defined]
        get_principal_tag_attribute_map)


def _authenticated_credentials(self: Any, identity_id: str, pool_id: str,
                               logins: Mapping[str, Any]) -> str:
    """Credentials of the pool's authenticated role for a verified login, with its tags."""
    import secrets
    import string

    pool = self.backend.identity_pools[pool_id]
    provider, claims = verified_login(self.current_account, pool, logins)
    if _authenticated_identities(self.backend).get(identity_id) != provider:
        raise _not_authorized("Logins don't match. Please include at least one valid login "
                              "for this identity or identity pool.")
    role_arn = str(_roles(self.backend).get(pool_id, {}).get("Roles", {}).get(
        "authenticated") or "")
    role = iam.role_named(self.current_account, role_arn) if role_arn else None
    tags = principal_tags_of(self.backend, pool_id, provider, claims)
    token = {"aud": pool_id, "sub": identity_id,
             "amr": ["authenticated", provider,
                     f"{provider}:CognitoSignIn:{claims.get('sub', '')}"]}
    if role is None or not _trust_allows(role.assume_role_policy_document, token) or (
            tags and not _trust_allows_tagging(role.assume_role_policy_document)):
        raise _not_authorized("Invalid identity pool configuration. Check assigned IAM roles "
                              "for this pool.")
    answer = json.loads(self.backend.get_credentials_for_identity(identity_id))
    alphabet = string.ascii_uppercase + string.digits
    key = "ASIASTAFF" + "".join(secrets.choice(alphabet) for _ in range(11))
    answer["Credentials"]["AccessKeyId"] = key
    answer["Credentials"]["SecretKey"] = secrets.token_urlsafe(30)
    iam.register_session(key, iam.Session(
        account_id=self.current_account, role_arn=role_arn,
        session_name=ENHANCED_FLOW_SESSION, role_id=getattr(role, "id", None),
        principal_tags=tuple(sorted(tags.items()))))
    return json.dumps(answer)


def _trust_allows_tagging(policy: Any) -> bool:
    """Session tags need sts:TagSession in the role's trust policy (IAM User Guide, "Passing
    session tags in AWS STS")."""
    document = json.loads(policy) if isinstance(policy, str) else policy or {}
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action")
        if statement.get("Effect") == "Allow" and "sts:TagSession" in (
                actions if isinstance(actions, list) else [actions]):
            return True
    return False


# -- staff invitations: AdminCreateUser e-mails a temporary password -----------------------------
#
# Cognito sends the invitation itself (the pool's InviteMessageTemplate, {username} and {####}
# filled in) unless MessageAction is SUPPRESS; RESEND sends a new temporary password to a user
# who has not signed in yet (UserStatus FORCE_CHANGE_PASSWORD) and keeps the user's attributes
# (Amazon Cognito API reference, AdminCreateUser). moto sends nothing, makes no password when
# none is given, and answers RESEND by making the user again without its attributes. On the
# emulator the e-mail goes to the outbox.

INVITATION_SOURCE = "cognito-idp"


def temporary_password() -> str:
    """A password that meets the stack's pool policy (12+, upper, lower, digit)."""
    import secrets
    import string

    alphabet = string.ascii_letters + string.digits
    body = "".join(secrets.choice(alphabet) for _ in range(12))
    return f"Tmp{body}7q"


def _send_invitation(pool: Any, user: Any, password: str) -> None:
    from inventory_cli.local.seam import attached

    outbox = attached.outbox
    attributes = {a["Name"]: a["Value"] for a in user.attributes or []}
    address = attributes.get("email")
    if outbox is None or not address:
        return
    template = (pool.extended_config.get("AdminCreateUserConfig") or {}).get(
        "InviteMessageTemplate") or {}
    message = str(template.get("EmailMessage")
                  or "Your username is {username} and temporary password is {####}.")
    outbox.append(topic_arn="", protocol="email", to=address,
                  subject=str(template.get("EmailSubject") or "Your temporary password"),
                  message=message.replace("{username}", str(user.username)).replace(
                      "{####}", password),
                  attributes={"source": INVITATION_SOURCE, "userPoolId": pool.id})


def install_invitations() -> None:
    from moto.cognitoidp.models import UserStatus
    from moto.cognitoidp.responses import CognitoIdpResponse
    from moto.core.exceptions import JsonRESTError
    from moto.core.responses import ActionResult

    upstream = CognitoIdpResponse.admin_create_user

    def admin_create_user(self: CognitoIdpResponse) -> Any:
        pool_id = self._get_param("UserPoolId")
        action = self._get_param("MessageAction")
        if action == "SUPPRESS":
            return upstream(self)
        pool = self.backend.describe_user_pool(pool_id)
        password = str(self._get_param("TemporaryPassword") or temporary_password())
        if action == "RESEND":
            user = self.backend.admin_get_user(pool_id, self._get_param("Username"))
            if user.status is not UserStatus.FORCE_CHANGE_PASSWORD:
                raise JsonRESTError("UnsupportedUserStateException",
                                    "Resend not possible. User has already signed in.")
            user.password = password
        else:
            user = self.backend.admin_create_user(pool_id, self._get_param("Username"), action,
                                                  password,
                                                  self._get_param("UserAttributes", []))
        _send_invitation(pool, user, password)
        return ActionResult({"User": user.to_json(extended=True)})

    CognitoIdpResponse.admin_create_user = admin_create_user  # type: ignore[method-assign]
