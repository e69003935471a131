"""The emulator's evaluation of what the private dashboard's staff role relies on: principal
tags as `aws:PrincipalTag/...`, policy variables, `ForAllValues` on `dynamodb:LeadingKeys`,
and `Null`, against the role document `provision` writes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from inventory_cli.config import StackNames
from inventory_cli.local.seam import iam
from inventory_cli.stack import resources as r

NAMES = StackNames(stack="shop", account_id="123456789012", region="us-east-1")
POLICY = r.staff_role_policy(NAMES)
TABLE, SUMMARIES = NAMES.table_arn, NAMES.table_arn_of(NAMES.summary_table)


@pytest.fixture(autouse=True)
def staff_role(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(iam, "role_documents", lambda session: [POLICY])
    yield


def _session(**tags: str) -> iam.Session:
    return iam.Session(account_id=NAMES.account_id,
                       role_arn=f"arn:aws:iam::1:role/{NAMES.staff_role}",
                       session_name="CognitoIdentityCredentials",
                       principal_tags=tuple(sorted(tags.items())))


def _allowed(session: iam.Session, action: str, resource: str, *keys: str) -> bool:
    context = {"dynamodb:LeadingKeys": list(keys)} if keys else {}
    return iam.check(session, iam.Want(f"dynamodb:{action}", resource, context)) is None


def test_a_member_reads_its_stores_and_nothing_else() -> None:
    member = _session(client="app", store1="Berlin", store2="São Paulo")
    assert _allowed(member, "Query", TABLE, "Berlin")
    assert _allowed(member, "GetItem", TABLE, "São Paulo")
    assert not _allowed(member, "Query", TABLE, "Lyon")
    assert not _allowed(member, "Query", TABLE, "berlin")  # StringEquals: case counts
    # A Scan names no partition key: ForAllValues would hold, so the role lists no Scan.
    assert not _allowed(member, "Scan", TABLE)
    assert not _allowed(member, "Query", SUMMARIES, "store")


def test_unused_slots_match_nothing_not_everything() -> None:
    member = _session(client="app", store1="Berlin")
    # "${aws:PrincipalTag/store2}" has no value: it must not become "" or a wildcard.
    assert not _allowed(member, "Query", TABLE, "")
    assert not _allowed(member, "Query", TABLE, "${aws:PrincipalTag/store2}")


def test_staff_of_every_store_read_all_but_only_when_signed_in() -> None:
    every = _session(client="app")
    assert _allowed(every, "Scan", TABLE)
    assert _allowed(every, "Query", TABLE, "Lyon")
    assert _allowed(every, "Query", SUMMARIES, "store")
    # No principal tags at all (say, the tag map removed): nothing, not everything.
    assert not _allowed(_session(), "Scan", TABLE)
    assert not _allowed(_session(), "Query", TABLE, "Lyon")


def test_policy_variables_with_defaults_and_for_all_values_of_nothing() -> None:
    context = {"aws:principaltag/store1": ["Berlin"]}
    assert iam._substituted(["${aws:PrincipalTag/store1}", "${aws:PrincipalTag/store2}",
                             "${aws:PrincipalTag/store3, 'none'}"], context) == [
        "Berlin", "none"]
    holds = iam._conditions_hold
    assert holds({"ForAllValues:StringEquals": {"k": ["a"]}}, {})
    assert not holds({"ForAnyValue:StringEquals": {"k": ["a"]}}, {})
    assert not holds({"ForAllValues:StringEquals": {"k": ["a"]}}, {"k": ["a", "b"]})
