"""Predictor: loaded once, probabilities per label, the pipeline trace, and batch prediction with safe CSV export."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest

from core.serving import predict
from core.errors import UserError

LABELS = ["billing", "bug", "praise"]
TEMPLATES = {
    "billing": ["I was charged twice for my invoice {i}", "Refund my payment number {i} please", "My card bill {i} is wrong"],
    "bug": ["The app crashes when I open page {i}", "Error {i} appears after login", "Button {i} does nothing when clicked"],
    "praise": ["Great service, thank you {i}", "I love the new design {i}", "Support was fast and friendly {i}"],
}


def synthetic_rows(n_per_label: int, offset: int = 0) -> pd.DataFrame:
    rows = [
        {"text": TEMPLATES[lab][i % 3].format(i=i + offset), "label": lab}
        for lab in LABELS for i in range(n_per_label)
    ]
    return pd.DataFrame(rows)


def make_run_dir(root: Path, model_src: str, name: str = "support-tickets", predictions: bool = True) -> Path:
    """A finished run directory in the runs.py/train.py contract, built by hand (no training)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    run = root / "20260101-000000-abcd"
    (run / "data").mkdir(parents=True)
    id2label = dict(enumerate(LABELS))
    model = AutoModelForSequenceClassification.from_pretrained(
        model_src, num_labels=len(LABELS), id2label=id2label, label2id={v: k for k, v in id2label.items()},
        ignore_mismatched_sizes=True,
    )
    model.save_pretrained(run / "model")
    AutoTokenizer.from_pretrained(model_src).save_pretrained(run / "model")
    train, val = synthetic_rows(8), synthetic_rows(3, offset=100)
    train.to_parquet(run / "data" / "train.parquet")
    val.to_parquet(run / "data" / "validation.parquet")
    (run / "labels.json").write_text(json.dumps(LABELS))
    (run / "run.json").write_text(json.dumps({"run_id": run.name, "name": name, "owner": "t", "created": 0}))
    (run / "config.json").write_text(json.dumps({"data_path": "/data/support_tickets.csv", "model": model_src,
                                                 "epochs": 1.0, "max_length": 64, "seed": 42}))
    (run / "data_report.json").write_text(json.dumps({
        "rows_read": 36, "rows_kept": 33, "rows_dropped": 3, "num_train": 24, "num_validation": 9,
        "class_counts": {"train": {lab: 8 for lab in LABELS}, "validation": {lab: 3 for lab in LABELS},
                         "total": {lab: 11 for lab in LABELS}},
        "max_length": None, "warnings": ["3 rows had an empty text and were dropped."]}))
    (run / "status.json").write_text(json.dumps({"state": "finished", "pid": None, "updated": 0}))
    if predictions:
        p = predict.Predictor(run / "model").predict_proba(list(val["text"]))
        best = [max(range(3), key=r.__getitem__) for r in p]
        out = val.assign(predicted=[LABELS[b] for b in best], confidence=[r[b] for r, b in zip(p, best)])
        for j, lab in enumerate(LABELS):
            out[f"prob_{lab}"] = [r[j] for r in p]
        out.to_csv(run / "validation_predictions.csv", index=False)
        from core.serving.evaluation import _scores

        scores = _scores(list(out["label"]), list(out["predicted"]), LABELS)
        cm = [[int(((out["label"] == t) & (out["predicted"] == q)).sum()) for q in LABELS] for t in LABELS]
        (run / "metrics.json").write_text(json.dumps({**scores, "loss": 1.1, "labels": LABELS, "confusion_matrix": cm,
                                                      "num_validation": len(out), "best_step": 3}))
    return run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: str) -> Path:
    return make_run_dir(tmp_path_factory.mktemp("runs"), tiny_model_dir)


def test_predict_returns_a_probability_per_label(run_dir: Path) -> None:
    predictor = predict.get_predictor(run_dir)
    out = predictor.predict(["my invoice is wrong", "the app crashes"])
    assert len(out) == 2
    for probs in out:
        assert list(probs) == LABELS
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)


