"""CloudFront: the distribution that serves a private dashboard bucket over HTTPS, and the
Origin Access Control through which it reads the bucket (AWS only).

A distribution takes minutes to deploy and to disable. Provision does not wait: status shows
the distribution as `deploying` until CloudFront says `Deployed`. CloudFront deletes only a
disabled, deployed distribution (CloudFront API reference, DeleteDistribution), so teardown
deletes everything else first, then disables it, waits for CloudFront (at most the executor's
waiter bound), deletes it and then the Origin Access Control (which CloudFront refuses to
delete while a distribution uses it). If the wait runs out, teardown run again finishes.
"""

from __future__ import annotations

from typing import Any

from inventory_cli.config import StackNames
from inventory_cli.stack.instructions import APICall, Ref, Rendered, Wait
from inventory_cli.stack.kinds.common import (
    Deleted,
    Kind,
    PlanContext,
    Planned,
    ours_to_delete,
    owned_or_fail,
)
from inventory_cli.stack.model import DistributionSpec, OriginAccessControlSpec
from inventory_cli.stack.remote import RemoteState
from inventory_cli.stack.resources import DASHBOARD_ORIGIN, INDEX_PAGE

ORIGIN_ID = "dashboard-bucket"
# AWS's managed cache policy "CachingDisabled" (CloudFront Developer Guide, "Use managed cache
# policies"): every file is read from the bucket, so a new provision's page and config.json are
# seen at once; the files are small and few.
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
# North America and Europe edge locations only: the cheapest price class.
PRICE_CLASS = "PriceClass_100"


def oac_config(spec: OriginAccessControlSpec) -> dict[str, Any]:
    return {"Name": spec.name, "Description": "inventory dashboard bucket",
            "SigningProtocol": "sigv4", "SigningBehavior": "always",
            "OriginAccessControlOriginType": "s3"}


def plan_oac(spec: OriginAccessControlSpec, remote: RemoteState, ctx: PlanContext) -> Planned:
    """Publishes `oac_id`. Found by name (OACs take no tags; the name embeds the stack's)."""
    current = remote.origin_access_control(spec.name)
    wanted = oac_config(spec)
    if current is None:
        ctx.values["oac_id"] = Ref("oac_id")
        return [APICall(spec.id, "cloudfront", "create_origin_access_control",
                        {"OriginAccessControlConfig": wanted},
                        f"create origin access control {spec.name} (CloudFront signs its "
                        "reads of the dashboard bucket)", creates=True,
                        outputs=(("oac_id", ("OriginAccessControl", "Id")),))]
    ctx.values["oac_id"] = current["Id"]
    config = current.get("OriginAccessControlConfig", {})
    if all(config.get(k) == v for k, v in wanted.items() if k != "Description"):
        return []
    return [APICall(spec.id, "cloudfront", "update_origin_access_control",
                    {"Id": current["Id"], "IfMatch": current.get("ETag"),
                     "OriginAccessControlConfig": wanted},
                    f"reset origin access control {spec.name} to sign every request")]


def delete_oac(spec: OriginAccessControlSpec, remote: RemoteState, names: StackNames) -> Deleted:
    current = remote.origin_access_control(spec.name)
    if current is None:
        return []
    # After the distribution's deletion in the same teardown (the list backwards); CloudFront
    # refuses to delete an OAC a distribution still uses.
    return [APICall(spec.id, "cloudfront", "delete_origin_access_control",
                    {"Id": current["Id"], "IfMatch": current.get("ETag")},
                    f"delete origin access control {spec.name}")]


def distribution_config(spec: DistributionSpec, oac_id: Any, caller_reference: str
                        ) -> dict[str, Any]:
    """The DistributionConfig provision wants: HTTPS only (HTTP redirects), the private bucket
    as the one origin, read through the OAC."""
    return {
        "CallerReference": caller_reference,
        "Comment": spec.comment,
        "Enabled": True,
        "DefaultRootObject": INDEX_PAGE,
        "PriceClass": PRICE_CLASS,
        "HttpVersion": "http2",
        "Origins": {"Quantity": 1, "Items": [{
            "Id": ORIGIN_ID,
            "DomainName": spec.origin_domain,
            "OriginAccessControlId": oac_id,
            # Required with an S3 origin; empty: no legacy origin access identity.
            "S3OriginConfig": {"OriginAccessIdentity": ""},
        }]},
        "DefaultCacheBehavior": {
            "TargetOriginId": ORIGIN_ID,
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": CACHING_DISABLED,
            "Compress": True,
            "AllowedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"],
                               "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]}},
        },
    }


