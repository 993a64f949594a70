"""Read a table of texts and labels from CSV, TSV, JSONL/JSON, Parquet or XLSX into pandas.

Delimiters are sniffed; the text encoding is UTF-8 (BOM or not), UTF-16 by its BOM, else Windows-1252 or latin-1;
delimited files are read as text, so a label like "007" stays "007". Every failure is a DataError with one plain
sentence; what was read but repaired is said in `df.attrs["read_warnings"]`.
"""
from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import DataError

DELIMITERS = (",", ";", "\t", "|")
SNIFF_BYTES = 64 * 1024
_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\r?\n)+")

def read_table(path: str | Path, keep_blank_rows: bool = False) -> pd.DataFrame:
    """Read CSV/TSV/TXT, JSONL/JSON, Parquet or XLSX by extension (anything else is tried as CSV).
    `keep_blank_rows`: rows with every cell empty stay (predictions must line up with the input's rows)."""
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
        df = _read_binary(path, "Excel", lambda: _read_excel(path))
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
    read_warnings = list(df.attrs.get("read_warnings", []))
    df.columns = [str(c).strip() for c in df.columns]
    df, repeated = _first_of_repeated_columns(df, name)
    read_warnings += repeated
    # Spreadsheet exports often carry empty trailing columns; they are noise, not data.
    df = df.drop(columns=[c for c in df.columns if c.startswith("Unnamed:") and df[c].isna().all()])
    rows = len(df)
    if not keep_blank_rows:
        df = df.dropna(how="all").reset_index(drop=True)
    if len(df.columns) == 0 or len(df) == 0:
        raise DataError(f"The file '{name}' has no rows of data.")
    df.attrs["read_warnings"] = read_warnings
    df.attrs["blank_rows"] = rows - len(df)  # counted, so the rows read match the file's own count
    return df


def _first_of_repeated_columns(df: pd.DataFrame, name: str) -> tuple[pd.DataFrame, list[str]]:
    """Keep the first of the columns that share a name, so a column name means one column; say so."""
    counts = df.columns.value_counts(sort=False)
    repeated = [column for column, n in counts.items() if n > 1]
    if not repeated:
        return df, []
    words = {2: "two", 3: "three"}
    warnings = [f"The file '{name}' has {words.get(counts[c], counts[c])} columns named '{c}'; the first one is used."
                for c in repeated]
    return df.loc[:, ~df.columns.duplicated()], warnings


def _read_excel(path: Path) -> pd.DataFrame:
    """The first sheet that holds a table (a workbook often opens with a notes sheet), its header found below any
    title rows above it."""
    sheets = pd.read_excel(path, sheet_name=None, header=None, engine="openpyxl")
    for position, (sheet, grid) in enumerate(sheets.items()):
        grid = grid.dropna(how="all").dropna(axis=1, how="all")
        if grid.shape[1] < 2 or len(grid) < 2:
            continue
        # The header is the first row that fills at least half the columns: a title row above it fills one.
        filled = grid.notna().sum(axis=1).to_numpy()
        header = int((filled >= max(2, (filled.max() + 1) // 2)).argmax())
        table = grid.iloc[header + 1:].reset_index(drop=True)
        table.columns = [str(c) if pd.notna(c) else f"Unnamed: {i}" for i, c in enumerate(grid.iloc[header])]
        warnings = [] if position == 0 else [f"Read the sheet '{sheet}', the first one that holds a table."]
        table.attrs["read_warnings"] = warnings
        return table
    first = next(iter(sheets.values()))
    return first.dropna(how="all").dropna(axis=1, how="all")


def _read_binary(path: Path, kind: str, reader: Any) -> pd.DataFrame:
    try:
        return reader()
    except Exception:
        raise DataError(f"The file '{path.name}' could not be read as {kind}; it may be damaged or saved in another format.") from None


def _read_json(path: Path, lines: bool) -> pd.DataFrame:
    """JSON Lines, or a JSON array of records / an object of columns; a .json that is really JSON Lines works too."""
    text, warnings = _decode(path.read_bytes(), path.name)
    df = _json_table(path, text, lines)
    df.attrs["read_warnings"] = warnings
    return df


def _json_table(path: Path, text: str, lines: bool) -> pd.DataFrame:
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
            return pd.json_normalize(data)
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
    return pd.json_normalize(records)  # nested objects become columns like "meta.label"


def _encoding(raw: bytes) -> tuple[str, int]:
    """(encoding, bytes it cannot decode): UTF-16 by its BOM; UTF-8 when valid, or when it is mostly UTF-8 with a few
    stray bytes (those become U+FFFD rather than garbling every accented letter of the file); else Windows-1252, which
    Excel on Windows writes (curly quotes, dashes); else latin-1, which decodes any byte."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16", 0
    try:
        raw.decode("utf-8")
        return "utf-8-sig", 0
    except UnicodeDecodeError:
        pass
    lenient = raw.decode("utf-8", errors="replace")
    bad = lenient.count("\ufffd")
    multibyte = len(lenient) - len(lenient.encode("ascii", "ignore")) - bad  # valid non-ASCII characters
    if multibyte > bad:
        return "utf-8-sig", bad
    try:
        raw.decode("cp1252")
        return "cp1252", 0
    except UnicodeDecodeError:
        return "latin-1", 0


def _replaced_warning(name: str, bad: int) -> str:
    return (f"{bad:,} {'byte' if bad == 1 else 'bytes'} of '{name}' {'is' if bad == 1 else 'are'} not valid UTF-8 "
            "and became '\ufffd'. Save the file as UTF-8 to keep those characters.")


def _decode(raw: bytes, name: str) -> tuple[str, list[str]]:
    """The file's text, and a warning when some bytes could not be decoded."""
    encoding, bad = _encoding(raw)
    try:
        text = raw.decode(encoding, errors="replace" if bad else "strict")
    except UnicodeDecodeError:
        raise DataError(f"The file '{name}' could not be read as text.") from None
    return text, [_replaced_warning(name, bad)] if bad else []


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
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"The file '{path.name}' is empty.")
    head = raw[:SNIFF_BYTES]
    if b"\x00" in head and head[:2] not in (b"\xff\xfe", b"\xfe\xff"):
        raise DataError(f"The file '{path.name}' is not a text table; it may be damaged or in another format.")
    text, warnings = _decode(raw, path.name)
    text = _LEADING_BLANK_LINES.sub("", text)  # the header is the first line with something on it
    sep = _sniff_delimiter(text[:SNIFF_BYTES], prefer)
    try:
        # Every cell as text: numbers are told apart later, and "007" or "1.50" stay what the user wrote.
        # Only empty cells are missing: a label like "NA" or "None" is a real value here.
        # Empty lines are rows too (blank texts to predict, or rows the report counts as blank).
        df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=[""],
                         skipinitialspace=True, skip_blank_lines=False)
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
    header = next(csv.reader(io.StringIO(text[:SNIFF_BYTES]), delimiter=sep, skipinitialspace=True), [])
    if len(header) == len(df.columns):
        # pandas renames a repeated name ('label', 'label.1'): give it back, so read_table can say it is repeated.
        df.columns = [name if name and col != name and str(col).startswith(name + ".") else col
                      for name, col in zip(header, df.columns)]
    df.attrs["read_warnings"] = warnings
    return df
