"""Lambda: functions, and what hangs on them (asynchronous retries and destination, invoke
permissions, stream mappings, a function URL)."""

from __future__ import annotations

from typing import Any

from inventory_cli.config import StackNames
from inventory_cli.stack.compare import canonical_policy
from inventory_cli.stack.instructions import APICall, Ref, Wait
from inventory_cli.stack.kinds.common import (
    Deleted,
    Kind,
    PlanContext,
    Planned,
    Skip,
    no_delete,
    ours_to_delete,
    owned_or_fail,
    settle,
)
from inventory_cli.stack.model import (
    EventInvokeConfigSpec,
    FunctionSpec,
    FunctionUrlSpec,
    InvokePermissionSpec,
    MappingSpec,
    RecursionConfigSpec,
)
from inventory_cli.stack.remote import RemoteState

_ENABLED_MAPPING_STATES = {"Enabled", "Enabling", "Creating", "Updating"}
_IGNORED_MAPPING_STATES = {"Deleting"}


def function_exists(remote: RemoteState, name: str) -> bool:
    return remote.function(name) is not None


def _recreated(name: str) -> str:
    return f"recreate-function:{name}"


def function_kept(remote: RemoteState, ctx: PlanContext, name: str) -> bool:
    """The function exists and this plan keeps it: what hangs on it (permissions, URL,
    asynchronous settings) is compared, not made anew. Its stream mappings outlive a deleted
    function (DeleteFunction leaves them), so mappings ask `function_exists`."""
    return function_exists(remote, name) and not ctx.values.get(_recreated(name))


# ---- functions -------------------------------------------------------------------------------

def plan_function(spec: FunctionSpec, remote: RemoteState, ctx: PlanContext) -> Planned:
    names, code, res, name = ctx.names, ctx.desired.code, spec.id, spec.name
    configuration = spec.configuration(names)
    active = Wait(res, "lambda", "function_active_v2", {"FunctionName": name},
                  f"wait until function {name} is active")
    updated = Wait(res, "lambda", "function_updated_v2", {"FunctionName": name},
                   f"wait until the update of function {name} is done")
    create = APICall(res, "lambda", "create_function",
                     {"FunctionName": name, "Code": {"ZipFile": code.data},
                      "Tags": dict(names.tags), **configuration},
                     f"create function {name} ({len(code.data)} byte zip)", creates=True)
    current = remote.function(name)
    if current is None:
        return [create, active]
    config = current["Configuration"]
    if config.get("State") == "Failed":
        return _recreate(spec, ctx, config, create)
    steps: Planned = []
    if config.get("CodeSha256") != code.code_sha256:
        steps += [APICall(res, "lambda", "update_function_code",
                          {"FunctionName": name, "ZipFile": code.data},
                          f"update the code of function {name}"), updated]
    changed = [key for key, value in configuration.items()
               if _function_setting(config, key) != value]
    if changed:
        steps += [APICall(res, "lambda", "update_function_configuration",
                          {"FunctionName": name, **configuration},
                          f"update {', '.join(changed)} of function {name}"), updated]
    if steps:
        # Lambda refuses updates while the function is still being created or updated.
        if config.get("State") != "Active":
            steps.insert(0, active)
        elif config.get("LastUpdateStatus") == "InProgress":
            steps.insert(0, updated)
    if not owned_or_fail(names, "function", name, dict(current.get("Tags") or {})):
        steps.append(APICall(res, "lambda", "tag_resource",
                             {"Resource": config["FunctionArn"], "Tags": dict(names.tags)},
                             f"tag function {name}"))
    return steps


def _recreate(spec: FunctionSpec, ctx: PlanContext, config: dict[str, Any],
              create: APICall) -> Planned:
    """A function Lambda reports as Failed (its creation failed) must be deleted and created
    again (Lambda developer guide, "Lambda function states",
    https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html). What goes with it
    (permissions, URL, asynchronous settings) is planned anew."""
    ctx.values[_recreated(spec.name)] = True
    reason = config.get("StateReason") or "no reason given"
    code = f" ({config['StateReasonCode']})" if config.get("StateReasonCode") else ""
    return [APICall(spec.id, "lambda", "delete_function", {"FunctionName": spec.name},
                    f"delete function {spec.name}, which Lambda reports as Failed: "
                    f"{reason}{code}"),
            APICall(create.resource, create.service, create.method, create.params,
                    f"create function {spec.name} again"),
            Wait(spec.id, "lambda", "function_active_v2", {"FunctionName": spec.name},
                 f"wait until function {spec.name} is active")]