def _origin(domain: Any) -> Any:
    if isinstance(domain, Ref):
        return Rendered("https://<new distribution>", lambda v: f"https://{v[domain.name]}")
    return f"https://{domain}"


def plan_distribution(spec: DistributionSpec, remote: RemoteState, ctx: PlanContext) -> Planned:
    """Publishes `distribution_arn` and the dashboard's origin. Never waits for CloudFront."""
    names = ctx.names
    oac_id = ctx.values["oac_id"]
    current = remote.distribution(spec.comment)
    if current is None:
        ctx.values["distribution_arn"] = Ref("distribution_arn")
        ctx.values[DASHBOARD_ORIGIN] = _origin(Ref("dashboard_domain"))
        # CallerReference must be new for each distribution created (CloudFront API reference,
        # CreateDistribution); the stack and the moment make it so.
        reference = f"{names.stack}-dashboard-{ctx.run_id}"
        config = distribution_config(spec, oac_id, reference)
        return [APICall(spec.id, "cloudfront", "create_distribution_with_tags",
                        {"DistributionConfigWithTags": {
                            "DistributionConfig": config,
                            "Tags": {"Items": [{"Key": k, "Value": v}
                                               for k, v in names.tags.items()]}}},
                        f"create the CloudFront distribution of {spec.bucket} (it takes a few "
                        "minutes to appear; provision does not wait)", creates=True,
                        outputs=(("distribution_arn", ("Distribution", "ARN")),
                                 ("dashboard_domain", ("Distribution", "DomainName"))))]
    owned_or_fail(names, "CloudFront distribution", current["Id"], current.get("Tags", {}))
    ctx.values["distribution_arn"] = current["ARN"]
    ctx.values[DASHBOARD_ORIGIN] = _origin(current["DomainName"])
    if current.get("Status") != "Deployed":
        ctx.deploying.append(spec.id)
    have = current.get("DistributionConfig", {})
    wanted = distribution_config(spec, oac_id, str(have.get("CallerReference", "")))
    if _covers(have, wanted):
        return []
    return [APICall(spec.id, "cloudfront", "update_distribution",
                    {"Id": current["Id"], "IfMatch": current.get("ETag"),
                     "DistributionConfig": {**have, **wanted}},
                    f"reset the CloudFront distribution of {spec.bucket} (enabled, HTTPS, "
                    "the private bucket through its origin access control)")]


def _covers(have: Any, want: Any) -> bool:
    if isinstance(want, dict):
        return isinstance(have, dict) and all(_covers(have.get(k), v) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(have, list) and len(have) == len(want) and all(
            _covers(h, w) for h, w in zip(have, want, strict=True))
    return bool(have == want)


def delete_distribution(spec: DistributionSpec, remote: RemoteState,
                        names: StackNames) -> Deleted:
    current = remote.distribution(spec.comment)
    if current is None:
        return []
    skip = ours_to_delete(names, "CloudFront distribution", current["Id"],
                          current.get("Tags", {}))
    if skip:
        return [skip]
    label = f"CloudFront distribution {current['Id']} ({current.get('DomainName')})"
    config = current.get("DistributionConfig", {})
    etag: Any = current.get("ETag")
    steps: Deleted = []
    if config.get("Enabled", True):
        etag = Ref("distribution_etag")
        steps.append(APICall(spec.id, "cloudfront", "update_distribution",
                             {"Id": current["Id"], "IfMatch": current.get("ETag"),
                              "DistributionConfig": {**config, "Enabled": False}},
                             f"disable {label} (CloudFront deletes only disabled ones)",
                             outputs=(("distribution_etag", ("ETag",)),)))
    if config.get("Enabled", True) or current.get("Status") != "Deployed":
        # Minutes on AWS; if it takes longer than the wait, the step fails with everything
        # else already deleted, and teardown run again deletes it.
        steps.append(Wait(spec.id, "cloudfront", "distribution_deployed", {"Id": current["Id"]},
                          f"wait until CloudFront has disabled {label} (a few minutes; "
                          "if this times out, run teardown again)"))
    steps.append(APICall(spec.id, "cloudfront", "delete_distribution",
                         {"Id": current["Id"], "IfMatch": etag}, f"delete {label}"))
    return steps


KINDS = {
    OriginAccessControlSpec.kind: Kind(plan_oac, delete_oac),
    DistributionSpec.kind: Kind(plan_distribution, delete_distribution),
}
