"""The shipped page: exactly the built files, nothing fetched from elsewhere, no HTML sinks."""

from __future__ import annotations

import json
import re

from inventory_cli.dashboard import config_json, dashboard_url, iter_assets


def assets() -> dict[str, tuple[bytes, str]]:
    return {key: (body, content_type) for key, body, content_type in iter_assets()}


def test_the_built_page_is_shipped_with_its_content_types() -> None:
    shipped = assets()
    assert {key: ct for key, (_, ct) in shipped.items()} == {
        "app.css": "text/css; charset=utf-8",
        "app.js": "text/javascript; charset=utf-8",
        "index.html": "text/html; charset=utf-8",
        "upload.css": "text/css; charset=utf-8",
        "upload.html": "text/html; charset=utf-8",
        "upload.js": "text/javascript; charset=utf-8",
    }


def test_the_page_loads_only_its_own_files() -> None:
    html = assets()["index.html"][0].decode()
    references = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert sorted(references) == ["app.css", "app.js", "data:,"]
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html)
    assert csp is not None
    assert "script-src 'self'" in csp.group(1)
    assert "default-src 'none'" in csp.group(1)


def test_the_bundle_never_writes_html() -> None:
    # Names are data: the page sets textContent only. A bundle with an HTML sink is a regression.
    script = assets()["app.js"][0].decode()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink
    assert "aws4fetch" in script  # signing comes from the library, bundled (licence kept)


def test_config_json_and_url_follow_the_contract() -> None:
    body = config_json(region="eu-west-1", identity_pool_id="eu-west-1:abc", table="t-inventory",
                       threshold=3)
    assert json.loads(body) == {"endpoint": None, "identityPoolId": "eu-west-1:abc",
                                "lowStockThreshold": 3, "region": "eu-west-1",
                                "table": "t-inventory", "stack": None,
                                "dashboardRoleArn": None, "summaryTable": None,
                                "uploadUrl": None, "access": "public", "userPoolId": None,
                                "userPoolClientId": None}
    assert dashboard_url(bucket="b", region="eu-west-1") == (
        "https://b.s3.eu-west-1.amazonaws.com/index.html")
    assert dashboard_url(bucket="b", region="us-east-1", endpoint="http://127.0.0.1:4566/") == (
        "http://127.0.0.1:4566/b/index.html")
