"""The data layer: every format, column guessing, cleaning, the split, the report, and every user-facing error."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from core.data.columns import DataError, detect_columns, order_labels, read_table
from core.data.loading import load_training_data

ROWS = [("I love this product, it works", "pos"), ("Terrible; broke after a day", "neg"),
        ("Great value for the money", "pos"), ("Would not buy again", "neg")]


def write(tmp_path: Path, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def table(sep: str, rows=ROWS, header=("text", "label")) -> str:
    return "\n".join([sep.join(header)] + [sep.join(r) for r in rows]) + "\n"


def expected_df() -> pd.DataFrame:
    return pd.DataFrame(ROWS, columns=["text", "label"])


def same(df: pd.DataFrame, expected: pd.DataFrame | None = None) -> None:
    expected = expected_df() if expected is None else expected
    assert list(df.columns) == list(expected.columns)
    assert df.astype(str).values.tolist() == expected.astype(str).values.tolist()


def raises(message: str):
    return pytest.raises(DataError, match="^" + re.escape(message) + "$")


# ---------------------------------------------------------------- formats

def test_csv_with_quoted_commas(tmp_path):
    path = write(tmp_path, "d.csv", 'text,label\n"Hello, world; hi",pos\n"Bad, bad",neg\n')
    same(read_table(path), pd.DataFrame([("Hello, world; hi", "pos"), ("Bad, bad", "neg")], columns=["text", "label"]))


@pytest.mark.parametrize("sep,name", [(";", "semi.csv"), ("\t", "tabs.csv"), ("\t", "d.tsv"), ("|", "pipes.txt"),
                                      (",", "d.txt"), (";", "unknown.data")])
def test_delimiter_is_sniffed(tmp_path, sep, name):
    # ROWS contain commas (and a ';' in a quoted-free text for the tab/pipe cases): sniffing must not be fooled.
    rows = ROWS if sep in "\t|" else [(t.replace(sep, " "), l) for t, l in ROWS]
    same(read_table(write(tmp_path, name, table(sep, rows))), pd.DataFrame(rows, columns=["text", "label"]))


def test_utf8_bom_is_not_part_of_the_first_column(tmp_path):
    df = read_table(write(tmp_path, "bom.csv", table(",", [("Crème brûlée", "food"), ("Tea", "drink")]), "utf-8-sig"))
    assert list(df.columns) == ["text", "label"]
    assert df["text"].tolist() == ["Crème brûlée", "Tea"]


def test_latin1_fallback(tmp_path):
    df = read_table(write(tmp_path, "old.csv", "text;label\nCafé crème trop sucré;neg\nÇa va;pos\n", "latin-1"))
    assert df["text"].tolist() == ["Café crème trop sucré", "Ça va"]


def test_utf16_with_bom(tmp_path):
    same(read_table(write(tmp_path, "u16.csv", table("\t"), "utf-16")))


def test_jsonl_and_json_variants(tmp_path):
    records = [{"text": t, "label": l} for t, l in ROWS]
    lines = "\n".join(json.dumps(r) for r in records) + "\n\n"
    same(read_table(write(tmp_path, "d.jsonl", lines)))
    same(read_table(write(tmp_path, "lines.json", lines)))  # JSON Lines saved as .json
    same(read_table(write(tmp_path, "records.json", json.dumps(records))))
    same(read_table(write(tmp_path, "wrapped.json", json.dumps({"data": records, "version": 1}))))
    same(read_table(write(tmp_path, "columns.json", json.dumps(expected_df().to_dict(orient="list")))))


def test_parquet_and_xlsx(tmp_path):
    expected_df().to_parquet(tmp_path / "d.parquet")
    same(read_table(tmp_path / "d.parquet"))
    expected_df().to_excel(tmp_path / "d.xlsx", index=False)
    same(read_table(tmp_path / "d.xlsx"))


def test_blank_lines_before_the_header_are_skipped(tmp_path):
    same(read_table(write(tmp_path, "lead.csv", "\n  \r\n" + table("\t"))))


def test_na_like_strings_are_values_and_blank_rows_are_skipped(tmp_path):
    df = read_table(write(tmp_path, "na.csv", "text,label\nnot sure,NA\n,\nfine,None\n"))
    assert df.values.tolist() == [["not sure", "NA"], ["fine", "None"]]


# ---------------------------------------------------------------- read errors (every message exactly)

def test_missing_file_and_folder(tmp_path):
    with raises("The file 'nope.csv' was not found."):
        read_table(tmp_path / "nope.csv")
    with raises("'sub' is a folder, not a file."):
        (tmp_path / "sub").mkdir()
        read_table(tmp_path / "sub")


@pytest.mark.parametrize("message, name, content", [
    ("The file 'empty.csv' is empty.",
     "empty.csv", ""),
    ("The file 'blank.csv' is empty.",
     "blank.csv", "\n\n  \n"),
    ("The file 'header.csv' has no rows of data.",
     "header.csv", "text,label\n"),
    ("The file 'none.json' has no rows of data.",
     "none.json", "[]"),
    ("The file 'blank.jsonl' has no rows of data.",
     "blank.jsonl", "\n \n"),
    ("The file 'x.bin' has an unsupported format ('.bin'). Use CSV, TSV, JSONL, Parquet or XLSX.",
     "x.bin", b"\x00\x01\x02PK\x00"),
    ("The file 'bin.csv' is not a text table; it may be damaged or in another format.",
     "bin.csv", b"text,label\n\x00\x00\x01"),
    ("The file 'ragged.csv' could not be read: some rows have more columns than the header. "
     "Put quotes around texts that contain the separator.",
     "ragged.csv", "text,label\na,b\nc,d\ne,f,g,h\n"),
    ("The file 'commas.csv' could not be read: some rows have more columns than the header. "
     "Put quotes around texts that contain the separator.",
     "commas.csv", "text,label\nfine, thanks,pos\nnot, good,neg\n"),  # pandas would index
    ("The file 'bad.parquet' could not be read as Parquet; it may be damaged or saved in another format.",
     "bad.parquet", "text,label\na,b\n"),
    ("The file 'bad.xlsx' could not be read as Excel; it may be damaged or saved in another format.",
     "bad.xlsx", b"PK\x03\x04 not a zip"),
    ("Line 2 of 'bad.jsonl' is not valid JSON.",
     "bad.jsonl", '{"text": "a", "label": "b"}\n{"text": oops}\n'),
    ('Line 1 of \'list.jsonl\' is not a JSON object like {"text": ..., "label": ...}.',
     "list.jsonl", '["a", "b"]\n'),
    ('The file \'nums.json\' is JSON but not a list of records like {"text": ..., "label": ...}.',
     "nums.json", "[1, 2, 3]"),
    ("The file 'scalar.json' is JSON but not a table of records.",
     "scalar.json", '{"text": "a", "label": "b"}'),
    ("The file 'u16.jsonl' could not be read as text.",
     "u16.jsonl", b"\xff\xfe{\x00}"),  # odd byte count: broken UTF-16
])
def test_read_errors(tmp_path, message, name, content):
    with raises(message):
        read_table(write(tmp_path, name, content))


def test_old_xls_needs_xlrd(tmp_path):
    pytest.importorskip("openpyxl")
    try:
        import xlrd  # noqa: F401
        pytest.skip("xlrd is installed, so .xls files are readable")
    except ImportError:
        pass
    with raises("Old .xls files cannot be read here. Save 'old.xls' as .xlsx or CSV and try again."):
        read_table(write(tmp_path, "old.xls", b"\xd0\xcf\x11\xe0 fake"))


# ---------------------------------------------------------------- columns

def test_detect_columns_picks_longest_text_and_named_label():
    df = pd.DataFrame({
        "id": [1, 2, 3, 4, 5, 6], "title": ["a", "b", "c", "d", "e", "f"],
        "body": ["a long text here", "another long text", "more words in here", "x y z w", "yes indeed", "ok then"],
        "source": ["web", "web", "mail", "mail", "web", "mail"], "Sentiment": ["p", "n", "p", "n", "p", "p"],
    })
    assert detect_columns(df) == ("body", "Sentiment")
    # Without a known name the label is the least varied column; the all-distinct id never qualifies.
    assert detect_columns(df.drop(columns=["Sentiment"])) == ("body", "source")


def test_detect_columns_numeric_labels_and_example_data(example_data):
    df = pd.DataFrame({"review": ["good stuff", "bad stuff", "fine", "meh ok"], "stars": [5, 1, 3, 3]})
    assert detect_columns(df) == ("review", "stars")
    assert detect_columns(read_table(example_data)) == ("text", "label")
    long_labels = pd.DataFrame({"q": ["hi", "card?", "help me", "top up"], "intent": ["card_not_working_abroad"] * 4})
    assert detect_columns(long_labels) == ("q", "intent")


def test_detect_columns_errors():
    with raises("The table has only one column ('text'). It needs a column of texts and a column of labels."):
        detect_columns(pd.DataFrame({"text": ["a", "b"]}))
    with raises("No column with texts was found (every column holds numbers or is empty). Columns: a, b."):
        detect_columns(pd.DataFrame({"a": [1, 2, 3], "b": [0, 1, 0]}))
    with raises("No column with labels was found: a label column repeats a few values (like 'spam' / 'not spam'). "
                "Columns: text, id."):
        detect_columns(pd.DataFrame({"text": ["one", "two", "three"], "id": [1, 2, 3]}))
    with raises("Column 'text' is empty in every row. The table needs a column of texts and a column of labels, "
                "both filled in. Columns: text, label."):
        detect_columns(pd.DataFrame({"text": [None, None, None], "label": ["good", "bad", "good"]}))
    with raises("Columns 'label', 'note' are empty in every row. The table needs a column of texts and a column of "
                "labels, both filled in. Columns: text, label, note."):
        detect_columns(pd.DataFrame({"text": ["one", "two", "three"], "label": [None] * 3, "note": [""] * 3}))
    # A column *named* like a label is taken even when nothing repeats, so loading can say what is wrong.
    assert detect_columns(pd.DataFrame({"text": ["one", "two", "three"], "label": [1, 2, 3]})) == ("text", "label")


def test_explicit_columns_override_detection(tmp_path):
    path = write(tmp_path, "two.csv", "title,body,topic,label\n"
                 "Short,a much longer body text,x,pos\nTiny,another long body text,y,neg\n"
                 "Small,yet another body text,x,pos\nWee,the last long body text,y,neg\n")
    data = load_training_data(path, text_column="title", label_column="topic")
    assert (data.text_column, data.label_column) == ("title", "topic")
    assert sorted(data.train["text"].tolist() + data.validation["text"].tolist()) == ["Short", "Small", "Tiny", "Wee"]
    assert data.labels == ["x", "y"]
    # One side given: the other is still guessed, never the same column.
    assert load_training_data(path, label_column="topic").text_column == "body"
    assert load_training_data(path, text_column="title").label_column == "label"
    assert load_training_data(path, text_column="", label_column=" ").text_column == "body"  # UI's "guess it"


# ---------------------------------------------------------------- labels

@pytest.mark.parametrize("values,expected", [
    ([3, -1, 10, "2", 3], ["-1", "2", "3", "10"]),
    ([1.0, 0.0, float("nan"), None], ["0", "1"]),
    (["10", "9", "+1"], ["+1", "9", "10"]),
    (["10", "9", "x"], ["9", "10", "x"]),  # not all integers: string order, numbers inside compared as numbers
    (["class_10", "class_2", "class_1", "2 stars", "10 stars", "1 star"],
     ["1 star", "2 stars", "10 stars", "class_1", "class_2", "class_10"]),
    (["v1.10", "v1.9", "v01.9"], ["v01.9", "v1.9", "v1.10"]),  # equal numbers: the written form breaks the tie
    (["b", "B", " a ", "a"], ["B", "a", "b"]),  # case-sensitive, stripped, unique
    (["negative", "positive", "neutral"], ["negative", "neutral", "positive"]),
    (["3.0", 2, 0.5], ["0.5", "2", "3"]),
])
def test_order_labels(values, expected):
    assert order_labels(values) == expected


def test_float_labels_become_integer_names(tmp_path):
    # A missing label makes pandas read the column as float (1.0); names must still be "0" / "1".
    path = write(tmp_path, "f.csv", "text,label\n" + "".join(f"text {i},{i % 2}\n" for i in range(8)) + "text 9,\n")
    data = load_training_data(path)
    assert data.labels == ["0", "1"]
    assert set(data.train["label"]) == {"0", "1"}
    assert data.dropped == {"missing label": 1}


# ---------------------------------------------------------------- cleaning and splitting

def test_cleaning_counts_and_columns(tmp_path):
    path = write(tmp_path, "c.csv", "text,label\n  padded text  , pos \n,neg\n   ,neg\nno label,\n"
                 "good one,pos\nbad one,neg\nfine one,pos\nworse one,neg\n,\n")
    data = load_training_data(path)
    # The all-empty row counts too, so the rows read match the row count a spreadsheet shows.
    assert (data.rows_read, data.rows_kept) == (9, 5)
    assert data.dropped == {"empty text": 2, "missing label": 1, "blank": 1}
    assert list(data.train.columns) == ["text", "label"] == list(data.validation.columns)
    everything = pd.concat([data.train, data.validation])
    assert "padded text" in everything["text"].tolist() and set(everything["label"]) == {"pos", "neg"}
    assert all(isinstance(v, str) for v in everything.to_numpy().ravel())
    assert data.validation_source == "split"


def make_csv(tmp_path: Path, counts: dict[str, int], name: str = "s.csv") -> Path:
    rows = [f"example {label} number {i},{label}" for label, n in counts.items() for i in range(n)]
    return write(tmp_path, name, "text,label\n" + "\n".join(rows) + "\n")


def test_stratified_split_every_class_in_validation(tmp_path):
    path = make_csv(tmp_path, {"a": 50, "b": 20, "c": 3, "d": 2})
    data = load_training_data(path, val_share=0.2, seed=1)
    val = data.validation["label"].value_counts().to_dict()
    assert val == {"a": 10, "b": 4, "c": 1, "d": 1}
    assert data.train["label"].value_counts().to_dict() == {"a": 40, "b": 16, "c": 2, "d": 1}
    assert not set(data.train["text"]) & set(data.validation["text"])
    assert data.labels == ["a", "b", "c", "d"] and data.warnings == []


def test_split_is_reproducible_per_seed(tmp_path):
    path = make_csv(tmp_path, {"a": 30, "b": 30})
    first, again = load_training_data(path, seed=7), load_training_data(path, seed=7)
    other = load_training_data(path, seed=8)
    assert first.validation["text"].tolist() == again.validation["text"].tolist()
    assert first.validation["text"].tolist() != other.validation["text"].tolist()


def test_single_example_class_stays_in_train_with_warning(tmp_path):
    data = load_training_data(make_csv(tmp_path, {"a": 5, "b": 5, "rare": 1}))
    assert "rare" in data.train["label"].tolist() and "rare" not in data.validation["label"].tolist()
    assert data.labels == ["a", "b", "rare"]
    assert data.warnings == ["Label 'rare' has only one example, so it stays in training and is never tested. "
                             "Add more examples of it."]


def test_validation_file(tmp_path):
    train = make_csv(tmp_path, {"a": 3, "b": 1, "c": 2}, "train.csv")
    val = write(tmp_path, "val.jsonl", "\n".join(json.dumps({"text": t, "label": l, "extra": 1})
                                                  for t, l in [("va", "a"), ("vb", "b"), ("vd", "d"), ("", "a")]))
    data = load_training_data(train, val_data_path=val)
    assert data.validation_source == "file"
    assert (len(data.train), len(data.validation), data.rows_read, data.rows_kept) == (6, 3, 10, 9)
    assert data.dropped == {"empty text": 1}
    assert data.labels == ["a", "b", "c", "d"]
    assert data.warnings == [
        "Label 'b' has only one training example. Add more examples of it.",
        "Label 'c' has no validation examples, so its score cannot be measured.",
        "Label 'd' appears only in the validation file, so the model can never predict it.",
    ]


def test_load_errors(tmp_path):
    path = make_csv(tmp_path, {"a": 3, "b": 3})
    with raises("Column 'xyz' is not in the file. Columns: text, label."):
        load_training_data(path, text_column="xyz")
    with raises("Column 'lbl' is not in the file. Columns: text, label."):
        load_training_data(path, label_column="lbl")
    with raises("The text column and the label column are both 'text'. Choose two different columns."):
        load_training_data(path, text_column="text", label_column="text")
    with raises("The validation share must be between 0 and 1 (for example 0.2), not 1.5."):
        load_training_data(path, val_share=1.5)
    with raises("The file has only one label ('spam'). A classifier needs at least two different labels."):
        load_training_data(make_csv(tmp_path, {"spam": 4}, "one.csv"))
    with raises("None of the 3 rows can be used: each has an empty 'text' or a missing 'label'."):
        load_training_data(write(tmp_path, "e.csv", "text,label,id\n,a,1\n,b,2\nx,,3\n"), "text", "label")
    with raises("Every label has only one example, so nothing is left to validate on. "
                "Add at least two examples per label."):
        load_training_data(make_csv(tmp_path, {"a": 1, "b": 1}, "tiny.csv"))
    with raises("Column 'label' is not in the validation file. Columns: text, y."):
        load_training_data(path, val_data_path=write(tmp_path, "v.csv", "text,y\nq,a\n"))
    with raises("The validation file has no usable rows: each has an empty 'text' or a missing 'label'."):
        load_training_data(path, val_data_path=write(tmp_path, "v2.csv", "text,label\n,a\nq,\n"))
    with raises("The file 'gone.csv' was not found."):
        load_training_data(path, val_data_path=tmp_path / "gone.csv")



def test_repeated_column_names_use_the_first_column_and_say_so(tmp_path):
    """pandas would read the second 'label' as 'label.1' without a word; a workbook keeps both under one name."""
    from core.data.report import build_report

    rows = [("I love it", "pos", "x"), ("Hate it", "neg", "y"), ("Great", "pos", "x"), ("Awful", "neg", "y")] * 3
    path = write(tmp_path, "dup.csv", table(",", rows, header=("text", "label", "label")))
    data = load_training_data(path)
    warning = "The file 'dup.csv' has two columns named 'label'; the first one is used."
    assert data.label_column == "label" and data.labels == ["neg", "pos"]
    assert data.warnings == [warning]
    assert build_report(data).warnings[0] == warning
    assert list(read_table(path).columns) == ["text", "label"]

    book = tmp_path / "dup.xlsx"
    pd.DataFrame(rows, columns=["text", " label", "label"]).to_excel(book, index=False)  # the same once trimmed
    assert read_table(book).attrs["read_warnings"] == [
        "The file 'dup.xlsx' has two columns named 'label'; the first one is used."]
    assert read_table(book)["label"].tolist() == [r[1] for r in rows]
    # A column truly named 'label.1' is not a repeat.
    path = write(tmp_path, "dots.csv", table(",", rows, header=("text", "label", "label.1")))
    assert list(read_table(path).columns) == ["text", "label", "label.1"] and load_training_data(path).warnings == []
