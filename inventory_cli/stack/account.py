"""Account-wide settings that decide whether a stack can be built at all, checked before
anything is created.

S3 Block Public Access can be set for the whole account (S3 Control
`GetPublicAccessBlock`). Only a public dashboard (`--public-dashboard`) needs a public bucket: a
private one is served by CloudFront.
With `BlockPublicPolicy` on, S3 refuses the dashboard bucket's public-read policy (AccessDenied,
after the uploads bucket, table, functions ... were already made); with `RestrictPublicBuckets`
on, the policy is ignored and the page cannot be read by anyone. Either way the choice is the
account owner's: allow public bucket policies, or provision without the dashboard.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from botocore.exceptions import ClientError

from inventory_cli.aws import Aws, error_code
from inventory_cli.errors import InventoryError

_BLOCKING = ("BlockPublicPolicy", "RestrictPublicBuckets")


class AccountBlocksPublicDashboard(InventoryError):
    """The account's S3 Block Public Access forbids the dashboard's public bucket policy."""


def account_public_access_block(aws: Aws) -> dict[str, bool] | None:
    """The account-level S3 Block Public Access settings; None if the account has none, if this
    identity may not read them (then the bucket policy step says what it may be), or if an
    emulator endpoint does not answer the call."""
    client = aws.client("s3control")
    if aws.endpoint_url:
        _send_to_the_endpoint_itself(client, aws.endpoint_url)
    try:
        answer = client.get_public_access_block(AccountId=aws.account_id)
    except ClientError as exc:
        # An emulator without S3 Control has no account-wide block either.
        if error_code(exc) in {"NoSuchPublicAccessBlockConfiguration", "AccessDenied"} \
                or aws.endpoint_url:
            return None
        raise
    return {k: bool(v) for k, v in answer["PublicAccessBlockConfiguration"].items()}


def check_public_dashboard_allowed(aws: Aws, *, sets_dashboard_policy: bool) -> None:
    """Raise `AccountBlocksPublicDashboard` if the account keeps the dashboard from being public.

    `sets_dashboard_policy`: whether this run would (re)write the dashboard bucket's policy;
    BlockPublicPolicy only refuses new policies, RestrictPublicBuckets disables existing ones.
    """
    settings = account_public_access_block(aws)
    if not settings:
        return
    blocking = [key for key in _BLOCKING if settings.get(key)]
    if not blocking or blocking == ["BlockPublicPolicy"] and not sets_dashboard_policy:
        return
    keep = ",".join(f"{key}={str(settings.get(key, False)).lower()}"
                    for key in ("BlockPublicAcls", "IgnorePublicAcls"))
    command = (f"aws s3control put-public-access-block --account-id {aws.account_id} "
               f"--public-access-block-configuration "
               f"{keep},BlockPublicPolicy=false,RestrictPublicBuckets=false")
    raise AccountBlocksPublicDashboard(
        f"account {aws.account_id} blocks public bucket policies (S3 Block Public Access for "
        f"the account: {', '.join(blocking)}), so the dashboard page cannot be public; "
        "nothing was created",
        hint=f"either allow public bucket policies for the account (`{command}`; public ACLs "
             "stay as they are), or keep the dashboard private (staff sign in; it needs no "
             "public bucket): `inventory provision --private-dashboard`, or provision without "
             "the dashboard: `inventory provision --no-dashboard`")


def _send_to_the_endpoint_itself(client: Any, endpoint: str) -> None:
    """S3 Control puts the account id in front of the host (`123456789012.127.0.0.1:4599`),
    which no emulator endpoint resolves; send its requests to the endpoint as given."""
    netloc = urlsplit(endpoint).netloc

    def fix(request: Any, **_: Any) -> None:
        request.url = urlunsplit(urlsplit(request.url)._replace(netloc=netloc))

    client.meta.events.register_first("before-sign.s3-control", fix,
                                      unique_id="inventory-s3control-endpoint")
