"""Fixtures for the handler tests: moto clients, an uploads bucket (versioned) and the table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from lambda_helpers import BUCKET, create_table

from lambda_src.aws_clients import reset_clients


@pytest.fixture(autouse=True)
def fresh_handler_clients() -> Iterator[None]:
    # The handlers cache clients per process; a client made under another test's mock must not
    # leak into this one.
    reset_clients()
    yield
    reset_clients()


@pytest.fixture
def s3(session: boto3.session.Session) -> Any:
    return session.client("s3")


@pytest.fixture
def dynamodb(session: boto3.session.Session) -> Any:
    return session.client("dynamodb")


@pytest.fixture
def bucket(s3: Any) -> str:
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return BUCKET


@pytest.fixture
def table(dynamodb: Any) -> str:
    return create_table(dynamodb)
