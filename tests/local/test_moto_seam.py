"""The seam into moto: fails loudly when an upgrade moves what it patches or relies on.

Also checks, in-process and with a recording runtime, that each patch routes what it should:
event sources and `Event` invokes are queued, `RequestResponse` waits, stream records carry the
mapping's settings and unique ordered sequence numbers, e-mail and SMS go to the outbox.
"""

from __future__ import annotations

import inspect
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from inventory_cli.local import moto_seam
from inventory_cli.local.lambda_dispatch import AsyncConfig, StreamMapping
from inventory_cli.local.lambda_worker import RuntimeFunction
from inventory_cli.local.outbox import Outbox, read_outbox
from inventory_cli.stack.resources import TABLE_SCHEMA

REPO = Path(__file__).resolve().parents[2]


def _params(func: Any) -> list[str]:
    return list(inspect.signature(func).parameters)


def test_moto_is_the_pinned_version() -> None:
    import moto

    pin = re.search(r'"moto\[server\]==([^"]+)"', (REPO / "pyproject.toml").read_text())
    assert pin is not None
    assert moto.__version__ == pin.group(1) == moto_seam.MOTO_VERSION


def test_the_former_module_name_reads_the_seams_own_names() -> None:
    from inventory_cli.local import seam
    from inventory_cli.local.seam import awslambda, cognito, dynamodb

    assert moto_seam.install is seam.install and moto_seam.attach is seam.attach
    assert moto_seam.function_url_target is awslambda.function_url_target
    assert moto_seam.GUEST_KEY_PREFIX == cognito.GUEST_KEY_PREFIX
    dynamodb.set_ddb_write_limit(5)
    try:  # module state is read where it lives, not copied at import
        assert moto_seam._write_limiter is dynamodb._write_limiter is not None
    finally:
        dynamodb.set_ddb_write_limit(None)
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = moto_seam.no_such_name


def test_every_patched_or_used_moto_attribute_is_where_the_seam_expects_it() -> None:
    from moto.awslambda.models import EventSourceMapping, LambdaBackend, LambdaFunction
    from moto.awslambda.utils import get_backend
    from moto.cognitoidentity.models import CognitoIdentityBackend
    from moto.cognitoidentity.responses import CognitoIdentityResponse
    from moto.core.utils import unix_time
    from moto.dynamodb.models.table import StreamRecord, StreamShard, Table
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult
    from moto.logs.models import LogsBackend
    from moto.moto_server import werkzeug_app
    from moto.sns.models import Subscription

    assert _params(LambdaFunction.invoke) == ["self", "body", "request_headers",
                                              "response_headers"]
    assert _params(LambdaFunction._invoke_lambda) == ["self", "event"]
    assert _params(StreamShard.add) == ["self", "old", "new"]
    assert _params(StreamRecord.__init__) == ["self", "table", "stream_type", "event_name",
                                              "old", "new", "seq"]
    assert _params(StreamShard.__init__) == ["self", "account_id", "table"]
    assert "lambda_event_source_mappings" in inspect.getsource(inspect.unwrap(Table.__init__))
    assert _params(Subscription.publish) == ["self", "message", "message_id", "subject",
                                             "message_attributes", "group_id",
                                             "deduplication_id", "message_structure"]
    assert "_filter_policy_matcher" in inspect.getsource(Subscription.__init__)
    assert _params(Subscription._parse_message_structure) == ["self", "message", "protocol"]
    assert _params(LogsBackend.ensure_log_group) == ["self", "log_group_name"]
    assert _params(LogsBackend.ensure_log_stream) == ["self", "log_group_name",
                                                      "log_stream_name"]
    assert _params(LogsBackend.put_log_events) == ["self", "log_group_name", "log_stream_name",
                                                   "log_events"]
    assert _params(LambdaBackend.get_function) == ["self", "function_name_or_arn", "qualifier"]
    assert _params(LambdaBackend.get_event_source_mapping) == ["self", "uuid"]
    assert _params(get_backend) == ["account_id", "region"]
    assert _params(EventSourceMapping.__init__) == ["self", "spec"]
    esm_source = inspect.getsource(EventSourceMapping.__init__)
    for attribute in ("self.uuid", "self.batch_size", "self.starting_position", "self.enabled",
                      "self.function_response_types", "self.max_retry_attempts"):
        assert attribute in esm_source
    fn_source = inspect.getsource(LambdaFunction)
    for attribute in ("self.function_arn", "self.function_name", "self.handler", "self.run_time",
                      "self.code_sha_256", "self.code_bytes", "self.environment_vars",
                      "self.timeout", "self.memory_size", "self.version", "self.region",
                      "self.account_id"):
        assert attribute in fn_source, attribute
    assert callable(unix_time)
    assert hasattr(CognitoIdentityResponse, "_get_param")
    assert _params(CognitoIdentityResponse.get_id) == ["self"]
    from moto.cognitoidentity.models import cognitoidentity_backends
    assert cognitoidentity_backends is not None
    assert "identity_pools" in inspect.getsource(CognitoIdentityBackend.__init__)
    for name in ("DomainDispatcherApplication", "MotoRequestHandler", "create_backend_app"):
        assert hasattr(werkzeug_app, name)
    assert _params(IAMPolicyStatement.is_action_permitted) == [
        "self", "action", "resource", "principal", "incoming_condition_values"]
    assert "self._statement" in inspect.getsource(IAMPolicyStatement.__init__)
    assert {"DENIED", "NEUTRAL", "PERMITTED"} <= set(PermissionResult.__members__)


