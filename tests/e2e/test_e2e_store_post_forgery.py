"""End-to-end: nobody writes a store's folder with a POST the stack did not sign.

The uploads bucket takes browser-style POSTs (the store page's and the README's curl recipe);
S3 stores one only when its policy is signed with a key it knows. Forged POSTs into a store's
folder, the way anything on the machine could try, are refused with S3's own codes, and the
loader never sees a file: no object, no row. (The store page's own POST, signed by the store
endpoint, is exercised by test_store_uploads.py and tests/browser/test_upload_page.py.)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from e2e_target import Target
from test_e2e_failures import table_rows

from inventory_cli.aws import LOCAL_CREDENTIALS

pytestmark = pytest.mark.e2e

FILE = b"Store,Item,Count\nBerlin,Echo Dot,999\n"


def _signer(e2e: Target, key: str, secret: str) -> Any:
    """An S3 client signing as `key` with `secret` (SigV4, as browsers' POSTs are signed)."""
    real = e2e.boto3_client("s3")
    return boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret,
                                 region_name=real.meta.region_name).client(
        "s3", endpoint_url=real.meta.endpoint_url, config=Config(signature_version="s3v4"))


def _post(url: str, fields: dict[str, str]) -> tuple[int, str]:
    answer = requests.post(url, data=fields, files={"file": ("berlin.csv", FILE, "text/csv")},
                           timeout=60)
    code = ET.fromstring(answer.text).findtext("Code") if answer.status_code >= 300 else ""
    return answer.status_code, code or ""


def test_forged_posts_into_a_store_folder_are_refused_and_nothing_is_loaded(
        e2e: Target) -> None:
    e2e.run("provision")
    bucket = e2e.uploads_bucket()
    # A key the target knows: the CLI's own on our emulator, the caller's elsewhere.
    own_key = (LOCAL_CREDENTIALS["aws_access_key_id"] if e2e.is_local
               else e2e.boto3_client("s3")._request_signer._credentials.access_key)  # noqa: SLF001
    attempts = {
        # A policy signed with a guessed secret of a key the account has.
        "SignatureDoesNotMatch": _signer(e2e, own_key, "guessed-secret"),
        # A key nobody issued.
        "InvalidAccessKeyId": _signer(e2e, "AKIAFORGEDFORGED0000", "anything"),
    }
    for code, signer in attempts.items():
        post = signer.generate_presigned_post(
            Bucket=bucket, Key=f"stores/Berlin/forged-{code}.csv",
            Fields={"Content-Type": "text/csv"}, Conditions=[{"Content-Type": "text/csv"}])
        assert _post(post["url"], post["fields"]) == (403, code)
    # No policy at all: an anonymous upload.
    url = post["url"]
    assert _post(url, {"key": "stores/Berlin/unsigned.csv", "Content-Type": "text/csv"}) == (
        403, "AccessDenied")

    listing = e2e.boto3_client("s3").list_objects_v2(Bucket=bucket, Prefix="stores/")
    assert listing.get("Contents", []) == []
    assert table_rows(e2e) == set()
