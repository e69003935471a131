"""The AWS adapter: the only module that creates boto3 sessions and clients.

Everything else receives an `Aws` object and asks it for clients, so tests hand in their own
(moto) session and `--profile`, `--region` and `--endpoint-url` are honoured everywhere.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from inventory_cli.config import LOCAL_ACCOUNT_ID, LOCAL_REGION, Settings, StackNames
from inventory_cli.errors import ConfigError, InventoryError, NoCredentials

# Standard retry mode with a few more attempts than the default: throttling during provisioning
# of a fresh account is common and harmless.
_RETRY_CONFIG = Config(retries={"max_attempts": 8, "mode": "standard"}, connect_timeout=10,
                       read_timeout=70)

LOCAL_CREDENTIALS = {
    "aws_access_key_id": "inventory-local",
    "aws_secret_access_key": "inventory-local",
}


class Aws:
    """A boto3 session plus the target endpoint; clients are created on first use and cached."""

    def __init__(self, session: boto3.session.Session, *, endpoint_url: str | None = None,
                 stack: str = "inventory", config: Config | None = None,
                 account_id: str | None = None, builtin_emulator: bool = False) -> None:
        self.session = session
        # True when `endpoint_url` is the built-in emulator (`--local`), which serves some
        # things (function URLs) under routes of its own.
        self.builtin_emulator = builtin_emulator
        self.endpoint_url = endpoint_url
        self.stack = stack
        self._config = config or _RETRY_CONFIG
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._account_id = account_id  # None: asked of STS on first use
        name_failed_calls(session)

    @property
    def region(self) -> str:
        region: str | None = self.session.region_name
        if not region:
            raise ConfigError(
                "no AWS region configured: pass --region, set AWS_REGION, or set one in your "
                "AWS profile"
            )
        return region

    def client(self, service: str) -> Any:
        """A cached client for `service` (thread-safe: boto3 clients may be shared by threads)."""
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                client = self.session.client(service, endpoint_url=self.endpoint_url,
                                             region_name=self.region, config=self._config)
                self._clients[service] = client
            return client

    def single_attempt_client(self, service: str) -> Any:
        """A cached client that makes each call once: for optional checks. An endpoint that
        lacks the call (a plain moto server) answers 500, which the standard retry mode would
        retry for half a minute."""
        key = f"{service}:single-attempt"
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                config = self._config.merge(Config(retries={"total_max_attempts": 1,
                                                            "mode": "standard"}))
                client = self.session.client(service, endpoint_url=self.endpoint_url,
                                             region_name=self.region, config=config)
                self._clients[key] = client
            return client

    @property
    def account_id(self) -> str:
        if self._account_id is None:
            try:
                self._account_id = str(self.client("sts").get_caller_identity()["Account"])
            except botocore.exceptions.NoCredentialsError:
                raise no_credentials_error() from None
        return self._account_id

    @property
    def names(self) -> StackNames:
        return StackNames(stack=self.stack, account_id=self.account_id, region=self.region)

    @property
    def is_local(self) -> bool:
        return self.endpoint_url is not None


def no_credentials_error() -> NoCredentials:
    return NoCredentials(
        "no AWS credentials found",
        hint="configure credentials (aws configure, AWS_PROFILE, --profile), or try the whole "
             "pipeline on this machine with `inventory --local provision` or `inventory demo`",
    )


def make_aws(settings: Settings, *, endpoint_url: str | None = None) -> Aws:
    """Build the adapter for `settings`. `endpoint_url` overrides settings (used by --local)."""
    endpoint = endpoint_url or settings.endpoint_url
    kwargs: dict[str, Any] = {}
    if settings.profile:
        kwargs["profile_name"] = settings.profile
    region = settings.region
    if settings.local:
        # The emulator accepts any credentials; fixed ones keep a developer's real keys out of it.
        kwargs.update(LOCAL_CREDENTIALS)
        kwargs.pop("profile_name", None)
        region = region or LOCAL_REGION
    if region:
        kwargs["region_name"] = region
    try:
        session = boto3.session.Session(**kwargs)
    except botocore.exceptions.ProfileNotFound as exc:
        raise ConfigError(str(exc)) from None
    if endpoint and not session.region_name:
        # An emulator does not care about the region, but botocore needs one.
        session = boto3.session.Session(region_name=LOCAL_REGION, **kwargs)
    if not settings.local and session.get_credentials() is None:
        if endpoint:
            # Emulators accept anything; do what the AWS CLI users of LocalStack do.
            session = boto3.session.Session(region_name=session.region_name, **LOCAL_CREDENTIALS)
        else:
            raise no_credentials_error()
    # The built-in emulator answers for one account (its fixed credentials map to it): no STS
    # call, which with its client is a tenth of a short command's time.
    return Aws(session, endpoint_url=endpoint, stack=settings.stack,
               account_id=LOCAL_ACCOUNT_ID if settings.local else None,
               builtin_emulator=settings.local)


def error_code(exc: botocore.exceptions.ClientError) -> str:
    """The error code of an AWS answer ("NoSuchBucket", "404", ...), or "" if it has none."""
    return str(exc.response.get("Error", {}).get("Code", ""))


# The attribute a failed call's exception carries: "<Service> <Operation>", e.g. "S3 HeadBucket".
FAILED_CALL_ATTRIBUTE = "inventory_call"


class _CallNaming:
    """Mixed into every client class of our sessions: an exception leaving an API call (an AWS
    answer, an unreachable endpoint, missing credentials, an invalid parameter) is tagged with
    the call's name, so the CLI can say which call failed even when it surfaces in another
    thread or far from the call. botocore documents `creating-client-class` for adding bases."""

    def _make_api_call(self, operation_name: str, api_params: Any) -> Any:
        try:
            return super()._make_api_call(operation_name, api_params)  # type: ignore[misc]
        except Exception as exc:
            if not hasattr(exc, FAILED_CALL_ATTRIBUTE):
                service = self.meta.service_model.service_id  # type: ignore[attr-defined]
                setattr(exc, FAILED_CALL_ATTRIBUTE, f"{service} {operation_name}")
            raise


def _add_call_naming(base_classes: list[type], **_: Any) -> None:
    if _CallNaming not in base_classes:
        base_classes.insert(0, _CallNaming)


def name_failed_calls(session: boto3.session.Session) -> None:
    """Tag every exception of an API call made through `session` with the call's name."""
    session.events.register("creating-client-class", _add_call_naming,
                            unique_id="inventory-call-naming")


