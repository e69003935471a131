"""IAM policy evaluation in moto.

- Bucket policies: a Deny conditioned on keys moto never supplies (aws:SecureTransport) is
  skipped instead of denying everything (see `install_conditional_bucket_policy_denies`).
"""

from __future__ import annotations


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
