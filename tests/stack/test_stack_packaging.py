"""The Lambda zip is reproducible: same source, same bytes."""

from __future__ import annotations

import os
import zipfile
from io import BytesIO
from pathlib import Path

from inventory_cli.stack.packaging import build_zip, package_dir


def _tree(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "__pycache__").mkdir()
    (root / "__init__.py").write_text("")
    (root / "b.py").write_text("B = 2\n")
    (root / "a.py").write_text("A = 1\n")
    (root / "sub" / "c.py").write_text("C = 3\n")
    (root / "notes.txt").write_text("not shipped")
    (root / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    return root


def test_same_source_gives_same_bytes(tmp_path: Path) -> None:
    root = _tree(tmp_path / "pkg")
    first = build_zip(root)
    os.utime(root / "a.py", (0, 0))  # a new mtime (a fresh checkout) changes nothing
    (root / "b.py").chmod(0o600)
    assert build_zip(root).data == first.data
    (root / "a.py").write_text("A = 10\n")
    assert build_zip(root).code_sha256 != first.code_sha256


def test_only_python_files_sorted_with_fixed_metadata(tmp_path: Path) -> None:
    archive = zipfile.ZipFile(BytesIO(build_zip(_tree(tmp_path / "pkg")).data))
    infos = archive.infolist()
    assert [i.filename for i in infos] == ["lambda_src/__init__.py", "lambda_src/a.py",
                                           "lambda_src/b.py", "lambda_src/sub/c.py"]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}
    assert archive.read("lambda_src/sub/c.py") == b"C = 3\n"


def test_the_installed_package_is_zipped_with_both_handlers() -> None:
    names = zipfile.ZipFile(BytesIO(build_zip().data)).namelist()
    assert "lambda_src/load_inventory.py" in names
    assert "lambda_src/check_stock.py" in names
    assert all(n.startswith("lambda_src/") and n.endswith(".py") for n in names)
    assert package_dir().name == "lambda_src"
