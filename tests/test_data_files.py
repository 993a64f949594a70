"""Files as users really have them: encodings, labels as written, nested JSON, workbooks, and data that cannot be
labels or texts."""
from __future__ import annotations

import json

import pandas as pd

from core.data.columns import read_table
from core.data.loading import load_training_data
from tests.test_data import ROWS, raises, same, write


def test_labels_are_kept_as_written(tmp_path):
    # Delimited files are read as text: zero-padded codes stay codes, "2.0" still means the integer label 2.
    path = write(tmp_path, "codes.csv", "text,label\n" + "".join(f"text {i},{c}\n" for i, c in
                                                           enumerate(["001", "002", "010"] * 3)))
    assert load_training_data(path).labels == ["001", "002", "010"]
    mixed = write(tmp_path, "mixed.csv", "text,label\n" + "".join(f"text {i},{c}\n" for i, c in
                                                                 enumerate(["1", "2.0", "2", "1.0"] * 2)))
    assert load_training_data(mixed).labels == ["1", "2"]


def test_windows_1252_is_not_read_as_latin1(tmp_path):
    text = "It’s “broken” – again…"
    df = read_table(write(tmp_path, "excel.csv", f"text,label\n{text},neg\nFine,pos\n", "cp1252"))
    assert df["text"].tolist() == [text, "Fine"]
    assert df.attrs["read_warnings"] == []


def test_a_stray_byte_does_not_garble_a_utf8_file(tmp_path):
    good = "".join(f"Café naïve — row {i},{'ab'[i % 2]}\n" for i in range(8)).encode()
    path = write(tmp_path, "mixed.csv", b"text,label\n" + good + b"It\x92s here,a\n")
    data = load_training_data(path)
    texts = list(data.train["text"]) + list(data.validation["text"])
    assert "Café naïve — row 0" in texts and "It\ufffds here" in texts
    assert data.warnings[0] == ("1 byte of 'mixed.csv' is not valid UTF-8 and became '\ufffd'. "
                                "Save the file as UTF-8 to keep those characters.")


def test_nested_json_is_flattened(tmp_path):
    records = [{"id": i, "data": {"text": f"message {i}"}, "meta": {"label": "ab"[i % 2]}} for i in range(6)]
    path = write(tmp_path, "nested.jsonl", "\n".join(json.dumps(r) for r in records))
    data = load_training_data(path)
    assert (data.text_column, data.label_column, data.labels) == ("data.text", "meta.label", ["a", "b"])


def test_what_cannot_be_a_label_or_a_text(tmp_path):
    lists = [{"text": f"t {i}", "labels": ["billing", "tech"][: 1 + i % 2]} for i in range(6)]
    multi = write(tmp_path, "multi.jsonl", "\n".join(json.dumps(r) for r in lists))
    assert load_training_data(multi).labels == ["billing", "tech"]  # lists of a few labels are multi-label now
    with raises("Column 'labels' holds lists of labels (several per text). This app learns one label per text: "
                "give each row a single label."):
        load_training_data(multi, task="single")
    scores = "text,score\n" + "".join(f"text {i},{i / 37:.4f}\n" for i in range(40))
    with raises("Column 'score' holds 40 different numbers in 40 rows, so it looks like a score, not a label. "
                "A classifier needs a column of a few repeated labels."):
        load_training_data(write(tmp_path, "s.csv", scores), label_column="score")
    ids = "id,text,label\n" + "".join(f"{1000 + i},text {i},{'ab'[i % 2]}\n" for i in range(6))
    with raises("Column 'id' has a different value in every row, so it is not a column of labels (an id?). "
                "Choose the column whose values repeat, like 'spam' / 'not spam'."):
        load_training_data(write(tmp_path, "ids.csv", ids), label_column="id")
    numbers = "text,label\n" + "".join(f"{i * 7},{'ab'[i % 2]}\n" for i in range(10))
    for chosen in (None, "text"):  # guessed, or chosen by hand
        with raises("Column 'text' holds only numbers, not texts. Columns: text, label."):
            load_training_data(write(tmp_path, "n.csv", numbers), text_column=chosen)


def test_labels_that_look_like_mistakes_are_warned_about(tmp_path):
    rows = "".join(f"text {i},{label}\n" for i, label in enumerate(["spam", "Spam", "SPAM ", "ham"] * 3))
    data = load_training_data(write(tmp_path, "case.csv", "text,label\n" + rows))
    assert data.warnings == ["Labels 'SPAM', 'Spam' and 'spam' differ only in upper and lower case, so they are "
                             "learnt as different labels. Write them the same way if they mean the same."]
    # No header row: the first row became the column names, and its label ('a') is one of the labels.
    headless = "".join(f"text number {i},{'ab'[i % 2]}\n" for i in range(10))
    warning = ("'a' is both the label column's name and one of its labels: if the file has no header row, its first "
               "row was taken as the column names. Add a header row (like text,label).")
    assert warning in load_training_data(write(tmp_path, "headless.csv", headless)).warnings


def test_workbook_with_a_notes_sheet_and_a_title_row(tmp_path):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"notes": ["Exported from the help desk", "see sheet 2"]}).to_excel(writer, sheet_name="README", index=False)
        table = pd.DataFrame([["Tickets, March"], [None], ["text", "label"], *[[t, l] for t, l in ROWS]])
        table.to_excel(writer, sheet_name="data", index=False, header=False)
    df = read_table(path)
    same(df)
    assert df.attrs["read_warnings"] == ["Read the sheet 'data', the first one that holds a table."]
