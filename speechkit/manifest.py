"""Dataset manifests: CSV files with one row per example and file paths relative to the manifest."""
import csv
import os
from pathlib import Path

from .errors import UserError


class ManifestError(UserError, ValueError):
    """A manifest that cannot be used; the message names the file, the row and the problem."""


def is_path_column(name: str) -> bool:
    """Columns named `path` or `*_path` hold file paths, stored relative to the manifest's folder."""
    return name == "path" or name.endswith("_path")


def read_manifest(path, required: tuple[str, ...] = ("path",), check_files: bool = True) -> list[dict]:
    """Rows of a manifest as dicts of strings, with path columns resolved to absolute `Path`s."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"manifest not found: {path}")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        missing = [c for c in required if c not in columns]
        if missing:
            raise ManifestError(f"{path}: missing column(s) {', '.join(missing)} (has: {', '.join(columns)})")
        rows = [_resolve(row, path.parent) for row in reader]
    if not rows:
        raise ManifestError(f"{path}: no rows")
    if check_files:
        absent = [(i + 2, p) for i, row in enumerate(rows) for c, p in row.items() if is_path_column(c)
                  and not p.is_file()]
        if absent:
            line, file = absent[0]
            raise ManifestError(f"{path}: line {line}: file not found: {file} ({len(absent)} missing in all)")
    return rows


def write_manifest(path, rows: list[dict], columns: list[str] | None = None) -> None:
    """Write rows atomically (temporary file, then rename); path columns become relative to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = columns or list(rows[0])
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _relative(row[c], path.parent) if is_path_column(c) else _text(row[c])
                             for c in columns})
    os.replace(tmp, path)


def _resolve(row: dict, folder: Path) -> dict:
    return {c: (folder / v).resolve() if is_path_column(c) else v for c, v in row.items()}


def _relative(value, folder: Path) -> str:
    value = Path(value)
    return Path(os.path.relpath(value, folder)).as_posix() if value.is_absolute() else value.as_posix()


def _text(value) -> str:
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)
