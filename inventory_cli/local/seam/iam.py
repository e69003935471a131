"""IAM in moto: policy evaluation, and the emulator enforcing roles as AWS does.

- Bucket policies: a Deny conditioned on keys moto never supplies (aws:SecureTransport) is
  skipped instead of denying everything (see `install_conditional_bucket_policy_denies`).
- Roles: every request signed with a key that STS issued on the emulator (AssumeRole,
  AssumeRoleWithWebIdentity: the functions' and the dashboard's basic-flow guests' keys) or that
  Cognito issued (GetCredentialsForIdentity: enhanced-flow guests) is checked against the policies
  of the role the key belongs to, at the time of the request (`install_role_enforcement`). Any
  other key is the operator's and passes unchecked, as an administrator's would on AWS.
  `INVENTORY_EMULATOR_ENFORCE_IAM=0` in the emulator's environment turns the checks off.

Why not moto's own access control (moto/iam/access_control.py): it is switched on for the whole
process (`INITIAL_NO_AUTH_ACTION_COUNT`), after which every key must belong to an IAM user or an
assumed role, so the operator's key would be refused; it checks only the resource "*" for every
service but S3 (a policy naming a table or a topic never matches), evaluates no condition of a
request (`s3:prefix`), knows no session policy (the enhanced flow's scope-down), does not know
Cognito's keys, and its refusal names no resource. What it does offer, the point where every
request is authorised (`ActionAuthenticatorMixin._authenticate_and_authorize_action`, called
with the action of every service and with the bucket/key ARN for S3), is where the evaluator
below is called, per request.

The evaluation follows IAM's policy evaluation logic (IAM User Guide, "Policy evaluation logic"):
an explicit Deny in any policy wins; otherwise an Allow in the role's identity-based policies is
needed, and, for a session with a session policy, an Allow in that too (the effective
permissions are the intersection). Resource-based policies (bucket, function, topic policies)
grant nothing extra here: the stack grants its roles nothing through them.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

logger = logging.getLogger(__name__)

ENFORCE_ENV = "INVENTORY_EMULATOR_ENFORCE_IAM"


def enforcing() -> bool:
    """Whether roles are enforced (default on; `INVENTORY_EMULATOR_ENFORCE_IAM=0` turns it off,
    for diagnosis). Read per request, like every switch of the emulator."""
    return os.environ.get(ENFORCE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


# -- sessions: the keys STS and Cognito issued, and whose role each one carries ---------------

@dataclass(frozen=True)
class Session:
    """One set of temporary credentials: the role they act as and the session's own policies."""

    account_id: str
    role_arn: str
    session_name: str
    # The role's unique id when the session began: a role deleted and made again with the same
    # name is another role, and the old sessions do not act as it.
    role_id: str | None = None
    # Session policies (JSON documents): the effective permissions are their intersection with
    # the role's (AssumeRole's Policy parameter; Cognito's scope-down for enhanced-flow guests).
    session_policies: tuple[str, ...] = field(default=())
    # Session (principal) tags: (key, value), as `aws:PrincipalTag/<key>` in conditions and
    # policy variables (a Cognito identity pool's principal tags).
    principal_tags: tuple[tuple[str, str], ...] = field(default=())

    @property
    def arn(self) -> str:
        role_name = self.role_arn.rsplit("/", 1)[-1] or "unknown"
        return f"arn:aws:sts::{self.account_id}:assumed-role/{role_name}/{self.session_name}"


_sessions: dict[str, Session] = {}
_sessions_lock = threading.Lock()


def register_session(access_key_id: str, session: Session) -> None:
    with _sessions_lock:
        _sessions[access_key_id] = session


def session_for_key(access_key_id: str | None) -> Session | None:
    """The session of a key the emulator issued; None for any other key (the operator's)."""
    if not access_key_id:
        return None
    with _sessions_lock:
        return _sessions.get(access_key_id)


def role_named(account_id: str, role_arn: str) -> Any:
    """moto's role of that ARN, or None."""
    from moto.iam.models import iam_backends

    try:
        return iam_backends[account_id]["aws"].get_role_by_arn(role_arn)
    except Exception:  # noqa: BLE001 - moto raises several kinds for "no role"
        return None


# -- the credentials a function runs with ---------------------------------------------------

# Lambda hands each execution environment the role's credentials in AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (Lambda Developer Guide, "Defined runtime
# environment variables"); the session is named after the function.
_FUNCTION_SESSION_S = 12 * 3600
_function_credentials: dict[tuple[str, str, str, str | None], dict[str, str]] = {}
_function_credentials_lock = threading.Lock()


