"""The dashboard's test backend and browser, in one place.

For now the backend is a moto server started in this process (after the moto seam is installed),
and the stack the page needs is created by hand: the table, an identity pool that allows
unauthenticated identities, the dashboard bucket with the shipped assets and config.json, and the
six lab files' rows. Each test gets its own stack name, so tests never see each other's rows.
(The plan is to switch this fixture to the real emulator + `inventory provision`; only this file
changes then.)
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from dashboard_stack import REPO, DashboardStack, Row, sample_rows

from inventory_cli.config import LOCAL_ACCOUNT_ID, StackNames
from inventory_cli.dashboard import CONFIG_KEY, config_json, dashboard_url, iter_assets

ARTIFACTS = REPO / "test-artifacts" / "dashboard"
REGION = "us-east-1"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

@pytest.fixture(scope="session")
def backend_endpoint() -> Iterator[str]:
    """A moto server in this process, on a free port (port 0: xdist workers never collide)."""
    from moto.server import ThreadedMotoServer

    from inventory_cli.local import moto_seam

    moto_seam.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def backend_session() -> boto3.session.Session:
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name=REGION)


_stack_numbers = itertools.count(1)


@pytest.fixture
def make_dashboard_stack(
    backend_endpoint: str, backend_session: boto3.session.Session
) -> Callable[..., DashboardStack]:
    """Create a stack's dashboard side; `identity_pool_id` overrides what config.json names."""

    def make(rows: list[Row] | None = None, *, identity_pool_id: str | None = None,
             threshold: int = 0) -> DashboardStack:
        stack = f"dash{os.getpid()}-{next(_stack_numbers)}"
        names = StackNames(stack=stack, account_id=LOCAL_ACCOUNT_ID, region=REGION)

        def client(service: str) -> Any:
            return backend_session.client(service, endpoint_url=backend_endpoint)

        dynamodb = client("dynamodb")
        dynamodb.create_table(
            TableName=names.table,
            KeySchema=[{"AttributeName": "Store", "KeyType": "HASH"},
                       {"AttributeName": "Item", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "Store", "AttributeType": "S"},
                                  {"AttributeName": "Item", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        cognito = client("cognito-identity")
        pool_id = cognito.create_identity_pool(
            IdentityPoolName=names.identity_pool, AllowUnauthenticatedIdentities=True
        )["IdentityPoolId"]
        s3 = client("s3")
        s3.create_bucket(Bucket=names.dashboard_bucket)
        # Browsers fetch the page anonymously: like provision, allow public reads of objects
        # (moto enforces this: without it an unsigned GET answers 403).
        s3.put_bucket_policy(Bucket=names.dashboard_bucket, Policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Sid": "PublicReadDashboard", "Effect": "Allow", "Principal": "*",
                           "Action": "s3:GetObject",
                           "Resource": f"arn:aws:s3:::{names.dashboard_bucket}/*"}],
        }))
        for key, body, content_type in iter_assets():
            s3.put_object(Bucket=names.dashboard_bucket, Key=key, Body=body,
                          ContentType=content_type)
        config = config_json(region=REGION, identity_pool_id=identity_pool_id or pool_id,
                             table=names.table, threshold=threshold, endpoint=backend_endpoint)
        s3.put_object(Bucket=names.dashboard_bucket, Key=CONFIG_KEY, Body=config,
                      ContentType="application/json")
        created = DashboardStack(
            names=names,
            url=dashboard_url(bucket=names.dashboard_bucket, region=REGION,
                              endpoint=backend_endpoint),
            identity_pool_id=pool_id,
            dynamodb=dynamodb,
        )
        created.put_rows(sample_rows() if rows is None else rows)
        return created

    return make


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=os.environ.get("INVENTORY_CHROMIUM", "/usr/bin/chromium"),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context per test (no shared storage), desktop-sized."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB",
                                  timezone_id="UTC")
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    """Save a full-page screenshot as a test artifact (test-artifacts/dashboard/NAME.png)."""

    def take(target_page: Any, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        target_page.screenshot(path=str(path), full_page=True)
        return path

    return take
