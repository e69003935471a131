"""subscribe / subscriptions / unsubscribe: one subscription per endpoint, filtered by store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from cli_runner import Cli
from sms_sandbox_answers import SandboxAnswers, sandbox_answers

from inventory_cli.aws import Aws
from inventory_cli.config import StackNames
from inventory_cli.errors import UsageError
from inventory_cli.ops import subscriptions as core


def topic_subscriptions(aws: Aws, names: StackNames) -> list[tuple[str, str, str | None]]:
    sns = aws.client("sns")
    found = []
    for sub in sns.list_subscriptions_by_topic(TopicArn=names.topic_arn)["Subscriptions"]:
        attrs = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])
        found.append((sub["Protocol"], sub["Endpoint"], attrs["Attributes"].get("FilterPolicy")))
    return sorted(found)


@pytest.mark.parametrize(("endpoint", "protocol"), [
    ("alice@example.com", "email"), ("Bob.Smith+alerts@shop.example.co.uk", "email"),
    ("+4915112345678", "sms"), ("+12025550123", "sms"),
])
def test_protocol_is_inferred(endpoint: str, protocol: str) -> None:
    assert core.infer_protocol(endpoint) == protocol
    assert core.infer_protocol(endpoint, protocol.upper()) == protocol


@pytest.mark.parametrize(("endpoint", "protocol", "reason"), [
    ("015112345678", None, "'015112345678' is not a phone number in E.164 form: write it with +, "
                           "country code and number, without spaces (+4915112345678)"),
    ("+49 151 12345678", None, "'+49 151 12345678' is not a phone number in E.164 form: write "
                               "it with +, country code and number, without spaces "
                               "(+4915112345678)"),
    ("alice", None, "'alice' is neither an e-mail address nor an E.164 phone number "
                    "(+4915112345678)"),
    ("https://example.com/hook", None, "'https://example.com/hook' is neither an e-mail address "
                                       "nor an E.164 phone number (+4915112345678)"),
    ("alice@example.com", "sms", "'alice@example.com' is not a phone number in E.164 form like "
                                 "+4915112345678"),
    ("+4915112345678", "email", "'+4915112345678' is not an e-mail address like "
                                "name@example.com"),
    ("alice@example.com", "http", "unsupported protocol 'http': use email or sms"),
])
def test_other_endpoints_are_refused_saying_why(endpoint: str, protocol: str | None,
                                                reason: str) -> None:
    with pytest.raises(UsageError) as error:
        core.infer_protocol(endpoint, protocol)
    assert error.value.message == reason


def test_a_bad_endpoint_exits_2_before_any_aws_call(cli: Cli, aws: Aws) -> None:
    result = cli("subscribe", "--protocol", "sqs", "alice@example.com")
    assert result.exit_code == 2
    assert result.stderr == "Error: unsupported protocol 'sqs': use email or sms\n"


@pytest.fixture
def out_of_sandbox(aws: Aws, stack: StackNames) -> Iterator[SandboxAnswers]:
    """An account that left the SMS sandbox: texts reach every number."""
    with sandbox_answers(aws, in_sandbox=False) as answers:
        yield answers


def test_subscribe_is_idempotent_and_updates_the_store_filter(cli: Cli,
        aws: Aws, stack: StackNames, out_of_sandbox: SandboxAnswers) -> None:
    first = cli("subscribe", "alice@example.com")
    assert (first.exit_code, first.stdout) == (
        0, "Subscribed alice@example.com (email) to alerts for every store.\n")
    again = cli("subscribe", "alice@example.com")
    assert again.stdout == ("alice@example.com (email) is already subscribed to alerts for "
                            "every store; nothing changed.\n")
    assert topic_subscriptions(aws, stack) == [("email", "alice@example.com", None)]

    narrowed = cli("subscribe", "alice@example.com", "--store", "Pusan",
                      "--store", "Berlin")
    assert narrowed.stdout == (
        "Updated alice@example.com (email): now alerts for Berlin, Pusan. SNS takes up to 15 "
        "minutes to apply a changed filter.\n")
    assert topic_subscriptions(aws, stack) == [
        ("email", "alice@example.com", '{"store":["Berlin","Pusan"]}')]

    assert cli("subscribe", "+4915112345678", "--store", "Berlin").exit_code == 0
    listing = cli("subscriptions", "--output", "table")
    assert listing.stdout == (
        "Topic    Endpoint            Protocol   Status      Stores       \n"
        "─────────────────────────────────────────────────────────────────\n"
        "alerts   +4915112345678      sms        confirmed   Berlin       \n"
        "alerts   alice@example.com   email      confirmed   Berlin, Pusan\n")
    as_json = json.loads(cli("subscriptions").stdout)
    assert as_json == [
        {"endpoint": "+4915112345678", "protocol": "sms", "status": "confirmed",
         "stores": ["Berlin"], "sms_sandbox": None, "topic": "alerts"},
        {"endpoint": "alice@example.com", "protocol": "email", "status": "confirmed",
         "stores": ["Berlin", "Pusan"], "sms_sandbox": None, "topic": "alerts"},
    ]
    # Outside the sandbox the numbers are not looked up, and nothing is texted.
    assert set(out_of_sandbox.operations()) == {"GetSMSSandboxAccountStatus"}

    widened = cli("subscribe", "alice@example.com")
    assert widened.stdout == (
        "Updated alice@example.com (email): now alerts for every store. SNS takes up to 15 "
        "minutes to apply a changed filter.\n")
    # An empty FilterPolicy is no policy: every store.
    assert ("email", "alice@example.com", "") in topic_subscriptions(aws, stack)


def test_a_berlin_alert_reaches_berlin_subscribers_only(cli: Cli,
                                                        aws: Aws, stack: StackNames) -> None:
    sqs = aws.client("sqs")
    queues = {}
    for name in ("berlin", "pusan", "everything"):
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        queues[name] = (url, arn["Attributes"]["QueueArn"])
    core.subscribe(aws, stack, queues["berlin"][1], "sqs", ("Berlin",))
    core.subscribe(aws, stack, queues["pusan"][1], "sqs", ("Pusan",))
    core.subscribe(aws, stack, queues["everything"][1], "sqs", None)

    # What the checker publishes (docs/data-formats.md).
    aws.client("sns").publish(
        TopicArn=stack.topic_arn, Subject="Inventory Alert: Berlin",
        Message="Berlin is out of stock of Echo Plus",
        MessageAttributes={"store": {"DataType": "String", "StringValue": "Berlin"}})

    def received(name: str) -> list[str]:
        messages = sqs.receive_message(QueueUrl=queues[name][0], MaxNumberOfMessages=10,
                                       WaitTimeSeconds=0).get("Messages", [])
        return [json.loads(m["Body"])["Message"] for m in messages]

    assert received("berlin") == ["Berlin is out of stock of Echo Plus"]
    assert received("pusan") == []
    assert received("everything") == ["Berlin is out of stock of Echo Plus"]
    listing = cli("subscriptions", "--output", "csv").stdout.splitlines()
    assert listing[0] == "endpoint,protocol,status,stores,sms_sandbox,topic"
    assert f"{queues['berlin'][1]},sqs,confirmed,Berlin,,alerts" in listing
    assert f"{queues['everything'][1]},sqs,confirmed,,,alerts" in listing


def test_unsubscribe_removes_the_subscription(cli: Cli, aws: Aws, stack: StackNames,
                                              out_of_sandbox: SandboxAnswers) -> None:
    cli("subscribe", "alice@example.com")
    cli("subscribe", "+4915112345678")
    result = cli("unsubscribe", "ALICE@example.com")
    assert (result.exit_code, result.stdout) == (0, "Unsubscribed alice@example.com (email).\n")
    assert topic_subscriptions(aws, stack) == [("sms", "+4915112345678", None)]
    missing = cli("unsubscribe", "alice@example.com")
    assert missing.exit_code == 1
    assert missing.stderr == ("Error: alice@example.com is not subscribed to inventory-alerts; "
                              "subscribed: +4915112345678\n")


@pytest.fixture
def pending_emails(aws: Aws) -> Iterator[None]:
    """SNS as on AWS: e-mail subscriptions stay pending (moto confirms them at once)."""
    sns = aws.client("sns")

    def pending(parsed: dict[str, Any], **_: Any) -> None:
        attributes = parsed.get("Attributes", {})
        if attributes.get("Protocol") == "email":
            attributes["PendingConfirmation"] = "true"

    sns.meta.events.register("after-call.sns.GetSubscriptionAttributes", pending)
    yield
    sns.meta.events.unregister("after-call.sns.GetSubscriptionAttributes", pending)


def test_pending_email_is_said_and_cannot_be_deleted(cli: Cli, aws: Aws, stack: StackNames,
                                                     pending_emails: None) -> None:
    result = cli("subscribe", "alice@example.com", "--store", "Berlin")
    assert result.exit_code == 0
    assert result.stdout == (
        "Subscribed alice@example.com (email) to alerts for Berlin.\n"
        "Pending: AWS sent a confirmation message to alice@example.com. Alerts are "
        "delivered only after the link in it is clicked; unconfirmed subscriptions are "
        "deleted after 48 hours.\n")
    listing = cli("subscriptions", "-o", "table")
    assert listing.stdout.splitlines()[2] == (
        "alerts   alice@example.com   email      pending   Berlin")
    refused = cli("unsubscribe", "alice@example.com")
    assert refused.exit_code == 1
    assert refused.stderr == (
        "Error: alice@example.com has not confirmed its subscription yet, and AWS does not allow "
        "deleting a pending subscription\n"
        "Hint: SNS deletes it by itself if it is not confirmed within 48 hours; if the recipient "
        "confirms before that, run `inventory unsubscribe` again\n")
    assert len(topic_subscriptions(aws, stack)) == 1


def test_no_subscriptions(cli: Cli, aws: Aws, stack: StackNames) -> None:
    result = cli("subscriptions", "--output", "table")
    assert result.stdout == ("No subscriptions. Add one with `inventory subscribe "
                             "EMAIL-OR-PHONE`.\n")


def test_the_operators_topic_is_a_second_list_of_its_own(cli: Cli, 
        aws: Aws, stack: StackNames, out_of_sandbox: SandboxAnswers) -> None:
    cli("subscribe", "staff@example.com", "--store", "Berlin")
    ops = cli("subscribe", "ops@example.com", "--ops")
    assert (ops.exit_code, ops.stdout) == (
        0, "Subscribed ops@example.com (email) to the operators' messages.\n")
    again = cli("subscribe", "ops@example.com", "--ops")
    assert again.stdout == ("ops@example.com (email) is already subscribed to the operators' "
                            "messages; nothing changed.\n")
    assert cli("subscribe", "+4915112345678", "--ops").exit_code == 0
    # Each topic holds only its own subscribers.
    assert topic_subscriptions(aws, stack) == [("email", "staff@example.com",
                                                '{"store":["Berlin"]}')]
    sns = aws.client("sns")
    assert sorted((s["Protocol"], s["Endpoint"]) for s in sns.list_subscriptions_by_topic(
        TopicArn=stack.ops_topic_arn)["Subscriptions"]) == [
        ("email", "ops@example.com"), ("sms", "+4915112345678")]

    listing = cli("subscriptions", "--output", "table")
    assert listing.stdout == (
        "Topic    Endpoint            Protocol   Status      Stores\n"
        "──────────────────────────────────────────────────────────\n"
        "alerts   staff@example.com   email      confirmed   Berlin\n"
        "ops      +4915112345678      sms        confirmed   -     \n"
        "ops      ops@example.com     email      confirmed   -     \n")
    assert [(s["topic"], s["endpoint"], s["stores"]) for s in json.loads(
        cli("subscriptions").stdout)] == [
        ("alerts", "staff@example.com", ["Berlin"]), ("ops", "+4915112345678", None),
        ("ops", "ops@example.com", None)]

    # The operators' topic carries no store: --store with --ops is a usage error.
    mixed = cli("subscribe", "ops@example.com", "--ops", "--store", "Berlin")
    assert (mixed.exit_code, mixed.stderr) == (
        2, "Error: --store chooses stock alerts; the operators' topic (--ops) carries the "
           "stack's health, not a store's\n")

    # Without --ops, unsubscribe acts on the alerts and says where the address is.
    wrong = cli("unsubscribe", "ops@example.com")
    assert (wrong.exit_code, wrong.stderr) == (
        1, "Error: ops@example.com is not subscribed to inventory-alerts; subscribed: "
           "staff@example.com\nHint: it is subscribed to the operators' topic: add --ops\n")
    gone = cli("unsubscribe", "ops@example.com", "--ops")
    assert (gone.exit_code, gone.stdout) == (
        0, "Unsubscribed ops@example.com (email) from the operators topic.\n")
    assert [(s["topic"], s["endpoint"]) for s in json.loads(
        cli("subscriptions").stdout)] == [
        ("alerts", "staff@example.com"), ("ops", "+4915112345678")]


def test_a_stack_without_the_operators_topic_lists_its_alerts_and_says_so(cli: Cli, 
        aws: Aws, stack: StackNames, out_of_sandbox: SandboxAnswers) -> None:
    cli("subscribe", "staff@example.com")
    aws.client("sns").delete_topic(TopicArn=stack.ops_topic_arn)
    listing = cli("subscriptions", "--output", "json")
    assert listing.exit_code == 0
    assert [s["endpoint"] for s in json.loads(listing.stdout)] == ["staff@example.com"]
    assert listing.stderr == (
        f"Note: the stack's operators' topic {stack.ops_topic_arn} does not exist; "
        "`inventory provision` creates what is missing.\n")
    refused = cli("subscribe", "ops@example.com", "--ops")
    assert (refused.exit_code, refused.stderr) == (
        1, f"Error: the stack's operators' topic {stack.ops_topic_arn} does not exist\n"
           "Hint: `inventory provision` creates what is missing\n")
