"""Facts other commands read from a deployed stack (the stack itself is the only state)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from inventory_cli.aws import Aws
from inventory_cli.stack.compare import is_not_found
from lambda_src.environment import threshold_from_env


def checker_variables(aws: Aws) -> dict[str, str] | None:
    """The check function's environment variables, or None if there is no checker.

    The checker's environment is the one place the threshold is kept (see the team contract);
    the everyday commands also use the checker to recognise that a stack exists.
    """
    try:
        config = aws.client("lambda").get_function_configuration(
            FunctionName=aws.names.check_function)
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise
    return dict(config.get("Environment", {}).get("Variables", {}))


def deployed_threshold(aws: Aws) -> int | None:
    """The low-stock threshold the checker runs with, or None if there is no checker yet."""
    variables = checker_variables(aws)
    if variables is None:
        return None
    try:
        return threshold_from_env(variables)
    except ValueError:
        return 0  # a hand-edited, unparsable value: the checker's own default


def _table_tags(aws: Aws) -> dict[str, str] | None:
    """The inventory table's tags, where a stack keeps its choices; None if there is no table."""
    from inventory_cli.stack.compare import tag_dict

    ddb = aws.client("dynamodb")
    try:
        arn = ddb.describe_table(TableName=aws.names.table)["Table"]["TableArn"]
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise
    return tag_dict(ddb.list_tags_of_resource(ResourceArn=arn).get("Tags", []))


def deployed_dashboard(aws: Aws) -> bool | None:
    """Whether the stack has (or should have) its dashboard; None if there is no table yet.

    A stack provisioned with --no-dashboard carries the tag `inventory:dashboard=off` on its
    inventory table; a table without it (every stack before that option) has a dashboard.
    """
    from inventory_cli.stack.resources import DASHBOARD_OFF, DASHBOARD_TAG

    tags = _table_tags(aws)
    return None if tags is None else tags.get(DASHBOARD_TAG) != DASHBOARD_OFF


def deployed_dashboard_access(aws: Aws) -> str | None:
    """"private" or "public" as the stack was made; None if there is no table yet (a new stack).

    A private stack carries `inventory:dashboard-access=private` on its inventory table; a
    table without it (every stack made before the private mode, and `--public-dashboard`
    stacks) is public.
    """
    from inventory_cli.stack.resources import DASHBOARD_ACCESS_TAG, PRIVATE, PUBLIC

    tags = _table_tags(aws)
    if tags is None:
        return None
    return PRIVATE if tags.get(DASHBOARD_ACCESS_TAG) == PRIVATE else PUBLIC


def dashboard_url_of(aws: Aws, access: str | None = None) -> str:
    """Where the page is: S3 (public) or CloudFront (private) on AWS; the emulator's own
    address locally. `access=None`: the stack's mode as deployed."""
    from inventory_cli.dashboard import dashboard_url
    from inventory_cli.stack.resources import PRIVATE, PUBLIC

    if access is None:
        # No table (a bucket made by hand, a stack half torn down): unmarked, so public.
        access = deployed_dashboard_access(aws) or PUBLIC
    endpoint = aws.endpoint_url if aws.is_local else None
    if access == PRIVATE:
        return private_dashboard_url(aws, endpoint)
    return dashboard_url(bucket=aws.names.dashboard_bucket, region=aws.region,
                         endpoint=endpoint)


def private_dashboard_url(aws: Aws, endpoint: str | None) -> str:
    """The emulator's stand-in for CloudFront, or the distribution's https address (a note
    while the distribution does not exist yet)."""
    from inventory_cli.dashboard import cdn_url
    from inventory_cli.stack.remote import RemoteState
    from inventory_cli.stack.resources import distribution_comment

    if endpoint is not None:
        return cdn_url(bucket=aws.names.dashboard_bucket, endpoint=endpoint)
    found = RemoteState(aws.client).distribution(distribution_comment(aws.names))
    if found is None:
        return "(no CloudFront distribution yet: run `inventory provision`)"
    return cdn_url(bucket=aws.names.dashboard_bucket, domain=found["DomainName"])