def _function_setting(config: dict[str, Any], key: str) -> Any:
    if key == "Environment":
        return {"Variables": config.get("Environment", {}).get("Variables", {})}
    if key == "Description":
        return config.get("Description", "")
    return config.get(key)


def delete_function(spec: FunctionSpec, remote: RemoteState, names: StackNames) -> Deleted:
    """The function with its mappings (its URL configuration and permissions go with it)."""
    if remote.function(spec.name) is None:
        return []
    steps = _delete_mappings(spec.id, spec.name, remote, names)
    if any(isinstance(step, Skip) for step in steps):
        return steps
    steps.append(APICall(spec.id, "lambda", "delete_function", {"FunctionName": spec.name},
                         f"delete function {spec.name}"))
    return steps


def _delete_mappings(resource: str, function: str, remote: RemoteState,
                     names: StackNames) -> Deleted:
    current = remote.function(function)
    if current is None:
        return []
    skip = ours_to_delete(names, "function", function, dict(current.get("Tags") or {}))
    if skip:
        return [skip]
    return [APICall(resource, "lambda", "delete_event_source_mapping", {"UUID": m["UUID"]},
                    f"delete the mapping from {m.get('EventSourceArn')}")
            for m in remote.mappings(function) if m.get("State") != "Deleting"]


# ---- asynchronous invocations -----------------------------------------------------------------

def _on_failure(config: Any) -> str | None:
    """The on-failure destination of a DestinationConfig; AWS echoes an empty OnSuccess too."""
    if not isinstance(config, dict):
        return None
    destination = (config.get("OnFailure") or {}).get("Destination")
    return str(destination) if destination else None


def _destination_setting(config: dict[str, Any], key: str) -> Any:
    """A setting of an event invoke config or a mapping, DestinationConfig by its OnFailure."""
    if key == "DestinationConfig":
        return _on_failure(config.get(key))
    return config.get(key)


def plan_event_invoke_config(spec: EventInvokeConfigSpec, remote: RemoteState,
                             ctx: PlanContext) -> Planned:
    put = APICall(spec.id, "lambda", "put_function_event_invoke_config", spec.config,
                  spec.summary, creates=True)
    if not function_kept(remote, ctx, spec.function):
        return [put]
    current = remote.event_invoke_config(spec.function)
    if current is None:
        return [put]
    differs = [key for key in ("MaximumRetryAttempts", "DestinationConfig")
               if _destination_setting(current, key) != _destination_setting(spec.config, key)]
    if not differs:
        return []
    # Delete, then put: PutFunctionEventInvokeConfig replaces the whole configuration on AWS,
    # but moto 5.2.5 appends a second one and keeps answering with the first, so a plain put
    # would leave the emulator drifted for ever. The gap between the two calls costs nothing:
    # a failed event looks up its destination only once its retries are over.
    return [APICall(spec.id, "lambda", "delete_function_event_invoke_config",
                    {"FunctionName": spec.function},
                    f"remove the drifted {', '.join(differs)} of {spec.function}'s "
                    "asynchronous invocations"),
            APICall(put.resource, put.service, put.method, put.params, put.summary)]


# ---- recursive loop detection ---------------------------------------------------------------