def test_what_destinations_and_atomic_writes_rely_on_is_where_the_seam_expects_it() -> None:
    from moto.awslambda.models import (
        EventInvokeConfig,
        EventSourceMapping,
        LambdaBackend,
        LambdaFunction,
    )
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import StreamShard
    from moto.s3.models import S3Backend, s3_backends
    from moto.sns.models import SNSBackend, sns_backends
    from moto.sqs.models import SQSBackend, sqs_backends

    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        assert callable(getattr(DynamoDBBackend, name))
    assert _params(EventInvokeConfig.__init__) == ["self", "arn", "last_modified", "config"]
    assert "self.config = config" in inspect.getsource(EventInvokeConfig.__init__)
    for name in ("put_function_event_invoke_config", "update_function_event_invoke_config"):
        assert _params(getattr(LambdaBackend, name)) == ["self", "function_name", "config"]
    assert "self.event_invoke_config" in inspect.getsource(LambdaFunction.__init__)
    esm_source = inspect.getsource(EventSourceMapping.__init__)
    for attribute in ("self.bisect_on_error", "self.destination_config", "self.max_record_age",
                      "self.event_source_arn"):
        assert attribute in esm_source, attribute
    assert "self.id = " in inspect.getsource(StreamShard.__init__)
    assert _params(S3Backend.put_object)[:4] == ["self", "bucket_name", "key_name", "value"]
    assert _params(SQSBackend.send_message)[:3] == ["self", "queue_name", "message_body"]
    assert _params(SNSBackend.publish)[:3] == ["self", "message", "arn"]
    assert all(b is not None for b in (s3_backends, sqs_backends, sns_backends))


def test_what_role_enforcement_relies_on_is_where_the_seam_expects_it() -> None:
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.exceptions import JsonRESTError, _RESTError
    from moto.dynamodbstreams.models import ShardIterator
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
    from moto.iam.models import IAMBackend, ManagedPolicy, Role
    from moto.logs.models import LogsBackend
    from moto.s3.exceptions import S3ClientError
    from moto.s3.models import FakeKey
    from moto.sts.models import AssumedRole, STSBackend

    # Where every request of every service is authorised (moto calls it with the bucket or
    # object ARN for S3), and the keywords STS's backend is called with.
    assert _params(ActionAuthenticatorMixin._authenticate_and_authorize_action) == [
        "self", "iam_request_cls", "resource"]
    assert _params(STSBackend.assume_role) == ["self", "region_name", "role_session_name",
                                               "role_arn", "policy", "duration", "external_id"]
    assert "self.assume_role(**kwargs)" in inspect.getsource(
        STSBackend.assume_role_with_web_identity)
    for attribute in ("self.access_key_id", "self.secret_access_key", "self.session_token",
                      "self.role_arn", "self.session_name", "self.account_id"):
        assert attribute in inspect.getsource(AssumedRole.__init__), attribute
    role_source = inspect.getsource(Role.__init__)
    assert "self.policies" in role_source and "self.managed_policies" in role_source
    assert "self.versions" in inspect.getsource(ManagedPolicy.__init__)
    for name in ("put_role_policy", "delete_role_policy", "attach_role_policy",
                 "detach_role_policy", "create_policy_version", "set_default_policy_version",
                 "get_role_by_arn"):
        assert callable(getattr(IAMBackend, name)), name
    assert "self.groups" in inspect.getsource(LogsBackend.__init__)
    assert hasattr(DynamoDBStreamsHandler, "get_records") and FakeKey is not None
    assert '/stream/{self.stream_shard.table.latest_stream_label}|1|' in inspect.getsource(
        ShardIterator)
    assert issubclass(S3ClientError, Exception)
    assert _params(JsonRESTError.__init__)[:3] == _params(_RESTError.__init__)[:3] == [
        "self", "error_type", "message"]