def function_credentials(*, account_id: str, region: str, role_arn: str,
                         function_name: str) -> dict[str, str]:
    """Temporary credentials of the function's execution role (STS AssumeRole on the
    emulator), the same ones for as long as the role is the same role."""
    from moto.sts.models import sts_backends

    role = role_named(account_id, role_arn)
    cache_key = (account_id, role_arn, function_name, getattr(role, "id", None))
    with _function_credentials_lock:
        found = _function_credentials.get(cache_key)
        if found is not None:
            return found
        assumed = sts_backends[account_id]["aws"].assume_role(
            region_name=region, role_session_name=function_name, role_arn=role_arn,
            policy=None, duration=_FUNCTION_SESSION_S, external_id=None)  # type: ignore[arg-type]
        credentials = {"AWS_ACCESS_KEY_ID": assumed.access_key_id,
                       "AWS_SECRET_ACCESS_KEY": assumed.secret_access_key,
                       "AWS_SESSION_TOKEN": assumed.session_token}
        _function_credentials[cache_key] = credentials
        return credentials


def function_of_key(access_key_id: str | None) -> str | None:
    """The function whose execution-role credentials carry this key (the meter's caller);
    None for any other key."""
    if not access_key_id:
        return None
    with _function_credentials_lock:
        for (_, _, function_name, _), credentials in _function_credentials.items():
            if credentials.get("AWS_ACCESS_KEY_ID") == access_key_id:
                return function_name
    return None


def session_of_credentials(credentials: Mapping[str, str]) -> Session | None:
    return session_for_key(credentials.get("AWS_ACCESS_KEY_ID"))


def install_sts_sessions() -> None:
    """Every AssumeRole and AssumeRoleWithWebIdentity on the emulator records its session."""
    from moto.sts.models import STSBackend

    upstream = STSBackend.assume_role

    @functools.wraps(upstream)
    def assume_role(self: STSBackend, **kwargs: Any) -> Any:  # moto passes keywords only
        assumed = upstream(self, **kwargs)
        policy = kwargs.get("policy")
        role = role_named(assumed.account_id, assumed.role_arn)
        register_session(assumed.access_key_id, Session(
            account_id=assumed.account_id, role_arn=assumed.role_arn,
            session_name=assumed.session_name, role_id=getattr(role, "id", None),
            session_policies=(str(policy),) if policy else ()))
        return assumed

    STSBackend.assume_role = assume_role  # type: ignore[method-assign,assignment]


_policy_listeners: list[Callable[[], None]] = []


def on_role_policy_change(listener: Callable[[], None]) -> None:
    """Call `listener` after any change to a role's policies (what Lambda's pollers notice by
    retrying)."""
    if listener not in _policy_listeners:
        _policy_listeners.append(listener)


