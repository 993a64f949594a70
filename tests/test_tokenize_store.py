"""Tokenised data in Arrow: the same rows as the tokenizer gives, kept per data + tokenizer + length settings and
reused by the next run, at the length the data report suggests, whatever the size."""
from __future__ import annotations

import stat

import numpy as np
import pandas as pd
import pytest
from transformers import AutoTokenizer

from core.data import report as data_report

from core.engine import token_store
from core.encoded import EncodedDataset
from core.engine.token_store import STORE_ENTRIES, encode_splits


@pytest.fixture
def frames(example_data):
    rows = pd.read_csv(example_data)
    rows["label"] = rows["label"].astype(str)
    return [rows.iloc[:250].reset_index(drop=True), rows.iloc[250:].reset_index(drop=True)]


@pytest.fixture
def tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def _labels(frames):
    return sorted(set(frames[0]["label"]) | set(frames[1]["label"]))


def _rows(data: EncodedDataset) -> list[dict]:
    return [data[i] for i in range(len(data))]


def test_rows_are_what_the_tokenizer_gives_with_their_label(tokenizer, frames):
    labels = _labels(frames)
    (train, val), cap = encode_splits(tokenizer, frames, labels, 24, 512)
    assert cap == 24 and len(train) == 250 and len(val) == len(frames[1])
    want = tokenizer(frames[0]["text"].tolist(), truncation=True, max_length=24)
    for i in (0, 7, 249):
        row = train[i]
        assert row["input_ids"] == want["input_ids"][i] and row["attention_mask"] == want["attention_mask"][i]
        assert row["labels"] == labels.index(frames[0]["label"][i])
    assert train.lengths.tolist() == [len(x) for x in want["input_ids"]]
    assert train.__getitems__([3, 1]) == [train[3], train[1]]
    assert _rows(train.select([5, 2])) == [train[5], train[2]]


def test_a_second_run_on_the_same_data_reuses_the_tokenised_tables(tokenizer, frames, tmp_path, capsys):
    labels = _labels(frames)
    store = tmp_path / token_store.STORE_FOLDER
    (train, val), cap = encode_splits(tokenizer, frames, labels, 0, 512, store=store)
    assert "reused" not in capsys.readouterr().out
    (entry,) = [p for p in store.iterdir()]
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in entry.iterdir()} == {0o600}

    (train2, val2), cap2 = encode_splits(tokenizer, frames, labels, 0, 512, store=store)
    assert capsys.readouterr().out.strip() == (
        f"Tokenised data reused from an earlier run on the same data ({len(train) + len(val):,} texts).")
    assert cap2 == cap and _rows(train2) == _rows(train) and _rows(val2) == _rows(val)
    (plain, _), plain_cap = encode_splits(tokenizer, frames, labels, 0, 512)
    assert plain_cap == cap and _rows(plain) == _rows(train)

    edited = [frames[0].assign(text=frames[0]["text"].str.upper()), frames[1]]
    encode_splits(tokenizer, edited, labels, 0, 512, store=store)  # other texts: a new entry, not the old one
    encode_splits(tokenizer, frames, labels, 16, 512, store=store)  # another max length: a new entry too
    assert "reused" not in capsys.readouterr().out
    assert len(list(store.iterdir())) == 3


def test_the_store_keeps_the_most_recently_used_entries(tokenizer, frames, tmp_path):
    labels = _labels(frames)
    store = tmp_path / "store"
    for length in range(16, 16 + STORE_ENTRIES + 2):
        encode_splits(tokenizer, frames, labels, length, 512, store=store)
    assert len(list(store.iterdir())) == STORE_ENTRIES


def test_a_store_that_cannot_be_written_only_costs_the_reuse(tokenizer, frames, tmp_path, capsys):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    (train, _), cap = encode_splits(tokenizer, frames, _labels(frames), 24, 512, store=blocked / "store")
    assert len(train) == 250 and cap == 24
    assert capsys.readouterr().out.startswith("Tokenised data not kept for later runs: ")


def test_big_data_uses_the_length_the_report_suggests_and_cuts_exactly(tokenizer, frames, monkeypatch):
    """Past LENGTH_SAMPLE texts the report measures a sample; training picks its length from the same sample and
    tokenises once at that length (the tokenizer's own truncation: the closing special token stays)."""
    monkeypatch.setattr(data_report, "LENGTH_SAMPLE", 60)
    monkeypatch.setattr(tokenize, "CHUNK_TEXTS", 64)
    every = frames[0]["text"].tolist() + frames[1]["text"].tolist()
    suggested = data_report.suggest_max_length(
        data_report.text_lengths(data_report.length_sample(every), tokenizer), 512)
    (train, val), cap = encode_splits(tokenizer, frames, _labels(frames), 0, 512)
    assert cap == suggested
    want = tokenizer(frames[0]["text"].tolist(), truncation=True, max_length=cap)["input_ids"]
    assert [row["input_ids"] for row in _rows(train)] == want
    assert max(train.lengths) <= cap and np.all(train.label_ids >= 0)


def test_a_shared_server_keeps_no_tokenised_data_beyond_the_run(tmp_path, monkeypatch):
    """A visitor who deletes their runs must not leave their texts in a cache."""
    from core.engine.job import _token_store

    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.delenv("TEXTCLF_PRIVATE_RUNS", raising=False)
    assert _token_store(tmp_path / "run") == tmp_path / token_store.STORE_FOLDER
    monkeypatch.setenv("SPACE_ID", "someone/studio")
    assert _token_store(tmp_path / "run") is None