@dataclass
class RecordingRuntime:
    events: list[tuple[RuntimeFunction, dict[str, Any]]] = field(default_factory=list)
    streams: list[tuple[RuntimeFunction, StreamMapping, list[dict[str, Any]]]] = field(
        default_factory=list)
    sync: list[tuple[RuntimeFunction, dict[str, Any]]] = field(default_factory=list)
    configs: list[AsyncConfig | None] = field(default_factory=list)
    ok: bool = True

    def submit_event(self, spec: RuntimeFunction, event_json: str,
                     config: AsyncConfig | None = None) -> None:
        self.events.append((spec, json.loads(event_json)))
        self.configs.append(config)

    def submit_stream_records(self, spec: RuntimeFunction, mapping: StreamMapping,
                              records: list[dict[str, Any]]) -> None:
        self.streams.append((spec, mapping, records))

    def invoke(self, spec: RuntimeFunction, event_json: str) -> Any:
        self.sync.append((spec, json.loads(event_json)))

        class Result:
            ok = self.ok
            payload = json.dumps({"answer": 42})
            log_tail_base64 = ""

        return Result()


@pytest.fixture
def attached(session: boto3.session.Session, tmp_path: Path
             ) -> Iterator[tuple[RecordingRuntime, Outbox]]:
    runtime = RecordingRuntime()
    outbox = Outbox(tmp_path / "outbox.jsonl")
    moto_seam.attach(runtime=runtime, outbox=outbox)  # type: ignore[arg-type]
    yield runtime, outbox
    moto_seam.detach()


# What Lambda's stream poller needs of the function's role to feed it a table's stream.
STREAM_READS = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Resource": "*",
     "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                "dynamodb:ListStreams"]}]}


def _function(session: boto3.session.Session, name: str = "fn",
              env: dict[str, str] | None = None) -> str:
    iam = session.client("iam")
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    iam.put_role_policy(RoleName=f"{name}-role", PolicyName="streams",
                        PolicyDocument=json.dumps(STREAM_READS))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(e, c):\n    return 1\n")
    arn: str = session.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler",
        Code={"ZipFile": buffer.getvalue()}, Timeout=7, MemorySize=256,
        Environment={"Variables": env or {"K": "V"}})["FunctionArn"]
    return arn


def test_request_response_invoke_waits_for_the_runtime(
        session: boto3.session.Session, attached: tuple[RecordingRuntime, Outbox]) -> None:
    runtime, _ = attached
    _function(session)
    response = session.client("lambda").invoke(FunctionName="fn", Payload=b'{"x": 1}')
    assert response["StatusCode"] == 200
    assert json.loads(response["Payload"].read()) == {"answer": 42}
    assert "FunctionError" not in response
    spec, event = runtime.sync[0]
    assert event == {"x": 1}
    assert (spec.name, spec.handler, spec.timeout_s, spec.memory_mb) == ("fn", "app.handler",
                                                                        7.0, 256)
    assert dict(spec.environment) == {"K": "V"}
    assert spec.code[:2] == b"PK"
    runtime.ok = False
    failed = session.client("lambda").invoke(FunctionName="fn", Payload=b"{}")
    assert failed["FunctionError"] == "Unhandled"


def test_event_invokes_and_s3_notifications_are_queued(
        session: boto3.session.Session, attached: tuple[RecordingRuntime, Outbox]) -> None:
    runtime, _ = attached
    arn = _function(session)
    response = session.client("lambda").invoke(FunctionName="fn", InvocationType="Event",
                                                Payload=b'{"later": true}')
    assert response["StatusCode"] == 202
    s3 = session.client("s3")
    s3.create_bucket(Bucket="uploads-bucket")
    s3.put_bucket_notification_configuration(Bucket="uploads-bucket", NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn,
                                          "Events": ["s3:ObjectCreated:*"]}]})
    s3.put_object(Bucket="uploads-bucket", Key="a b/x.csv", Body=b"data")
    assert runtime.sync == []
    assert runtime.events[0][1] == {"later": True}
    record = runtime.events[1][1]["Records"][0]
    assert record["s3"]["bucket"]["name"] == "uploads-bucket"
    assert record["s3"]["object"]["key"] == "a+b%2Fx.csv"  # moto's (and AWS's) key encoding