def plan_recursion_config(spec: RecursionConfigSpec, remote: RemoteState,
                          ctx: PlanContext) -> Planned:
    """Lambda stops a chain of invocations it sees as a recursive loop after 16 of them unless
    the function's recursion config is Allow (Lambda developer guide, "Use Lambda recursive
    loop detection to prevent infinite loops",
    https://docs.aws.amazon.com/lambda/latest/dg/invocation-recursion.html). Read even for a
    function about to be created: an endpoint without the call has no such detection, and
    then there is nothing to set."""
    current = remote.recursion_config(spec.function)
    if current == "unsupported":
        ctx.inapplicable.append(spec.id)
        return []
    params = {"FunctionName": spec.function, "RecursiveLoop": spec.recursive_loop}
    if current is None or ctx.values.get(_recreated(spec.function)):
        return [APICall(spec.id, "lambda", "put_function_recursion_config", params,
                        spec.summary, creates=True)]
    if current != spec.recursive_loop:
        return [APICall(spec.id, "lambda", "put_function_recursion_config", params,
                        f"set the recursive loop handling of {spec.function} back to "
                        f"{spec.recursive_loop} (it is {current})")]
    return []


# ---- permissions ------------------------------------------------------------------------------

def _conditions(statement: dict[str, Any]) -> dict[str, str]:
    conditions: dict[str, str] = {}
    for block in (statement.get("Condition") or {}).values():
        conditions.update({k.lower(): v for k, v in block.items()})
    return conditions


def _is_service_invoke_statement(statement: dict[str, Any], spec: InvokePermissionSpec) -> bool:
    principal = statement.get("Principal")
    service = principal.get("Service") if isinstance(principal, dict) else principal
    conditions = _conditions(statement)
    return (statement.get("Effect") == "Allow"
            and service == spec.principal
            and canonical_policy([statement.get("Action")]) == "lambda:InvokeFunction"
            and conditions.get("aws:sourcearn") == spec.source_arn
            and conditions.get("aws:sourceaccount") == spec.source_account)


def plan_invoke_permission(spec: InvokePermissionSpec, remote: RemoteState,
                           ctx: PlanContext) -> Planned:
    def add(creates: bool) -> APICall:
        return APICall(spec.id, "lambda", "add_permission",
                       {"FunctionName": spec.function, "StatementId": spec.sid,
                        "Action": "lambda:InvokeFunction", "Principal": spec.principal,
                        "SourceArn": spec.source_arn, "SourceAccount": spec.source_account},
                       spec.summary, creates=creates)

    if not function_kept(remote, ctx, spec.function):
        return [add(True)]
    statement = next((s for s in remote.function_policy(spec.function).get("Statement", [])
                      if s.get("Sid") == spec.sid), None)
    if statement is None:
        return [add(True)]
    if _is_service_invoke_statement(statement, spec):
        return []
    return [APICall(spec.id, "lambda", "remove_permission",
                    {"FunctionName": spec.function, "StatementId": spec.sid},
                    f"remove the mis-scoped S3 permission of {spec.function}"),
            add(False)]


# ---- stream mappings --------------------------------------------------------------------------

def plan_mapping(spec: MappingSpec, remote: RemoteState, ctx: PlanContext) -> Planned:
    function, res = spec.function, spec.id
    stream_arn = ctx.values["stream_arn"]
    settings = spec.settings
    create = APICall(res, "lambda", "create_event_source_mapping",
                     {"EventSourceArn": stream_arn, "FunctionName": function,
                      "StartingPosition": spec.starting_position, "Enabled": True, **settings},
                     f"feed the stream of table {spec.table} to {function}", creates=True)
    if not function_exists(remote, function):
        return [create]
    # Listed by function only (not by stream too): that also finds mappings left from an
    # earlier incarnation of the table, whose stream no longer exists.
    mappings = [m for m in remote.mappings(function)
                if m.get("State") not in _IGNORED_MAPPING_STATES]
    ours = [m for m in mappings if m.get("EventSourceArn") == stream_arn]
    keep = ours[0] if ours else None
    steps: Planned = []
    for stale in mappings:
        if stale is keep:
            continue
        steps.append(APICall(res, "lambda", "delete_event_source_mapping",
                             {"UUID": stale["UUID"]},
                             f"delete the mapping {stale['UUID']} from "
                             f"{stale.get('EventSourceArn')} to {function}"))
    if keep is None:
        return [*steps, create]
    # Compare only what the service echoes back: moto 5.2.5 returns every one of these
    # (measured), but an emulator that drops a field must not make each run "update" it.
    differs = [key for key in settings
               if key in keep
               and _destination_setting(keep, key) != _destination_setting(settings, key)]
    if keep.get("StartingPosition", spec.starting_position) != spec.starting_position:
        # The starting position cannot be updated: replace the mapping.
        steps.append(APICall(res, "lambda", "delete_event_source_mapping",
                             {"UUID": keep["UUID"]},
                             f"delete the mapping {keep['UUID']} (wrong starting position)"))
        return [*steps, APICall(create.resource, create.service, create.method,
                                create.params, create.summary)]
    if keep.get("State") not in _ENABLED_MAPPING_STATES:
        differs.append("State")
    if differs:
        steps.append(APICall(res, "lambda", "update_event_source_mapping",
                             {"UUID": keep["UUID"], "FunctionName": function,
                              "Enabled": True, **settings},
                             f"reset {', '.join(differs)} of the mapping to {function}"))
    return steps