def test_predictor_is_loaded_once_and_reloaded_when_the_model_changes(run_dir: Path) -> None:
    first = predict.get_predictor(run_dir)
    assert predict.get_predictor(str(run_dir)) is first
    (run_dir / "model" / "README.md").write_text("card")  # a card does not invalidate the cache
    assert predict.get_predictor(run_dir) is first
    config = run_dir / "model" / "config.json"
    config.touch()
    import os

    os.utime(config, (time.time() + 5, time.time() + 5))
    assert predict.get_predictor(run_dir) is not first


def test_batched_prediction_matches_one_by_one(run_dir: Path) -> None:
    predictor = predict.get_predictor(run_dir)
    texts = ["short", "a much longer sentence about a refund for a double charge on my card", "bug", ""]
    together = predictor.predict_proba(texts)
    alone = [predictor.predict_proba([t])[0] for t in texts]
    for a, b in zip(together, alone):
        assert a == pytest.approx(b, abs=1e-4)  # padding and length-sorting must not change results


def test_large_batches_stay_close_to_exact_single_predictions(run_dir: Path, monkeypatch) -> None:
    """Batches over 512 tokens may run in bf16 (fast on CPUs with native bf16); the numbers must stay close."""
    predictor = predict.get_predictor(run_dir)
    texts = [f"order {i} arrived late and the refund for invoice {i} never came" for i in range(80)]
    alone = [predictor.predict_proba([t])[0] for t in texts[:10]]
    together = predictor.predict_proba(texts)[:10]
    for a, b in zip(together, alone):
        assert a == pytest.approx(b, abs=0.02)
    monkeypatch.setenv("TEXTCLF_PRECISION", "fp32")
    exact = predictor.predict_proba(texts)[:10]
    for a, b in zip(exact, alone):
        assert a == pytest.approx(b, abs=1e-4)


def test_trace_shows_every_step(run_dir: Path) -> None:
    t = predict.get_predictor(run_dir).trace("Refund my payment")
    assert t.tokens[0] == "[CLS]" and t.tokens[-1] == "[SEP]"
    assert t.tokens[1:-1] == ["ref", "##und", "my", "payment"]  # word pieces, lower-cased
    assert len(t.tokens) == len(t.input_ids) == len(t.attention_mask)
    assert set(t.attention_mask) == {1}
    assert list(t.logits) == list(t.probs) == LABELS
    assert t.predicted == max(t.probs, key=t.probs.get)
    assert t.confidence == pytest.approx(max(t.probs.values()))
    assert t.truncated is False and t.max_length == 64  # the run's max_length is used


def test_trace_reports_truncation(run_dir: Path) -> None:
    t = predict.get_predictor(run_dir).trace("word " * 200)
    assert t.truncated is True and len(t.input_ids) == 64


def test_missing_model_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="^This run has no trained model yet: wait until training has finished.$"):
        predict.get_predictor(tmp_path)


@pytest.mark.parametrize("cell, expected", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1+2", "'+1+2"), ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("-1.5", "-1.5"), ("plain", "plain"), (3, 3),
])
def test_neutralise(cell: object, expected: object) -> None:
    assert predict.neutralise(cell) == expected


def test_example_texts_come_from_the_validation_data(run_dir: Path) -> None:
    examples = predict.example_texts(run_dir, 3)
    val = set(pd.read_parquet(run_dir / "data" / "validation.parquet")["text"])
    assert len(examples) == 3 and set(examples) <= val
    assert len({e.split()[0] for e in examples}) == 3  # one per label, not three of the first label