def _table_with_mapping(session: boto3.session.Session, **mapping: Any) -> tuple[str, str]:
    table = session.client("dynamodb").create_table(TableName="inv", **TABLE_SCHEMA)
    stream_arn: str = table["TableDescription"]["LatestStreamArn"]
    uuid: str = session.client("lambda").create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName="fn", **mapping)["UUID"]
    return uuid, stream_arn


def test_stream_records_carry_the_mapping_and_unique_ordered_sequence_numbers(
        session: boto3.session.Session, attached: tuple[RecordingRuntime, Outbox]) -> None:
    runtime, _ = attached
    _function(session)
    uuid, stream_arn = _table_with_mapping(
        session, StartingPosition="TRIM_HORIZON", BatchSize=7, MaximumRetryAttempts=1,
        FunctionResponseTypes=["ReportBatchItemFailures"], BisectBatchOnFunctionError=True,
        MaximumRecordAgeInSeconds=120,
        DestinationConfig={"OnFailure": {"Destination": "arn:aws:s3:::kept-failures"}})
    ddb = session.client("dynamodb")
    ddb.put_item(TableName="inv", Item={"Store": {"S": "Berlin"}, "Item": {"S": "a"},
                                        "Count": {"N": "1"}})
    ddb.put_item(TableName="inv", Item={"Store": {"S": "Berlin"}, "Item": {"S": "a"},
                                        "Count": {"N": "0"}})
    ddb.delete_item(TableName="inv", Key={"Store": {"S": "Berlin"}, "Item": {"S": "a"}})
    shard_id = runtime.streams[0][1].shard_id
    assert shard_id.startswith("shardId-")
    assert [m for _, m, _ in runtime.streams] == [StreamMapping(
        uuid=uuid, batch_size=7, max_retry_attempts=1, report_batch_item_failures=True,
        bisect_batch_on_function_error=True, max_record_age_s=120,
        on_failure="arn:aws:s3:::kept-failures", stream_arn=stream_arn, shard_id=shard_id)] * 3
    records = [r for _, _, batch in runtime.streams for r in batch]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    sequence = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequence == sorted(set(sequence))  # upstream repeats the same number
    assert records[1]["dynamodb"]["OldImage"]["Count"] == {"N": "1"}
    assert records[1]["dynamodb"]["NewImage"]["Count"] == {"N": "0"}
    assert isinstance(records[0]["dynamodb"]["ApproximateCreationDateTime"], float)
    assert {r["eventSourceARN"] for r in records} == {stream_arn}


def test_a_batch_write_hands_its_records_over_once_in_order(
        session: boto3.session.Session, attached: tuple[RecordingRuntime, Outbox]) -> None:
    runtime, _ = attached
    _function(session)
    _table_with_mapping(session, StartingPosition="TRIM_HORIZON", BatchSize=100)
    ddb = session.client("dynamodb")
    ddb.batch_write_item(RequestItems={"inv": [
        {"PutRequest": {"Item": {"Store": {"S": "Berlin"}, "Item": {"S": f"i{n:02d}"}}}}
        for n in range(25)]})
    ddb.put_item(TableName="inv", Item={"Store": {"S": "Berlin"}, "Item": {"S": "single"}})
    # One hand-over for the 25 items of the request, one for the single write after it.
    assert [len(batch) for _, _, batch in runtime.streams] == [25, 1]
    keys = [r["dynamodb"]["Keys"]["Item"]["S"] for _, _, b in runtime.streams for r in b]
    assert keys == [f"i{n:02d}" for n in range(25)] + ["single"]
    sequence = [int(r["dynamodb"]["SequenceNumber"]) for _, _, b in runtime.streams for r in b]
    assert sequence == sorted(set(sequence))