_CREDENTIAL_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId",
                               "UnrecognizedClientException", "SignatureDoesNotMatch",
                               "InvalidAccessKeyId", "InvalidToken", "TokenRefreshRequired"})
_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "AuthorizationError",
                           "AuthorizationErrorException", "UnauthorizedOperation",
                           "NotAuthorizedException"})
_THROTTLE_CODES = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException",
                             "RequestLimitExceeded", "SlowDown", "RequestThrottled",
                             "ProvisionedThroughputExceededException",
                             "RequestThrottledException"})
_CONNECTION_ERRORS = (botocore.exceptions.EndpointConnectionError,
                      botocore.exceptions.ConnectionClosedError,
                      botocore.exceptions.ConnectTimeoutError,
                      botocore.exceptions.ReadTimeoutError,
                      botocore.exceptions.ProxyConnectionError,
                      botocore.exceptions.SSLError)


def _one_line(text: str) -> str:
    return "; ".join(part.strip() for part in str(text).splitlines() if part.strip())


_HINT_BY_CODE: tuple[tuple[frozenset[str], str], ...] = (
    (_CREDENTIAL_CODES, "refresh your credentials or pick another --profile"),
    (_DENIED_CODES, "your identity lacks this permission: the actions each command needs are "
                    "listed in docs/stack.md (IAM: what the operator's identity needs)"),
    (_THROTTLE_CODES, "AWS is throttling this account's calls; try again in a moment"),
    (frozenset({"ResourceNotFoundException", "NoSuchBucket", "NoSuchEntity", "NotFound",
                "NotFoundException"}),
     "`inventory status` shows what is missing; `inventory provision` repairs it"),
)


def _hint_for(exc: BaseException, code: str) -> str | None:
    if isinstance(exc, botocore.exceptions.NoCredentialsError
                  | botocore.exceptions.PartialCredentialsError):
        return no_credentials_error().hint
    if isinstance(exc, _CONNECTION_ERRORS):
        return ("check your network and --endpoint-url / AWS_ENDPOINT_URL; for the built-in "
                "emulator, `inventory local start`")
    if isinstance(exc, botocore.exceptions.ParamValidationError):
        return "a value given to the call is not valid for AWS; run again with --debug to see where"
    return next((hint for codes, hint in _HINT_BY_CODE if code in codes), None)


def translate_aws_error(exc: BaseException) -> InventoryError | None:
    """A failed AWS call as one line: `<call> failed: <code>: <message>` plus a hint where one
    helps. None for anything that is not an AWS SDK error (the CLI lets those through)."""
    import boto3.exceptions

    if not isinstance(exc, botocore.exceptions.ClientError | botocore.exceptions.BotoCoreError
                      | boto3.exceptions.Boto3Error):
        return None
    if isinstance(exc, boto3.exceptions.Boto3Error):
        # boto3's transfers re-raise the failed call's error as their own (S3UploadFailedError):
        # the call's own error says more.
        inner = exc.__cause__ or exc.__context__
        if isinstance(inner, botocore.exceptions.ClientError | botocore.exceptions.BotoCoreError):
            exc = inner
    call = getattr(exc, FAILED_CALL_ATTRIBUTE, None) or "an AWS call"
    if isinstance(exc, botocore.exceptions.ClientError):
        code = error_code(exc) or str(
            exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "") or "Error")
        message = str(exc.response.get("Error", {}).get("Message") or "") or str(exc)
    else:
        code, message = type(exc).__name__, str(exc)
    if isinstance(exc, botocore.exceptions.NoCredentialsError) and call == "an AWS call":
        return no_credentials_error()
    text = f"{call} failed: {code}: {_one_line(message)}"
    return InventoryError(text, hint=_hint_for(exc, code))