def delete_mapping(spec: MappingSpec, remote: RemoteState, names: StackNames) -> Deleted:
    """Every mapping of the function, before the function: no new invocations start while
    the rest goes away."""
    return _delete_mappings(spec.id, spec.function, remote, names)


# ---- function URLs ----------------------------------------------------------------------------

def _cors_key(cors: dict[str, Any] | None) -> Any:
    """A function URL's CORS in a comparable form (header names and methods ignore case)."""
    cors = cors or {}
    return (sorted(cors.get("AllowOrigins") or []),
            sorted(m.upper() for m in cors.get("AllowMethods") or []),
            sorted(h.lower() for h in cors.get("AllowHeaders") or []),
            cors.get("MaxAge"))


def _anyone(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    return principal == "*" or (isinstance(principal, dict) and principal.get("AWS") == "*")


def _is_public_url_statement(statement: dict[str, Any]) -> bool:
    """Anyone may invoke the URL, and only through a URL with AuthType NONE."""
    # moto keeps the parameter as sent instead of turning it into a condition.
    auth_type = _conditions(statement).get("lambda:functionurlauthtype",
                                           statement.get("FunctionUrlAuthType"))
    return (statement.get("Effect") == "Allow" and _anyone(statement) and auth_type == "NONE"
            and canonical_policy([statement.get("Action")]) == "lambda:InvokeFunctionUrl")


def _invoked_via_url(statement: dict[str, Any]) -> bool:
    """The statement holds only for invocations through a function URL (AWS writes the
    AddPermission parameter as the condition lambda:InvokedViaFunctionUrl; moto keeps it)."""
    value = _conditions(statement).get("lambda:invokedviafunctionurl",
                                       statement.get("InvokedViaFunctionUrl"))
    return value is True or str(value).lower() == "true"


def _is_public_invoke(statement: dict[str, Any]) -> bool:
    return (statement.get("Effect") == "Allow" and _anyone(statement)
            and canonical_policy([statement.get("Action")]) == "lambda:InvokeFunction")


def _is_url_invoke_statement(statement: dict[str, Any]) -> bool:
    """Anyone may invoke the function, but only through its URL."""
    return _is_public_invoke(statement) and _invoked_via_url(statement)


def _permission_steps(spec: FunctionUrlSpec, statements: dict[Any, dict[str, Any]], *,
                      new: bool) -> Planned:
    """The two public statements as they should be, and no public InvokeFunction without the
    URL condition. `statements`: the function's policy by Sid. `new`: nothing else of the URL
    exists or is planned, so adding its permission makes it (status: missing, not drifted)."""
    function, res = spec.function, spec.id

    def permit_url(creates: bool) -> APICall:
        return APICall(res, "lambda", "add_permission",
                       {"FunctionName": function, "StatementId": spec.sid,
                        "Action": "lambda:InvokeFunctionUrl", "Principal": "*",
                        "FunctionUrlAuthType": "NONE"},
                       f"allow anyone to call the URL of {function}", creates=creates)

    def permit_invoke(creates: bool) -> APICall:
        return APICall(res, "lambda", "add_permission",
                       {"FunctionName": function, "StatementId": spec.invoke_sid,
                        "Action": "lambda:InvokeFunction", "Principal": "*",
                        "InvokedViaFunctionUrl": True},
                       f"allow calls through the URL of {function}, and only those, to "
                       "invoke it", creates=creates)

    def remove(sid: str, why: str) -> APICall:
        return APICall(res, "lambda", "remove_permission",
                       {"FunctionName": function, "StatementId": sid},
                       f"remove the {why} permission {sid} of {function}")

    steps: Planned = []
    url_statement = statements.get(spec.sid)
    if url_statement is None:
        steps.append(permit_url(new))
    elif not _is_public_url_statement(url_statement):
        steps += [remove(spec.sid, "mis-scoped URL"), permit_url(False)]
    invoke_statement = statements.get(spec.invoke_sid)
    if invoke_statement is None:
        steps.append(permit_invoke(new and url_statement is None))
    elif not _is_url_invoke_statement(invoke_statement):
        steps += [remove(spec.invoke_sid, "mis-scoped invoke"), permit_invoke(False)]
    for sid, statement in sorted(statements.items(), key=lambda item: str(item[0])):
        if sid != spec.invoke_sid and _is_public_invoke(statement) \
                and not _invoked_via_url(statement):
            steps.append(remove(str(sid), "public (not limited to the URL) invoke"))
    return steps


def plan_function_url(spec: FunctionUrlSpec, remote: RemoteState, ctx: PlanContext) -> Planned:
    """The URL (AuthType NONE, CORS for the dashboard) and the two public permissions a URL
    with AuthType NONE needs since October 2025: lambda:InvokeFunctionUrl with
    FunctionUrlAuthType NONE, and lambda:InvokeFunction with InvokedViaFunctionUrl (Lambda
    developer guide, "Control access to Lambda function URLs",
    https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html). A public InvokeFunction
    without that condition would let anyone invoke the function directly: it is removed.

    Publishes `store_upload_url`: the emulator's own route locally, else the URL Lambda chose
    (a Ref until it is created)."""
    function, res = spec.function, spec.id
    url_ref = Ref("store_upload_url")
    # The dashboard's origin may be a distribution's, not yet created (a Rendered).
    config = settle(spec.config, ctx.values)

    def create() -> APICall:
        return APICall(res, "lambda", "create_function_url_config",
                       {"FunctionName": function, **config},
                       f"give function {function} a public URL (the key is checked inside)",
                       creates=True, outputs=(("store_upload_url", ("FunctionUrl",)),))

    if not function_kept(remote, ctx, function):
        ctx.values["store_upload_url"] = spec.local_url or url_ref
        return [create(), *_permission_steps(spec, {}, new=True)]
    steps: Planned = []
    current = remote.function_url(function)
    url: str | Ref
    if current is None:
        steps.append(create())
        url = url_ref
    else:
        url = str(current["FunctionUrl"]).rstrip("/")
        if current.get("AuthType") != config["AuthType"] \
                or _cors_key(current.get("Cors")) != _cors_key(config["Cors"]):
            steps.append(APICall(res, "lambda", "update_function_url_config",
                                 {"FunctionName": function, **config},
                                 f"reset the auth type and CORS of the URL of {function}"))
    policy = remote.function_policy(function)
    statements = {s.get("Sid"): s for s in policy.get("Statement", [])}
    steps += _permission_steps(spec, statements, new=not steps)
    ctx.values["store_upload_url"] = spec.local_url or url
    return steps


KINDS = {
    FunctionSpec.kind: Kind(plan_function, delete_function),
    # These go with their function.
    EventInvokeConfigSpec.kind: Kind(plan_event_invoke_config, no_delete),
    InvokePermissionSpec.kind: Kind(plan_invoke_permission, no_delete),
    RecursionConfigSpec.kind: Kind(plan_recursion_config, no_delete),
    FunctionUrlSpec.kind: Kind(plan_function_url, no_delete),
    MappingSpec.kind: Kind(plan_mapping, delete_mapping),
}