def test_a_cancelled_transaction_leaves_no_stream_records(
        session: boto3.session.Session, attached: tuple[RecordingRuntime, Outbox]) -> None:
    runtime, _ = attached
    _function(session)
    _table_with_mapping(session, StartingPosition="TRIM_HORIZON")
    ddb = session.client("dynamodb")

    def put(item: str, condition: str | None = None) -> dict[str, Any]:
        action: dict[str, Any] = {"TableName": "inv",
                                  "Item": {"Store": {"S": "s"}, "Item": {"S": item}}}
        if condition:
            action["ConditionExpression"] = condition
            action["ExpressionAttributeNames"] = {"#i": "Item"}
        return {"Put": action}

    ddb.put_item(TableName="inv", Item={"Store": {"S": "s"}, "Item": {"S": "taken"}})
    # The first action is applied by moto before the second one's condition fails.
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(TransactItems=[
            put("new"), put("taken", "attribute_not_exists(#i)")])
    assert "Item" not in ddb.get_item(TableName="inv", Key={"Store": {"S": "s"},
                                                             "Item": {"S": "new"}})
    ddb.transact_write_items(TransactItems=[put("a"), put("b")])
    delivered = [[r["dynamodb"]["Keys"]["Item"]["S"] for r in batch]
                 for _, _, batch in runtime.streams]
    assert delivered == [["taken"], ["a", "b"]]
def test_the_batching_window_reaches_the_runtime_and_an_update_changes_it(
        session: boto3.session.Session, attached: tuple[RecordingRuntime, Outbox]) -> None:
    runtime, _ = attached
    _function(session)
    uuid, _ = _table_with_mapping(session, StartingPosition="LATEST",
                                  MaximumBatchingWindowInSeconds=5)
    lam, ddb = session.client("lambda"), session.client("dynamodb")
    ddb.put_item(TableName="inv", Item={"Store": {"S": "s"}, "Item": {"S": "1"}})
    lam.update_event_source_mapping(UUID=uuid, MaximumBatchingWindowInSeconds=0)
    ddb.put_item(TableName="inv", Item={"Store": {"S": "s"}, "Item": {"S": "2"}})
    assert [m.batching_window_s for _, m, _ in runtime.streams] == [5.0, 0.0]


def test_a_deleted_or_disabled_mapping_delivers_nothing(
        session: boto3.session.Session, attached: tuple[RecordingRuntime, Outbox]) -> None:
    runtime, _ = attached
    _function(session)
    uuid, _ = _table_with_mapping(session, StartingPosition="LATEST")
    lam, ddb = session.client("lambda"), session.client("dynamodb")
    lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    ddb.put_item(TableName="inv", Item={"Store": {"S": "s"}, "Item": {"S": "1"}})
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    ddb.put_item(TableName="inv", Item={"Store": {"S": "s"}, "Item": {"S": "2"}})
    lam.delete_event_source_mapping(UUID=uuid)
    ddb.put_item(TableName="inv", Item={"Store": {"S": "s"}, "Item": {"S": "3"}})
    delivered = [r["dynamodb"]["Keys"]["Item"]["S"] for _, _, b in runtime.streams for r in b]
    assert delivered == ["2"]  # LATEST: the record written while disabled is not replayed


def test_email_and_sms_go_to_the_outbox_after_filter_policies(
        session: boto3.session.Session, attached: tuple[RecordingRuntime, Outbox]) -> None:
    _, outbox = attached
    sns = session.client("sns")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="berlin@example.com",
                  Attributes={"FilterPolicy": json.dumps({"store": ["Berlin"]})})
    sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+15550100")
    for store in ("Berlin", "Pusan"):
        sns.publish(TopicArn=topic, Subject=f"Inventory Alert: {store}",
                    Message=f"{store} is out of stock of Echo Plus",
                    MessageAttributes={"store": {"DataType": "String", "StringValue": store}})
    sent = [(m.to, m.protocol, m.subject, m.message, m.attributes)
            for m in read_outbox(outbox.path)]
    assert sent == [
        ("berlin@example.com", "email", "Inventory Alert: Berlin",
         "Berlin is out of stock of Echo Plus", {"store": "Berlin"}),
        ("+15550100", "sms", None, "Berlin is out of stock of Echo Plus", {"store": "Berlin"}),
        ("+15550100", "sms", None, "Pusan is out of stock of Echo Plus", {"store": "Pusan"}),
    ]


def test_without_an_attached_runtime_moto_behaves_as_upstream(
        session: boto3.session.Session) -> None:
    moto_seam.install()
    moto_seam.install()  # idempotent
    sns = session.client("sns")
    topic = sns.create_topic(Name="plain")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="x@example.com")
    sns.publish(TopicArn=topic, Message="hello")  # nothing attached: no outbox, no error


