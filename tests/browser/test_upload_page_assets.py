"""The shipped upload page: its own files only, a CSP that allows only its endpoint and S3, no
HTML sinks, and the CSV contract bundled in."""

from __future__ import annotations

import re

from inventory_cli.dashboard import iter_assets


def asset(key: str) -> str:
    return next(body for name, body, _ in iter_assets() if name == key).decode()


def csp_of(html: str) -> dict[str, list[str]]:
    found = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html)
    assert found is not None
    return {name: values for name, *values in
            (part.split() for part in found.group(1).split(";") if part.strip())}


def test_the_upload_page_loads_only_its_own_files() -> None:
    html = asset("upload.html")
    assert sorted(re.findall(r'(?:src|href)="([^"]*)"', html)) == [
        "data:,", "upload.css", "upload.js"]


def test_the_upload_page_may_talk_only_to_itself_a_function_url_and_s3() -> None:
    csp = csp_of(asset("upload.html"))
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["form-action"] == ["'none'"]
    # 'self': the emulator serves page, endpoint and S3 on one origin; on AWS the endpoint is
    # a Lambda function URL (*.on.aws) and the file goes to S3.
    assert csp["connect-src"] == ["'self'", "https://*.on.aws", "https://*.amazonaws.com",
                                  "https://*.amazonaws.com.cn"]


def test_the_upload_bundle_never_writes_html_and_carries_the_contract() -> None:
    script = asset("upload.js")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink
    # The check's wording comes from the port of lambda_src/inventory_csv.py.
    for reason in ("is not a whole number >= 0", "save the file as UTF-8",
                   "the file has a header but no rows", "the later row wins"):
        assert reason in script, reason
