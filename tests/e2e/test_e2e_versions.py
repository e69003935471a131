"""End-to-end: S3 events name the object's version, so kept failures and retry use it.

A versioned uploads bucket's events carry `versionId` (on the emulator as on S3). A load that
failed is kept with the version it was told about; `inventory failures` shows that version; once
the same file name holds a newer upload, `inventory retry` leaves the old version alone
(`superseded`) instead of loading it over the newer rows.
"""

from __future__ import annotations

import json

import pytest
from e2e_target import Target, write_csv
from test_e2e_failures import failures, set_env, table_rows

pytestmark = pytest.mark.e2e

OLD = [("Kiel", "Echo Dot", 4), ("Kiel", "Echo Show", 7)]
NEW = [("Kiel", "Echo Dot", 9), ("Kiel", "Echo Show", 1)]


def test_a_kept_load_names_its_version_and_retry_skips_it_once_superseded(e2e: Target) -> None:
    e2e.run("provision")
    loader = f"{e2e.stack}-load-inventory"
    set_env(e2e, loader, INVENTORY_TABLE=f"{e2e.stack}-no-such-table")
    name = write_csv(e2e.work / "kiel.csv", OLD).name
    e2e.run("upload", "--wait", "--timeout", str(int(e2e.timeout_s * 4)), name, expect=1)

    s3 = e2e.boto3_client("s3")
    old_version = s3.head_object(Bucket=e2e.uploads_bucket(), Key=name)["VersionId"]
    assert old_version not in (None, "", "null")
    [kept] = failures(e2e)
    assert kept["files"] == [{"bucket": e2e.uploads_bucket(), "key": name,
                              "version_id": old_version}]
    listed = e2e.run("failures", "--output", "table")
    # The table may wrap "kiel.csv (version <id>)" over two lines.
    assert "kiel.csv (version" in listed.stdout and old_version in listed.stdout, listed.stdout

    # Repaired, and the same file name uploaded again with newer counts: that one loads.
    e2e.run("provision")
    write_csv(e2e.work / "kiel.csv", NEW)
    e2e.run("upload", "--wait", "--timeout", str(int(e2e.timeout_s * 4)), name)
    assert table_rows(e2e) == set(NEW)

    retried = json.loads(e2e.run("retry", "--all", "--output", "json").stdout)
    assert [o["result"] for o in retried] == ["superseded"]
    assert table_rows(e2e) == set(NEW)  # the old version was not loaded over the new one
