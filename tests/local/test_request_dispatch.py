"""The per-request lookups the emulator answers once give moto's own answers."""

from __future__ import annotations

import os

import moto
import pytest
from moto.core.utils import method_names_from_class

from inventory_cli.local import moto_seam
from inventory_cli.local.seam.request_dispatch import _FunctionNames


def _handler_classes() -> list[type]:
    from moto.awslambda.responses import LambdaResponse
    from moto.cognitoidentity.responses import CognitoIdentityResponse
    from moto.dynamodb.responses import DynamoHandler
    from moto.s3.responses import S3Response
    from moto.sns.responses import SNSResponse

    return [DynamoHandler, S3Response, LambdaResponse, SNSResponse, CognitoIdentityResponse]


@pytest.mark.parametrize("clazz", _handler_classes(), ids=lambda c: c.__name__)
def test_an_action_is_a_handler_method_exactly_when_moto_says_so(clazz: type) -> None:
    moto_seam.install()
    upstream = set(method_names_from_class(clazz))
    asked = set(dir(clazz)) | {"no_such_action", "__init__", ""}
    answers = _FunctionNames(clazz)
    assert {name for name in asked if name in answers} == upstream


def test_the_module_list_is_moto_packages_folders() -> None:
    moto_seam.install()
    from moto import backends

    folder = os.path.dirname(moto.__file__)
    expected = [name for name in sorted(os.listdir(folder))
                if os.path.isdir(os.path.join(folder, name)) and not name.startswith("__")]
    assert list(backends.list_of_moto_modules()) == expected
    assert "dynamodb" in expected
