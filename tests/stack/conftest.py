"""Stack tests run on in-process moto with the seam installed before the mock starts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from inventory_cli.local import moto_seam


@pytest.fixture
def moto_mock(aws_credentials: None) -> Iterator[None]:
    from moto import mock_aws

    moto_seam.install()  # Cognito role mapping and the bucket-policy fix (see moto_seam)
    with mock_aws():
        yield
