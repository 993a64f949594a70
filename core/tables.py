"""Read a table of texts and labels from CSV, TSV, JSONL/JSON, Parquet or XLSX into pandas.

Delimiters are sniffed, a UTF-8 BOM is tolerated and non-UTF-8 text falls back to latin-1; every failure is a
DataError with one plain sentence.
"""
from __future__ import annotations

import csv
import importlib.util
import io
import json
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import DataError

DELIMITERS = (",", ";", "\t", "|")
SNIFF_BYTES = 64 * 1024

def read_table(path: str | Path) -> pd.DataFrame:
    """Read CSV/TSV/TXT, JSONL/JSON, Parquet or XLSX by extension (anything else is tried as CSV)."""
    path = Path(path)
    name = path.name
    if not path.exists():
        raise DataError(f"The file '{name}' was not found.")
    if path.is_dir():
        raise DataError(f"'{name}' is a folder, not a file.")
    if path.stat().st_size == 0:
        raise DataError(f"The file '{name}' is empty.")
    ext = path.suffix.lower()
    if ext in (".jsonl", ".ndjson", ".json"):
        df = _read_json(path, lines=ext != ".json")
    elif ext in (".parquet", ".pq"):
        df = _read_binary(path, "Parquet", lambda: pd.read_parquet(path))
    elif ext in (".xlsx", ".xlsm"):
        df = _read_binary(path, "Excel", lambda: pd.read_excel(path, sheet_name=0, engine="openpyxl"))
    elif ext == ".xls":
        if importlib.util.find_spec("xlrd") is None:  # pandas needs xlrd for the pre-2007 format
            raise DataError(f"Old .xls files cannot be read here. Save '{name}' as .xlsx or CSV and try again.")
        df = _read_binary(path, "Excel", lambda: pd.read_excel(path, sheet_name=0))
    elif ext in (".csv", ".tsv", ".tab", ".txt"):
        df = _read_delimited(path, prefer="\t" if ext in (".tsv", ".tab") else ",")
    else:
        try:
            df = _read_delimited(path, prefer=",")
        except DataError:
            raise DataError(
                f"The file '{name}' has an unsupported format ('{ext or 'no extension'}'). "
                "Use CSV, TSV, JSONL, Parquet or XLSX."
            ) from None
    df.columns = [str(c).strip() for c in df.columns]
    # Spreadsheet exports often carry empty trailing columns; they are noise, not data.
    df = df.drop(columns=[c for c in df.columns if c.startswith("Unnamed:") and df[c].isna().all()])
    df = df.dropna(how="all").reset_index(drop=True)
    if len(df.columns) == 0 or len(df) == 0:
        raise DataError(f"The file '{name}' has no rows of data.")
    return df


def _read_binary(path: Path, kind: str, reader: Any) -> pd.DataFrame:
    try:
        return reader()
    except Exception:
        raise DataError(f"The file '{path.name}' could not be read as {kind}; it may be damaged or saved in another format.") from None


def _read_json(path: Path, lines: bool) -> pd.DataFrame:
    """JSON Lines, or a JSON array of records / an object of columns; a .json that is really JSON Lines works too."""
    text = _decode(path.read_bytes(), path.name)
    if not lines:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None  # maybe JSON Lines saved as .json
        if isinstance(data, dict):
            # {"data": [...]} wrappers are common; otherwise treat it as {column: [values]}.
            lists = [v for v in data.values() if isinstance(v, list) and v and all(isinstance(r, dict) for r in v)]
            if len(lists) == 1:
                data = lists[0]
            else:
                try:
                    return pd.DataFrame(data)
                except ValueError:
                    raise DataError(f"The file '{path.name}' is JSON but not a table of records.") from None
        if isinstance(data, list):
            if not all(isinstance(r, dict) for r in data):
                raise DataError(f"The file '{path.name}' is JSON but not a list of records like {{\"text\": ..., \"label\": ...}}.")
            return pd.DataFrame.from_records(data)
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise DataError(f"Line {number} of '{path.name}' is not valid JSON.") from None
        if not isinstance(record, dict):
            raise DataError(f"Line {number} of '{path.name}' is not a JSON object like {{\"text\": ..., \"label\": ...}}.")
        records.append(record)
    if not records:
        raise DataError(f"The file '{path.name}' has no rows of data.")
    return pd.DataFrame.from_records(records)


def _decode(raw: bytes, name: str, errors: str = "strict") -> str:
    """UTF-16 by its BOM, else UTF-8 (BOM or not), else latin-1."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return raw.decode("utf-16", errors=errors)
        except UnicodeDecodeError:
            raise DataError(f"The file '{name}' could not be read as text.") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # every byte is valid latin-1: the usual encoding of old Excel CSV exports


def _sniff_delimiter(sample: str, prefer: str) -> str:
    """The delimiter that splits the header into >= 2 fields and every sampled row into the same number."""
    # Drop the last line: the sample may have cut it in half.
    lines = sample.splitlines()[:-1] if "\n" in sample.rstrip("\n") else sample.splitlines()
    text = "\n".join(line for line in lines[:200] if line.strip())
    best, best_score = prefer, (-1.0, 0, 0)
    for delim in DELIMITERS:
        try:
            rows = list(csv.reader(io.StringIO(text), delimiter=delim))
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistency = sum(len(r) == width for r in rows) / len(rows)
        score = (consistency, int(delim == prefer), width)
        if score > best_score:
            best, best_score = delim, score
    return best


def _read_delimited(path: Path, prefer: str) -> pd.DataFrame:
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
    if not head.strip():
        raise DataError(f"The file '{path.name}' is empty.")
    if b"\x00" in head and head[:2] not in (b"\xff\xfe", b"\xfe\xff"):
        raise DataError(f"The file '{path.name}' is not a text table; it may be damaged or in another format.")
    sep = _sniff_delimiter(_decode(head, path.name, errors="replace"), prefer)  # head may end mid-character
    encodings = ["utf-16"] if head[:2] in (b"\xff\xfe", b"\xfe\xff") else ["utf-8-sig", "latin-1"]
    for encoding in encodings:
        try:
            # Only empty cells are missing: a label like "NA" or "None" is a real value here.
            df = pd.read_csv(path, sep=sep, encoding=encoding, keep_default_na=False, na_values=[""],
                             skipinitialspace=True)
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError:
            raise DataError(f"The file '{path.name}' is empty.") from None
        except pd.errors.ParserError:
            df = None
        # When every row has one field too many, pandas silently turns the first field into the index.
        if df is None or not isinstance(df.index, pd.RangeIndex):
            raise DataError(
                f"The file '{path.name}' could not be read: some rows have more columns than the header. "
                "Put quotes around texts that contain the separator."
            )
        return df
    raise DataError(f"The file '{path.name}' could not be read as text.")