def test_predict_table_writes_safe_csv(run_dir: Path, tmp_path: Path) -> None:
    df = pd.DataFrame({"id": [1, 2, 3, 4], "message": ["=cmd|' /C calc'!A0", "the app crashes", None, "@evil"],
                       "note": ["-danger", "ok", "x", "y"]})
    out_path = tmp_path / "out" / "predictions.csv"
    result = predict.predict_table(run_dir, df, "message", out_path)
    assert list(result.columns) == ["id", "message", "note", "predicted", "confidence"] + [f"prob_{x}" for x in LABELS]
    written = pd.read_csv(out_path, keep_default_na=False)
    assert len(written) == 4
    assert written.loc[0, "message"] == "'=cmd|' /C calc'!A0"
    assert written.loc[3, "message"] == "'@evil" and written.loc[0, "note"] == "'-danger"
    assert written.loc[2, "predicted"] == "" and written.loc[2, "prob_bug"] == ""  # empty text: no guess
    assert set(written.loc[[0, 1, 3], "predicted"]) <= set(LABELS)
    probs = written.loc[1, [f"prob_{x}" for x in LABELS]].astype(float)
    assert probs.sum() == pytest.approx(1.0, abs=1e-4)
    # The exported predictions equal single predictions of the same texts.
    single = predict.get_predictor(run_dir).predict(["the app crashes"])[0]
    assert probs.tolist() == pytest.approx([single[x] for x in LABELS], abs=1e-5)


def test_predict_table_unknown_column(run_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="^Column 'nope' is not in the uploaded table: pick the column with the texts.$"):
        predict.predict_table(run_dir, pd.DataFrame({"a": ["x"]}), "nope", tmp_path / "o.csv")


def test_guess_text_column() -> None:
    df = pd.DataFrame({"id": [1, 2], "tag": ["a", "b"], "body": ["a long text here", "another long text"]})
    assert predict.guess_text_column(df) == "body"
    # From a CSV every cell is a string: a long numeric id is still not the text.
    df = pd.DataFrame({"created": ["1700000000000123", "1700000000000456"], "body": ["so slow", "broken"]})
    assert predict.guess_text_column(df) == "body"


def test_predict_tab_handlers(run_dir: Path, tmp_path: Path) -> None:
    """UI handlers: ready note and examples for a finished run, probabilities + trace, a whole file."""
    from ui import predict_tab
    from ui.context import RunOnScreen

    state = RunOnScreen(str(run_dir), "finished")
    shown = predict_tab.on_run(state)
    assert set(shown) == set(predict_tab.RUN_OUTPUTS) and shown["button"].interactive is True
    note, examples = shown["note"], shown["examples"]
    assert "is ready. Labels: billing, bug, praise." in note
    assert list(shown["preview"].columns) == ["your columns", "predicted", "confidence", "prob_<label> for each label"]
    assert predict_tab.labels_phrase([f"class_{i}" for i in range(50)]) == "50 labels: class_0, class_1, … class_49"
    assert len(examples.raw_samples) == 6 and all(len(s) == 1 for s in examples.raw_samples)
    assert "Train a model or open a run from the Runs tab first." in predict_tab.on_run(RunOnScreen())["note"]
    unfinished = predict_tab.on_run(RunOnScreen(str(run_dir), "running"))
    assert "has not finished training yet" in unfinished["note"] and unfinished["batch_button"].interactive is False

    out = predict_tab.on_predict("refund my card", state)
    assert sorted(c["label"] for c in out["label"].value["confidences"]) == sorted(LABELS)
    assert out["label"].label == "Prediction" and out["summary"].startswith("**Predicted:** ")
    assert out["tokens"]["token"].tolist()[0] == "[CLS]" and [r[0] for r in out["scores"].value["data"]] == LABELS
    assert out["scores"].label == "2 · Logits and softmax probabilities"

    upload = tmp_path / "in.tsv"
    upload.write_text("id\tbody\n1\trefund my card please\n2\t@SUM(1)\n\t\n")
    out = predict_tab.on_upload(str(upload))
    assert out["column"].value == "body" and out["batch_note"].startswith("3 rows, 2 columns.")
    assert out["download"] is None
    preview, out_path, note = predict_tab.on_predict_file(str(upload), "body", state)
    assert note == ("Predicted 2 of 3 rows. 1 row with no text was left without a prediction. "
                    "Download the CSV below (first 20 rows shown).")
    lines = Path(out_path).read_text().splitlines()
    assert lines[2].startswith("2,'@SUM(1)") and lines[3].startswith(",,,") and len(lines) == 4  # every row, in order
    # Empty lines of a one-column file are rows to predict too, so the output lines up with the input.
    one_column = tmp_path / "lines.csv"
    one_column.write_text("body\nrefund my card\n\nthe app crashes\n\nthanks\n")
    preview, out_path, note = predict_tab.on_predict_file(str(one_column), "body", state)
    assert note.startswith("Predicted 3 of 5 rows. 2 rows with no text were left without a prediction.")
    assert len(pd.read_csv(out_path, keep_default_na=False)) == 5
    # A file that cannot be read: its reason, not "pick a column", and no stale predictions left on show.
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"\x00\x01\x02binary")
    out = predict_tab.on_upload(str(garbage))
    assert out["batch_note"] == ("The file &#x27;garbage.csv&#x27; is not a text table; it may be damaged or in another "
                                 "format.")  # escaped once, quotes too: the Markdown box shows them as quotes
    assert out["download"] is None and out["preview"].empty
    preview, out_path, note = predict_tab.on_predict_file(str(garbage), None, state)
    assert out_path is None and note.startswith("The file &#x27;garbage.csv&#x27; is not a text table")


