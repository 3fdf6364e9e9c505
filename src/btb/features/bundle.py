"""The features as the deliverable (``outputs.video: false``): one zip of the features tables and sidecar,
checked before it may leave the lab, in place of a de-identified video.

The zip is deterministic (fixed member order, times and permissions), so the same tables give the same
sha256. The check reads every table back and refuses one whose columns are not the documented ones
(``btb.features.table``) or whose values are not plain numbers and short strings: nothing image-like can
ride along.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pandas as pd

from btb.audit.io import atomic_output, read_json
from btb.features.table import FACE_COLUMNS, FRAME_COLUMNS, TRACK_COLUMNS

TABLES = {"faces": FACE_COLUMNS, "tracks": TRACK_COLUMNS, "frames": FRAME_COLUMNS}
MAX_STRING = 200  # the longest text a features cell may hold (sources lists are far shorter)
EPOCH = (1980, 1, 1, 0, 0, 0)


def write_bundle(files: list[str | Path], out: str | Path) -> None:
    """Zip ``files`` (by base name, in the given order) deterministically into ``out``, atomically."""
    with atomic_output(out) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in map(Path, files):
            info = zipfile.ZipInfo(f.name, date_time=EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, f.read_bytes())


def check_tables(tables: dict[str, str | Path], sidecar: str | Path) -> dict[str, Any]:
    """The output check of a features deliverable: every table has exactly its documented columns and types,
    text cells are short, and the sidecar names the same tables and row counts."""
    problems: list[str] = []
    rows: dict[str, int] = {}
    for name, path in tables.items():
        df = pd.read_parquet(path)
        rows[name] = len(df)
        want = list(TABLES[name])
        if list(df.columns) != want:
            problems.append(f"{name}: columns {list(df.columns)} are not the documented {want}")
            continue
        for col, kind in TABLES[name].items():
            if kind == "string":
                longest = int(df[col].astype(str).str.len().max()) if len(df) else 0
                if longest > MAX_STRING:
                    problems.append(f"{name}.{col}: a text cell of {longest} characters")
            elif not pd.api.types.is_numeric_dtype(df[col]):
                problems.append(f"{name}.{col}: {df[col].dtype} is not numeric")
    meta = read_json(sidecar)
    if meta.get("rows") != rows:
        problems.append(f"the sidecar's row counts {meta.get('rows')} are not the tables' {rows}")
    return {"kind": "features", "passed": not problems, "problems": problems, "rows": rows,
            "tables": sorted(tables)}
