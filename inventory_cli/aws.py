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
                 account_id: str | None = None) -> None:
        self.session = session
        self.endpoint_url = endpoint_url
        self.stack = stack
        self._config = config or _RETRY_CONFIG
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._account_id = account_id  # None: asked of STS on first use

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
               account_id=LOCAL_ACCOUNT_ID if settings.local else None)


def error_code(exc: botocore.exceptions.ClientError) -> str:
    """The error code of an AWS answer ("NoSuchBucket", "404", ...), or "" if it has none."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def translate_aws_error(exc: BaseException) -> InventoryError | None:
    """Map a botocore exception to a typed error the CLI can show in one line, or None."""
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return no_credentials_error()
    if isinstance(exc, botocore.exceptions.EndpointConnectionError):
        return InventoryError(f"cannot reach the AWS endpoint: {exc}",
                              hint="check --endpoint-url / AWS_ENDPOINT_URL, or start the "
                                   "emulator with `inventory local start`")
    if isinstance(exc, botocore.exceptions.ClientError):
        err = exc.response.get("Error", {})
        code = error_code(exc) or "Error"
        if code in {"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId",
                    "UnrecognizedClientException", "SignatureDoesNotMatch"}:
            return InventoryError(f"AWS rejected the credentials ({code}): {err.get('Message')}",
                                  hint="refresh your credentials or pick another --profile")
        if code in {"AccessDenied", "AccessDeniedException"}:
            return InventoryError(f"access denied: {err.get('Message')}")
        return None
    return None


