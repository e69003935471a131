"""The Lambda deployment zip, built reproducibly from the installed `lambda_src` package.

Same source, same bytes: entries sorted, fixed timestamps and permissions, only `*.py` files
(no `__pycache__`). That is what lets provision compare the zip's SHA-256 with the deployed
`CodeSha256` and upload code only when it changed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "lambda_src"
# The earliest time a zip entry can carry; any fixed value would do.
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644  # regular file, rw-r--r--


@dataclass(frozen=True)
class LambdaZip:
    data: bytes

    @property
    def code_sha256(self) -> str:
        """The digest as Lambda reports it in `CodeSha256` (base64 of the raw SHA-256)."""
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode()


def package_dir() -> Path:
    """Where the installed `lambda_src` package lives."""
    import lambda_src

    return Path(lambda_src.__file__).resolve().parent


def build_zip(source: Path | None = None, *, package: str = PACKAGE) -> LambdaZip:
    """Zip every `*.py` under `source` (default: the installed package) as `<package>/...`."""
    root = source or package_dir()
    files = sorted(p for p in root.rglob("*.py")
                   if p.is_file() and "__pycache__" not in p.relative_to(root).parts)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in files:
            info = zipfile.ZipInfo(f"{package}/{path.relative_to(root).as_posix()}",
                                   date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the permission bits below are honoured
            info.external_attr = _FILE_MODE << 16
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    return LambdaZip(buffer.getvalue())