def test_cache_keeps_only_the_most_recent_models(run_dir: Path, tmp_path: Path, tiny_model_dir: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(predict, "_CACHE_SIZE", 1)
    other = make_run_dir(tmp_path, tiny_model_dir, predictions=False)
    first = predict.get_predictor(run_dir)
    predict.get_predictor(other)  # pushes the first one out
    assert list(predict._CACHE) == [str(other.resolve())]
    assert predict.get_predictor(run_dir) is not first


def test_batch_prediction_uses_every_core_unless_a_run_trains_on_them(tmp_path, monkeypatch):
    from core.runs.device_lock import device_slot

    monkeypatch.setattr(predict.os, "cpu_count", lambda: 4)
    assert predict._batch_threads(tmp_path) == 4  # no run has ever trained here
    with device_slot(tmp_path, "cpu", should_give_up=lambda: False) as got:
        assert got and predict._batch_threads(tmp_path) == 2
    assert predict._batch_threads(tmp_path) == 4
    with device_slot(tmp_path, "cuda", should_give_up=lambda: False):
        assert predict._batch_threads(tmp_path) == 4  # a GPU run leaves the CPU cores free


def test_a_stopped_run_without_a_model_says_to_resume(tmp_path: Path) -> None:
    from core.runs.rundir import RunDir

    RunDir(tmp_path).write_status("cancelled", pid=None)  # stopped early: waiting would never help
    with pytest.raises(UserError, match=r"^This run ended before it finished training, so it has no model: resume it "
                                        r"\(Train step\) to get one.$"):
        predict.get_predictor(tmp_path)


def test_prediction_reads_as_many_tokens_as_training_did_roberta_offset_included(tmp_path: Path, tiny_model_dir: str):
    """RoBERTa-style models reserve two of their positions: 66 positions read 64 tokens, in training and here."""
    from transformers import AutoTokenizer, RobertaConfig, RobertaForSequenceClassification

    from core.models import model_max_length

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    config = RobertaConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                           intermediate_size=64, max_position_embeddings=66, pad_token_id=0, num_labels=2)
    RobertaForSequenceClassification(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    predictor = predict.Predictor(tmp_path)
    assert predictor.max_length == model_max_length(tokenizer, config) == 64
    assert predict.Predictor(tmp_path, max_length=32).max_length == 32
    assert set(predictor.predict(["a text " * 200])[0]) == {"LABEL_0", "LABEL_1"}  # 1,400 tokens cut to 64, not 66