def test_cognito_identity_pool_roles_are_stored_and_returned(
        session: boto3.session.Session) -> None:
    moto_seam.install()
    cognito = session.client("cognito-identity")
    pool = cognito.create_identity_pool(IdentityPoolName="inv_dashboard",
                                        AllowUnauthenticatedIdentities=True)["IdentityPoolId"]
    role = "arn:aws:iam::123456789012:role/dash"
    cognito.set_identity_pool_roles(IdentityPoolId=pool, Roles={"unauthenticated": role})
    assert cognito.get_identity_pool_roles(IdentityPoolId=pool)["Roles"] == {
        "unauthenticated": role}
    with pytest.raises(cognito.exceptions.ResourceNotFoundException):
        cognito.set_identity_pool_roles(IdentityPoolId="us-east-1:nope", Roles={})


def test_get_id_for_an_unknown_pool_is_resource_not_found_as_on_aws(
        session: boto3.session.Session) -> None:
    moto_seam.install()
    cognito = session.client("cognito-identity")
    pool = cognito.create_identity_pool(IdentityPoolName="inv_dashboard",
                                        AllowUnauthenticatedIdentities=True)["IdentityPoolId"]
    assert cognito.get_id(IdentityPoolId=pool)["IdentityId"].startswith("us-east-1:")
    for unknown in ("us-east-1:00000000-0000-0000-0000-000000000000", "nowhere:abc"):
        with pytest.raises(cognito.exceptions.ResourceNotFoundException):
            cognito.get_id(IdentityPoolId=unknown)