def install_role_policy_notices() -> None:
    from moto.iam.models import IAMBackend

    def noticed(method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            for listener in list(_policy_listeners):
                try:
                    listener()
                except Exception:  # noqa: BLE001 - a listener must not fail the IAM call
                    logger.exception("a role policy listener failed")
            return result
        return call

    for name in ("put_role_policy", "delete_role_policy", "attach_role_policy",
                 "detach_role_policy", "create_policy_version", "set_default_policy_version"):
        setattr(IAMBackend, name, noticed(getattr(IAMBackend, name)))


# -- policy evaluation ----------------------------------------------------------------------

@dataclass(frozen=True)
class Refusal:
    """Why a request is refused, in AWS's words (IAM User Guide, "Troubleshooting access denied
    error messages")."""

    principal: str
    action: str
    resource: str
    reason: str  # "no identity-based policy allows", "with an explicit deny in ...", ...
    quote_resource: bool = False  # S3 writes the resource in quotes

    @property
    def message(self) -> str:
        resource = f'"{self.resource}"' if self.quote_resource else self.resource
        if self.reason.startswith("with "):
            because = self.reason
        else:
            because = f"because {self.reason} the {self.action} action"
        return (f"User: {self.principal} is not authorized to perform: {self.action} "
                f"on resource: {resource} {because}")


@dataclass(frozen=True)
class Want:
    """One permission a request needs: an action on a resource, with its condition keys."""

    action: str
    resource: str
    context: Mapping[str, Sequence[str]] = field(default_factory=dict)


def role_documents(session: Session) -> list[Any] | None:
    """The role's identity-based policies as parsed documents; None if the role is gone."""
    role = role_named(session.account_id, session.role_arn)
    if role is None or (session.role_id is not None and role.id != session.role_id):
        return None
    documents = [_parsed(text) for text in role.policies.values()]
    for managed in role.managed_policies.values():
        version = next((v for v in managed.versions if v.is_default), None)
        if version is not None:
            documents.append(_parsed(version.document))
    return documents


def _parsed(document: Any) -> Any:
    if isinstance(document, str):
        return _parsed_text(document)
    return document


@functools.lru_cache(maxsize=1024)
def _parsed_text(document: str) -> Any:
    """A policy's text, parsed once: every request of a role's session is checked against its
    policies (the parsed documents are only read)."""
    try:
        return json.loads(unquote(document) if document.startswith("%7B") else document)
    except ValueError:
        logger.warning("an unreadable policy document grants nothing: %.80s", document)
        return {}


def check(session: Session, want: Want) -> Refusal | None:
    """None if `session` may do `want`, else the refusal AWS would answer."""
    context = {"aws:securetransport": ["true"], "aws:principalarn": [session.role_arn],
               **{f"aws:principaltag/{k.lower()}": [v] for k, v in session.principal_tags},
               **{k.lower(): list(v) for k, v in want.context.items()}}
    denied = _refusal(session, want)
    documents = role_documents(session)
    if documents is None:
        return denied("no identity-based policy allows")
    verdict = _decide(documents, want.action, want.resource, context)
    if verdict == "deny":
        return denied("with an explicit deny in an identity-based policy")
    if verdict is None:
        return denied("no identity-based policy allows")
    for text in session.session_policies:
        verdict = _decide([_parsed(text)], want.action, want.resource, context)
        if verdict == "deny":
            return denied("with an explicit deny in a session policy")
        if verdict is None:
            return denied("no session policy allows")
    return None


def first_refusal(session: Session, wants: Iterable[Want]) -> Refusal | None:
    for want in wants:
        refusal = check(session, want)
        if refusal is not None:
            return refusal
    return None


def _refusal(session: Session, want: Want) -> Callable[[str], Refusal]:
    quote = want.action.lower().startswith("s3:")
    return lambda reason: Refusal(session.arn, want.action, want.resource, reason, quote)


def _decide(documents: Iterable[Any], action: str, resource: str,
            context: Mapping[str, Sequence[str]]) -> str | None:
    """The verdict of some policies: "deny" (an explicit Deny applies), "allow" (an Allow
    applies and no Deny) or None (nothing applies: an implicit deny)."""
    allowed = False
    for document in documents:
        statements = document.get("Statement", []) if isinstance(document, Mapping) else []
        for statement in statements if isinstance(statements, list) else [statements]:
            if not isinstance(statement, Mapping) or not _applies(statement, action, resource,
                                                                   context):
                continue
            if statement.get("Effect") == "Deny":
                return "deny"
            allowed = allowed or statement.get("Effect") == "Allow"
    return "allow" if allowed else None


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _applies(statement: Mapping[str, Any], action: str, resource: str,
             context: Mapping[str, Sequence[str]]) -> bool:
    # Action names are case-insensitive, resource ARNs are not (IAM JSON policy elements).
    if "NotAction" in statement:
        if any(_like(p, action, ignore_case=True) for p in _as_list(statement["NotAction"])):
            return False
    elif not any(_like(p, action, ignore_case=True) for p in _as_list(statement.get("Action"))):
        return False
    if "NotResource" in statement:
        if any(_like(p, resource) for p in _substituted(statement["NotResource"], context)):
            return False
    elif not any(_like(p, resource) for p in _substituted(statement.get("Resource"), context)):
        return False
    return _conditions_hold(statement.get("Condition") or {}, context)


_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def _substituted(values: Any, context: Mapping[str, Sequence[str]]) -> list[str]:
    """Patterns with their policy variables (`${aws:PrincipalTag/store1}`, with an optional
    `, 'default'`) replaced by the request's values. A variable with no value and no default
    leaves nothing to match: that pattern is dropped (IAM User Guide, "IAM policy elements:
    Variables and tags", policy variables with no value and default values)."""
    result = []
    for value in _as_list(values):
        missing = False

        def replace(match: re.Match[str]) -> str:
            nonlocal missing
            key, _, default = match.group(1).partition(",")
            found = list(context.get(key.strip().lower(), []))
            if len(found) == 1:
                return found[0]
            default = default.strip()
            if len(default) >= 2 and default[0] == default[-1] == "'":
                return default[1:-1]
            missing = True  # no value, or a multivalued key: not substituted
            return ""

        text = _VARIABLE.sub(replace, value) if "${" in value else value
        if not missing:
            result.append(text)
    return result


_pattern_cache: dict[tuple[str, bool], re.Pattern[str]] = {}


def _like(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcards: `*` any run of characters, `?` any one character."""
    compiled = _pattern_cache.get((pattern, ignore_case))
    if compiled is None:
        body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        compiled = re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)
        _pattern_cache[(pattern, ignore_case)] = compiled
    return compiled.fullmatch(value) is not None


_NEGATED = ("StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals",
            "ArnNotLike", "NumericNotEquals")


def _conditions_hold(conditions: Mapping[str, Any], context: Mapping[str, Sequence[str]]) -> bool:
    """Every condition operator block holds (IAM JSON policy elements: Condition operators).
    A key absent from the request: false for a positive operator, true for a negated one or
    with ...IfExists."""
    for operator, block in conditions.items():
        if not isinstance(block, Mapping):
            return False
        qualifier, _, name = operator.rpartition(":")
        if_exists = name.endswith("IfExists")
        name = name.removesuffix("IfExists")
        for key, expected in block.items():
            values = list(context.get(str(key).lower(), []))
            if not values and name != "Null":
                # ForAllValues holds for a key absent or empty: every one of no values
                # matches (IAM User Guide, "Set operators for multivalued context keys").
                if not (if_exists or name in _NEGATED or qualifier == "ForAllValues"):
                    return False
                continue
            if not _operator_holds(name, qualifier, values, _substituted(expected, context)):
                return False
    return True


def _operator_holds(name: str, qualifier: str, values: list[str], expected: list[str]) -> bool:
    compare = _OPERATORS.get(name)
    if compare is None:
        logger.warning("condition operator %s is not evaluated by the emulator: it does not "
                       "hold", name)
        return False
    if name == "Null":
        return (not values) == (expected[0].lower() == "true")
    negated = name in _NEGATED

    def one(value: str) -> bool:
        matched = any(compare(pattern, value) for pattern in expected)
        return not matched if negated else matched

    if qualifier == "ForAllValues":
        return all(one(v) for v in values)
    return any(one(v) for v in values)  # single-valued keys and ForAnyValue alike


def _numeric(op: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    def compare(expected: str, value: str) -> bool:
        try:
            return op(float(value), float(expected))
        except ValueError:
            return False
    return compare


def _same(expected: str, value: str) -> bool:
    return expected == value


def _same_ignoring_case(expected: str, value: str) -> bool:
    return expected.lower() == value.lower()


# Negated operators compare like their positive form; `_operator_holds` negates.
_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": _same,
    "StringNotEquals": _same,
    "StringEqualsIgnoreCase": _same_ignoring_case,
    "StringNotEqualsIgnoreCase": _same_ignoring_case,
    "StringLike": _like,
    "StringNotLike": _like,
    "ArnEquals": _same,
    "ArnNotEquals": _same,
    "ArnLike": _like,
    "ArnNotLike": _like,
    "Bool": _same_ignoring_case,
    "NumericEquals": _numeric(lambda v, e: v == e),
    "NumericNotEquals": _numeric(lambda v, e: v == e),
    "NumericLessThan": _numeric(lambda v, e: v < e),
    "NumericLessThanEquals": _numeric(lambda v, e: v <= e),
    "NumericGreaterThan": _numeric(lambda v, e: v > e),
    "NumericGreaterThanEquals": _numeric(lambda v, e: v >= e),
    "Null": lambda e, v: True,
}


# -- requests: who signed them, what they need, how a refusal is answered ------------------

# What one service's request needs (the request's moto response object and the resource moto
# computed, the bucket or object ARN for S3), and how that service answers a refusal.
Describe = Callable[[Any, str], list[Want]]
Refuse = Callable[[Refusal], Exception]
_services: dict[str, tuple[Describe, Refuse]] = {}


def register_service(response_class: str, describe: Describe, refuse: Refuse) -> None:
    """Called by each service module's install: how its requests are checked."""
    _services[response_class] = (describe, refuse)


# How a service answers a request signed by no one (the resource moto computed): None to let
# it through, else the error to raise.
Anonymous = Callable[[Any, str], Exception | None]
_anonymous: dict[str, Anonymous] = {}


def register_anonymous(response_class: str, check_anonymous: Anonymous) -> None:
    _anonymous[response_class] = check_anonymous


def decide(documents: Iterable[Any], action: str, resource: str,
           context: Mapping[str, Sequence[str]]) -> str | None:
    """The verdict of some policies on one request: "allow", "deny" or None (see `_decide`)."""
    return _decide(documents, action, resource, context)


def json_refusal(error_type: str, status: int) -> Refuse:
    """A refusal of a JSON protocol service: {"__type", "message"} with `status`."""
    def refuse(refusal: Refusal) -> Exception:
        from moto.core.exceptions import JsonRESTError

        error = JsonRESTError(error_type, refusal.message)
        error.code = status
        return error
    return refuse


def query_refusal(code: str, status: int) -> Refuse:
    """A refusal of a query (XML) protocol service: ErrorResponse/Error/Code."""
    def refuse(refusal: Refusal) -> Exception:
        from moto.core.exceptions import _RESTError

        error = _RESTError(code, refusal.message)
        error.code = status
        return error
    return refuse


def request_access_key(response: Any) -> str | None:
    """The access key that signed a request: the Authorization header's credential (SigV4, or
    SigV2's "AWS key:signature"), or a presigned URL's X-Amz-Credential (or AWSAccessKeyId)."""
    headers = getattr(response, "headers", None) or {}
    authorization = str(headers.get("Authorization") or headers.get("authorization") or "")
    if "Credential=" in authorization:
        return authorization.partition("Credential=")[2].partition("/")[0] or None
    if authorization.startswith("AWS "):
        return authorization[4:].partition(":")[0] or None
    from urllib.parse import parse_qs, urlparse

    query = parse_qs(urlparse(str(getattr(response, "uri", "") or "")).query)
    credential = (query.get("X-Amz-Credential") or query.get("x-amz-credential") or [""])[0]
    return credential.partition("/")[0] or (query.get("AWSAccessKeyId") or [""])[0] or None


def _signing_service(response: Any) -> str:
    headers = getattr(response, "headers", None) or {}
    authorization = str(headers.get("Authorization") or headers.get("authorization") or "")
    scope = authorization.partition("Credential=")[2].partition(",")[0].split("/")
    return scope[3] if len(scope) > 3 else str(getattr(response, "service_name", "") or "")


def install_role_enforcement() -> None:
    """Check every request signed with an issued key against its role, where moto authorises
    each request (see the module's docstring)."""
    from moto.core.authorization import ActionAuthenticatorMixin

    upstream = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        upstream(self, iam_request_cls, resource)
        if not enforcing():
            return
        key = request_access_key(self)
        session = session_for_key(key)
        if session is None:
            anonymous = _anonymous.get(type(self).__name__)
            if key is None and anonymous is not None:
                error = anonymous(self, resource)
                if error is not None:
                    logger.info("refused an anonymous request for %s", resource)
                    raise error
            return
        action = str(self._get_action() or "")
        if action == "GetCallerIdentity":  # always allowed, even under an explicit Deny
            return
        describe, refuse = _services.get(type(self).__name__, (None, None))
        if describe is None or refuse is None:
            wants = [Want(f"{_signing_service(self)}:{action}", "*")]
            content_type = str((getattr(self, "headers", None) or {}).get("Content-Type", ""))
            refuse = (json_refusal("AccessDeniedException", 400) if "json" in content_type
                      else query_refusal("AccessDenied", 403))
        else:
            wants = describe(self, resource)
        refusal = first_refusal(session, wants)
        if refusal is not None:
            logger.info("refused: %s", refusal.message)
            raise refuse(refusal)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize  # type: ignore[method-assign]


def install_conditional_bucket_policy_denies() -> None:
    """A Deny statement conditioned on keys moto never supplies does not apply (stack part).

    moto 5.2.5 checks a condition only against the values a caller passes in, and treats a key
    with no value as satisfied. S3 passes none, so the deny-non-TLS statement AWS recommends
    (`"Bool": {"aws:SecureTransport": "false"}`, on both buckets `inventory provision` creates)
    denied every object read and write. A Deny whose condition cannot be evaluated is skipped.
    """
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    original = IAMPolicyStatement.is_action_permitted

    def is_action_permitted(self: IAMPolicyStatement, action: str, resource: str = "*",
                            principal: str | None = None,
                            incoming_condition_values: dict[str, str] | None = None,
                            ) -> PermissionResult:
        result = original(self, action, resource, principal, incoming_condition_values)
        statement = self._statement
        if result == PermissionResult.DENIED and statement.get("Effect") == "Deny":
            keys = {key for block in (statement.get("Condition") or {}).values()
                    for key in block}
            if keys and not keys & set(incoming_condition_values or {}):
                return PermissionResult.NEUTRAL
        return result

    IAMPolicyStatement.is_action_permitted = is_action_permitted  # type: ignore[method-assign]