def test_event_invokes_carry_the_functions_event_invoke_config(
        session: boto3.session.Session, attached: tuple[RecordingRuntime, Outbox]) -> None:
    runtime, _ = attached
    _function(session)
    client = session.client("lambda")
    client.invoke(FunctionName="fn", InvocationType="Event", Payload=b"{}")
    client.put_function_event_invoke_config(
        FunctionName="fn", MaximumRetryAttempts=1, MaximumEventAgeInSeconds=600,
        DestinationConfig={"OnFailure": {"Destination": "arn:aws:s3:::first"}})
    # A second put replaces the whole config, as on AWS (moto kept answering with the first).
    client.put_function_event_invoke_config(
        FunctionName="fn", MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": "arn:aws:s3:::second"}})
    assert client.get_function_event_invoke_config(FunctionName="fn")[
        "DestinationConfig"]["OnFailure"]["Destination"] == "arn:aws:s3:::second"
    client.invoke(FunctionName="fn", InvocationType="Event", Payload=b"{}")
    # An update changes only what it names.
    client.update_function_event_invoke_config(FunctionName="fn", MaximumRetryAttempts=2)
    client.invoke(FunctionName="fn", InvocationType="Event", Payload=b"{}")
    assert runtime.configs == [
        AsyncConfig(),
        AsyncConfig(max_retry_attempts=0, on_failure="arn:aws:s3:::second"),
        AsyncConfig(max_retry_attempts=2, on_failure="arn:aws:s3:::second"),
    ]


def test_failure_records_reach_s3_sqs_and_sns_destinations(
        session: boto3.session.Session, caplog: pytest.LogCaptureFixture) -> None:
    moto_seam.install()
    s3, sqs, sns = (session.client(name) for name in ("s3", "sqs", "sns"))
    s3.create_bucket(Bucket="kept")
    queue_url = sqs.create_queue(QueueName="kept-queue")["QueueUrl"]
    topic_arn = sns.create_topic(Name="kept-topic")["TopicArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs",
                  Endpoint="arn:aws:sqs:us-east-1:123456789012:kept-queue")
    destinations = moto_seam.MotoFailureDestinations()
    where = {"account_id": "123456789012", "region": "us-east-1"}
    destinations.deliver("arn:aws:s3:::kept", {"n": 1}, s3_key="aws/lambda/async/fn/x", **where)
    destinations.deliver("arn:aws:sqs:us-east-1:123456789012:kept-queue", {"n": 2},
                         s3_key="unused", **where)
    destinations.deliver(topic_arn, {"n": 3}, s3_key="unused", **where)
    with caplog.at_level("ERROR"):
        destinations.deliver("arn:aws:s3:::no-such-bucket", {"n": 4}, s3_key="k", **where)
    assert "could not deliver an invocation record to arn:aws:s3:::no-such-bucket" in caplog.text
    body = s3.get_object(Bucket="kept", Key="aws/lambda/async/fn/x")["Body"].read()
    assert json.loads(body) == {"n": 1}
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    bodies = [json.loads(m["Body"]) for m in messages]
    assert {"n": 2} in bodies
    assert [json.loads(b["Message"]) for b in bodies if "Message" in b] == [{"n": 3}]


def test_what_the_sandbox_and_guest_patches_rely_on_is_where_expected() -> None:
    from moto.cognitoidentity.models import CognitoIdentityBackend, CognitoIdentityPool
    from moto.cognitoidentity.responses import CognitoIdentityResponse
    from moto.core.exceptions import AccessDeniedError
    from moto.core.responses import ActionResult, EmptyResult
    from moto.dynamodb.responses import DynamoHandler
    from moto.iam.models import Role, iam_backends
    from moto.sns import exceptions as sns_exceptions
    from moto.sns.responses import SNSResponse
    from moto.sts.responses import TokenResponse
    from moto.utilities.utils import get_partition

    assert ActionResult is not None and EmptyResult is not None and iam_backends is not None
    assert callable(get_partition) and AccessDeniedError.code == 403
    assert isinstance(SNSResponse.backend, property)
    for name in ("ResourceNotFoundError", "SNSException", "SNSInvalidParameter"):
        assert hasattr(sns_exceptions, name), name
    assert _params(CognitoIdentityPool.to_json) == ["self"]
    for method in ("create_identity_pool", "update_identity_pool",
                   "get_credentials_for_identity", "get_open_id_token"):
        assert _params(getattr(CognitoIdentityResponse, method)) == ["self"], method
    assert "pools_identities" in inspect.getsource(CognitoIdentityBackend.__init__)
    assert _params(TokenResponse.assume_role_with_web_identity) == ["self"]
    assert _params(DynamoHandler.call_action) == ["self"]
    assert _params(DynamoHandler.get_endpoint_name) == ["self", "headers"]
    assert "self.assume_role_policy_document" in inspect.getsource(Role.__init__)


def test_the_sms_sandbox_starts_closed_and_verifies_with_the_texted_code(
        session: boto3.session.Session, attached: tuple[RecordingRuntime, Outbox]) -> None:
    _, outbox = attached
    sns = session.client("sns")
    assert sns.get_sms_sandbox_account_status()["IsInSandbox"] is True
    assert sns.list_sms_sandbox_phone_numbers()["PhoneNumbers"] == []
    sns.create_sms_sandbox_phone_number(PhoneNumber="+4915112345678")
    assert sns.list_sms_sandbox_phone_numbers()["PhoneNumbers"] == [
        {"PhoneNumber": "+4915112345678", "Status": "Pending"}]
    [text] = read_outbox(outbox.path)
    assert (text.protocol, text.to, text.subject) == ("sms", "+4915112345678", None)
    code = text.message.rsplit(" ", 1)[1]
    assert re.fullmatch(r"\d{6}", code)
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(sns.exceptions.VerificationException) as refused:
        sns.verify_sms_sandbox_phone_number(PhoneNumber="+4915112345678", OneTimePassword=wrong)
    assert refused.value.response["Error"]["Code"] == "VerificationException"
    with pytest.raises(sns.exceptions.ResourceNotFoundException):
        sns.verify_sms_sandbox_phone_number(PhoneNumber="+4930123456", OneTimePassword=code)
    sns.verify_sms_sandbox_phone_number(PhoneNumber="+4915112345678", OneTimePassword=code)
    assert sns.list_sms_sandbox_phone_numbers()["PhoneNumbers"] == [
        {"PhoneNumber": "+4915112345678", "Status": "Verified"}]
    moto_seam.set_sms_sandbox("123456789012", "us-east-1", in_sandbox=False)
    assert sns.get_sms_sandbox_account_status()["IsInSandbox"] is False


def test_classic_flow_is_kept_and_enhanced_flow_guests_are_scoped_down(
        session: boto3.session.Session, monkeypatch: pytest.MonkeyPatch) -> None:
    moto_seam.install()
    cognito = session.client("cognito-identity")
    pool = cognito.create_identity_pool(IdentityPoolName="inv_dashboard",
                                        AllowUnauthenticatedIdentities=True,
                                        AllowClassicFlow=True)["IdentityPoolId"]
    assert cognito.describe_identity_pool(IdentityPoolId=pool)["AllowClassicFlow"] is True
    iam = session.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": pool},
                      "ForAnyValue:StringLike": {
                          "cognito-identity.amazonaws.com:amr": "unauthenticated"}}}]}
    role = iam.create_role(RoleName="dash", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    ddb = session.client("dynamodb")
    table_arn = ddb.create_table(TableName="inv", **TABLE_SCHEMA)["TableDescription"]["TableArn"]
    iam.put_role_policy(RoleName="dash", PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "dynamodb:Scan", "Resource": table_arn}]}))
    cognito.set_identity_pool_roles(IdentityPoolId=pool, Roles={"unauthenticated": role["Arn"]})

    identity = cognito.get_id(IdentityPoolId=pool)["IdentityId"]
    enhanced = cognito.get_credentials_for_identity(IdentityId=identity)["Credentials"]
    assert enhanced["AccessKeyId"].startswith(moto_seam.GUEST_KEY_PREFIX)
    token = cognito.get_open_id_token(IdentityId=identity)["Token"]
    basic = session.client("sts").assume_role_with_web_identity(
        RoleArn=role["Arn"], RoleSessionName="guest", WebIdentityToken=token)["Credentials"]

    def scan_with(creds: dict[str, Any], secret: str) -> Any:
        client = boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds[secret],
            aws_session_token=creds["SessionToken"], region_name="us-east-1").client("dynamodb")
        return client.scan(TableName="inv")

    from botocore.exceptions import ClientError

    # AWS's scope-down policy for enhanced-flow guests lists no DynamoDB action; the basic
    # flow's session has the role's own policy.
    with pytest.raises(ClientError) as scoped_down:
        scan_with(enhanced, "SecretKey")
    assert scoped_down.value.response["Error"]["Code"] == "AccessDeniedException"
    assert scoped_down.value.response["Error"]["Message"] == (
        "User: arn:aws:sts::123456789012:assumed-role/dash/CognitoIdentityCredentials is not "
        f"authorized to perform: dynamodb:Scan on resource: {table_arn} because no session "
        "policy allows the dynamodb:Scan action")
    assert scan_with(basic, "SecretAccessKey")["Items"] == []

    # With enforcement off, the test switch alone refuses the enhanced flow's keys.
    monkeypatch.setenv("INVENTORY_EMULATOR_ENFORCE_IAM", "0")
    assert scan_with(enhanced, "SecretKey")["Items"] == []
    monkeypatch.setenv(moto_seam.DENY_ENHANCED_FLOW_ENV, "1")
    with pytest.raises(ClientError) as denied:
        scan_with(enhanced, "SecretKey")
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert scan_with(basic, "SecretAccessKey")["Items"] == []

    # The role's trust must name this pool: a token of another pool is refused.
    other = cognito.create_identity_pool(IdentityPoolName="other",
                                         AllowUnauthenticatedIdentities=True)["IdentityPoolId"]
    other_identity = cognito.get_id(IdentityPoolId=other)["IdentityId"]
    other_token = cognito.get_open_id_token(IdentityId=other_identity)["Token"]
    with pytest.raises(ClientError) as refused:
        session.client("sts").assume_role_with_web_identity(
            RoleArn=role["Arn"], RoleSessionName="guest", WebIdentityToken=other_token)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_what_the_private_dashboard_patches_rely_on_is_where_expected() -> None:
    """Staff logins, principal tags, invitations, LeadingKeys and the OAC origin setting."""
    from moto.cloudfront.models import Origin
    from moto.cognitoidentity.models import CognitoIdentityPool
    from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpUserPool, UserStatus
    from moto.cognitoidp.responses import CognitoIdpResponse
    from moto.dynamodb.models.table import Table
    from moto.s3.models import FakeBucket, PublicAccessBlock

    assert _params(Origin.__init__) == ["self", "origin"]
    assert _params(CognitoIdpResponse.admin_create_user) == ["self"]
    assert _params(CognitoIdpBackend.admin_create_user) == [
        "self", "user_pool_id", "username", "message_action", "temporary_password",
        "attributes"]
    # id tokens are kept per pool: what GetId's login check looks a token up in.
    assert "self.id_tokens" in inspect.getsource(CognitoIdpUserPool.__init__)
    assert "self.id_tokens[id_token]" in inspect.getsource(CognitoIdpUserPool.create_id_token)
    assert UserStatus.FORCE_CHANGE_PASSWORD is not None
    for name in ("allow_unauthenticated_identities", "cognito_identity_providers"):
        assert f"self.{name}" in inspect.getsource(CognitoIdentityPool.__init__), name
    assert "self.hash_key_attr" in inspect.getsource(Table.__init__)
    assert "self.public_access_block" in inspect.getsource(FakeBucket.__init__)
    assert "self.restrict_public_buckets" in inspect.getsource(PublicAccessBlock.__init__)
