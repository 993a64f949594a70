"""The data report: counts, duplicates, conflicts, leakage, token lengths, warnings, plain sentences."""
from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

from core.artefacts import DataReport
from core.tasks.label_values import order_labels
from core.data.report import build_report, report_sentences, suggest_max_length
from core.data.loading import PreparedData, load_training_data
from tests.test_data import write


def few(which: str, label: str, n: int) -> str:
    return (f"{which} fewer than 10 examples (fewest: '{label}' with {n}), so the model learns them only roughly and "
            "their scores rest on one or two texts. 20 or more per label work much better.")


@pytest.fixture
def tiny(tmp_path) -> PreparedData:
    """Hand-checked: 10 texts, word lengths sorted [1,1,2,2,2,2,2,3,3,5]."""
    train = write(tmp_path, "t.csv", "text,label\ngood movie,pos\ngood movie,pos\nbad film,neg\nsame text here,pos\n"
                  "same text here,neg\none two three four five,pos\nx,neg\n")
    val = write(tmp_path, "v.csv", "text,label\nbad film,neg\ngreat fun,pos\nawful,neg\n")
    return load_training_data(train, val_data_path=val)


def test_report_hand_computed(tiny):
    r = build_report(tiny, max_length=2)
    assert DataReport.from_json(json.loads(json.dumps(r.to_json()))) == r  # data_report.json holds all of it
    assert (r.rows_read, r.rows_kept, r.rows_dropped, r.dropped) == (10, 10, 0, {})
    assert r.class_counts == {"train": {"neg": 3, "pos": 4}, "validation": {"neg": 2, "pos": 1},
                                 "total": {"neg": 5, "pos": 5}}
    assert r.imbalance_ratio == 1.0
    assert r.duplicates == {"rows": 3, "texts": 3, "examples": [
        {"text": "good movie", "count": 2}, {"text": "bad film", "count": 2}, {"text": "same text here", "count": 2}]}
    assert r.conflicts == {"count": 1, "examples": [{"text": "same text here", "labels": ["neg", "pos"]}]}
    assert r.leakage == {"count": 1, "examples": ["bad film"]}
    lengths = r.lengths
    assert lengths["unit"] == "words" and "no tokenizer" in lengths["source"]
    assert {k: lengths[k] for k in ("min", "mean", "p50", "p90", "p95", "p99", "max")} == {
        "min": 1, "mean": 2.3, "p50": 2, "p90": 3, "p95": 5, "p99": 5, "max": 5}
    assert (r.truncated_count, r.truncated_share, r.suggested_max_length) == (3, 0.3, 16)
    assert r.warnings == [
        "3 rows repeat a text that appears earlier (exact duplicates of 3 texts). "
        "Duplicates add nothing new and can make scores look better than they are.",
        "1 text appears with two or more different labels, for example 'same text here'. "
        "Fix their labels so the model is not taught both.",
        "1 text appears in both training and validation, so validation scores will look better than they really are.",
        "Max length 2 cuts 30.0 % of texts short (3). A max length of 16 would keep about 99 % of them whole.",
        few("2 labels have", "neg", 5),
    ]


def test_report_without_max_length_measures_the_suggested_one(tiny):
    r = build_report(tiny)
    assert (r.max_length, r.effective_max_length, r.truncated_count, r.truncated_share) == (None, 16, 0, 0.0)
    assert not any("cuts" in w for w in r.warnings)
    assert "Suggested max length: 16 tokens." in report_sentences(r)


def test_lengths_beyond_what_the_model_reads(tiny):
    # Word lengths [1,1,2,2,2,2,2,3,3,5]; a "model" that reads 2 tokens cuts three texts whatever is chosen.
    r = build_report(tiny, max_length=4096, model_max_length=2)
    assert (r.effective_max_length, r.truncated_count, r.suggested_max_length) == (2, 3, 2)
    assert "Max length 4,096 is more than this model reads; it uses 2, which cuts 3 texts short (30.0 %)." in (
        report_sentences(r))
    assert r.warnings[-2] == "30.0 % of texts (3) are longer than the 2 tokens this model reads, so only their first 2 tokens are used."
    auto = build_report(tiny, model_max_length=2)
    assert "Suggested max length: 2 tokens; it cuts 3 texts short (30.0 %)." in report_sentences(auto)
    assert auto.warnings[-2] == r.warnings[-2]
    # A chosen length shorter than the model's limit, which itself cuts: the suggestion says it cannot keep 99 %.
    short = build_report(tiny, max_length=1, model_max_length=2)
    assert short.warnings[-2] == ("Max length 1 cuts 80.0 % of texts short (8). "
                                     "A max length of 2 would keep more of them whole (the most this model reads).")


def test_many_labels_with_one_example_are_one_sentence(tmp_path):
    rows = "".join(f"text {i},common\n" for i in range(10)) + "".join(f"rare text {i},rare_{i}\n" for i in range(8))
    data = load_training_data(write(tmp_path, "r.csv", "text,label\n" + rows))
    warning = ("8 labels have only one training example each ('rare_0', 'rare_1', 'rare_2', …), so the model can "
               "hardly learn them. Add more examples of them, or check that the label column is right.")
    assert data.warnings == [warning]
    assert build_report(data).warnings == [warning,
        "The labels are imbalanced: 'common' has 10 times as many examples as 'rare_0'. Training weights rare labels "
        "up (class weights, on by default), but more examples of them help most."]


def test_one_sentence_replaces_the_validation_files_warning_for_each_label_with_one_example(tmp_path):
    rows = "".join(f"text {i},common\n" for i in range(10)) + "".join(f"rare text {i},rare_{i}\n" for i in range(6))
    val = write(tmp_path, "v.csv", "text,label\nanother text,common\n" + "".join(f"rare {i},rare_{i}\n" for i in range(6)))
    data = load_training_data(write(tmp_path, "t.csv", "text,label\n" + rows), val_data_path=val)
    assert [w.kind for w in data.warnings] == ["single_example"] * 6 and data.warnings[0] == (
        "Label 'rare_0' has only one training example. Add more examples of it.")
    assert build_report(data).warnings[1] == (
        "6 labels have only one training example each ('rare_0', 'rare_1', 'rare_2', …), so the model can hardly "
        "learn them. Add more examples of them, or check that the label column is right.")
    assert build_report(data).warnings[0].startswith("The labels are imbalanced")
    assert not any("has only one training example. Add" in w for w in build_report(data).warnings)


def test_a_warning_keeps_its_kind_when_copied():
    import copy
    import pickle

    from core.data.report_warnings import single_example_warning

    warning = single_example_warning("b")
    for copied in (copy.deepcopy(warning), pickle.loads(pickle.dumps(warning))):
        assert (copied, copied.kind, copied.label) == (warning, "single_example", "b")


def prepared(train: list[tuple[str, str]], val: list[tuple[str, str]], warnings=()) -> PreparedData:
    frame = lambda rows: pd.DataFrame(rows, columns=["text", "label"])  # noqa: E731
    labels = order_labels([l for _, l in train + val])
    n = len(train) + len(val)
    return PreparedData(frame(train), frame(val), labels, "text", "label", n, n, {}, list(warnings), "split")


def test_report_imbalance_and_single_example_warnings():
    data = prepared([(f"alpha {i}", "a") for i in range(8)] + [("beta", "b"), ("gamma", "c")],
                    [("alpha x", "a"), ("alpha y", "a"), ("beta 2", "b")])
    r = build_report(data)
    assert (r.imbalance_ratio, r.largest_class, r.smallest_class) == (10.0, "a", "c")
    assert r.warnings == [
        "The labels are imbalanced: 'a' has 10 times as many examples as 'c'. "
        "Training weights rare labels up (class weights, on by default), but more examples of them help most.",
        # 'b' has a validation example ("beta 2"), 'c' has none.
        "Label 'b' has only one training example. Add more examples of it.",
        "Label 'c' has only one example, so it stays in training and is never tested. Add more examples of it.",
        "Label 'b' has only 2 examples, so the model learns it only roughly and its score rests on one or two texts. "
        "20 or more per label work much better.",
    ]
    # Below the threshold (4.5) there is no imbalance warning; the prep warning is kept, not repeated.
    data = prepared([(f"t{i}", "a") for i in range(9)] + [("u", "b"), ("v", "b")], [],
                    ["Label 'b' has only one example, so it stays in training and is never tested. Add more examples of it."])
    assert build_report(data).imbalance_ratio == 4.5
    assert build_report(data).warnings == list(data.warnings) + [few("2 labels have", "b", 2)]



def test_label_with_two_examples_is_split_and_named_as_one_training_example(tmp_path):
    # 'd' has two examples: the split sends one to validation, so it is tested; only its training side is thin.
    from tests.test_data import make_csv

    r = build_report(load_training_data(make_csv(tmp_path, {"a": 6, "b": 6, "d": 2}), seed=1))
    assert r.class_counts["train"]["d"] == r.class_counts["validation"]["d"] == 1
    assert r.warnings == ["Label 'd' has only one training example. Add more examples of it.",
                             few("3 labels have", "d", 2)]


def test_validation_file_label_with_one_training_example_and_none_to_test(tmp_path):
    train = write(tmp_path, "t.csv", "text,label\n" + "".join(f"a text {i},a\nb text {i},b\n" for i in range(3)) + "lone c,c\n")
    val = write(tmp_path, "v.csv", "text,label\nan a,a\na b,b\n")
    r = build_report(load_training_data(train, val_data_path=val))
    assert r.warnings == [
        "Label 'c' has only one example, so it stays in training and is never tested. Add more examples of it.",
        few("2 labels have", "a", 4)]


class FakeTokenizer:
    """One token per character plus [CLS]/[SEP]; records its calls to prove batching and special tokens."""

    name_or_path = "fake-chars"

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict]] = []

    def __call__(self, texts, **kwargs):
        self.calls.append((list(texts), kwargs))
        extra = 2 if kwargs.get("add_special_tokens") else 0
        return {"input_ids": [list(range(len(t) + extra)) for t in texts]}


def test_report_with_fake_tokenizer_is_batched(tiny):
    tok = FakeTokenizer()
    r = build_report(tiny, tokenizer=tok, max_length=12, model_max_length=64)
    assert len(tok.calls) == 1 and len(tok.calls[0][0]) == 10
    assert tok.calls[0][1]["add_special_tokens"] is True and not tok.calls[0][1].get("truncation")
    # char lengths + 2, sorted: 3,7,10,10,11,12,12,16,16,25
    lengths = r.lengths
    assert (lengths["unit"], lengths["source"]) == ("tokens", "fake-chars")
    assert [lengths[k] for k in ("min", "p50", "p90", "p95", "p99", "max")] == [3, 11, 16, 25, 25, 25]
    assert (r.truncated_count, r.truncated_share, r.suggested_max_length) == (3, 0.3, 32)


def test_report_with_real_default_tokenizer(default_model_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(default_model_path)
    long_text = " ".join(["word"] * 600)
    data = prepared([("the cat sat", "a"), ("hello world", "a"), ("dog", "b"), (long_text, "b")], [])
    r = build_report(data, tokenizer=tok, max_length=128)
    # [CLS] + words + [SEP], never truncated: the long text keeps all 602 tokens.
    assert [r.lengths[k] for k in ("min", "p50", "p90", "max")] == [3, 4, 602, 602]
    assert r.suggested_max_length == 512  # capped at the model's limit
    assert (r.truncated_count, r.truncated_share) == (1, 0.25)


@pytest.mark.parametrize("lengths,cap,expected", [
    ([], 512, 16), ([3] * 50, 512, 16), ([17], 512, 24), ([24], 512, 24),
    (list(range(1, 101)), 512, 104),  # p99 of 1..100 is 99 -> 104
    ([5] * 99 + [900], 512, 16),  # one outlier in 100 is above the 99th percentile
    ([1000], 512, 512), ([10], 8, 8),  # the model's limit beats the minimum
])
def test_suggest_max_length(lengths, cap, expected):
    assert suggest_max_length(lengths, cap) == expected


def test_report_sentences(tiny):
    r = build_report(tiny, max_length=2)
    lines = report_sentences(r)
    assert lines[:8] == [
        "10 rows read, all kept.",
        "7 rows for training and 3 for validation (from the validation file).",
        "2 labels: neg 5, pos 5.",
        "Small data: 7 training texts for 2 labels. With the automatic batch size the app trains at batch 16 for 10 "
        "epochs (when epochs are left at 3) and keeps the last epoch's model.",
        "Only 3 validation texts: the app keeps the model of the last epoch instead of the best-scoring one, since "
        "choosing on so few texts would flatter its score, which stays rough.",
        "Texts are 1 to 5 words long (median 2; 99 % have at most 5).",
        "Lengths are counted in words because no tokenizer was given; models count tokens, usually more.",
        "Suggested max length: 16 tokens.",
    ]
    assert lines[8] == "Max length 2 cuts 3 texts short (30.0 %)."
    assert lines[9:] == r.warnings
    r = dataclasses.replace(r, rows_read=1204, rows_kept=1198, rows_dropped=6,
                            dropped={"empty text": 4, "missing label": 2})
    assert report_sentences(r)[0] == "1,204 rows read, 1,198 kept (6 dropped: 4 empty text, 2 missing label)."
    # Past a dozen labels the sentence gives the range, not fifty names.
    r.class_counts["total"] = {f"class_{i}": 8 for i in range(50)}
    assert report_sentences(r)[2] == "50 labels with 8 rows each."
    r.class_counts["total"] = {**{f"class_{i}": 8 for i in range(12)}, "rare": 2, "big": 300}
    assert report_sentences(r)[2] == "14 labels, from 2 rows ('rare') to 300 ('big')."


def test_example_data_is_usable(example_data):
    data = load_training_data(example_data)
    counts = pd.concat([data.train, data.validation])["label"].value_counts().to_dict()
    assert counts == {"billing": 100, "technical": 90, "shipping": 75, "account": 55}
    assert data.labels == ["account", "billing", "shipping", "technical"]
    r = build_report(data)
    assert r.duplicates["rows"] == 0 and r.conflicts["count"] == 0 and r.warnings == []
    assert 5 <= r.lengths["min"] and r.lengths["max"] <= 30


def test_words_the_model_cannot_read_are_warned_about(tmp_path, default_model_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(default_model_path)
    rows = [("我很喜欢这个产品", "好"), ("这个产品很差", "差"), ("质量非常好", "好"), ("完全不能用", "差")]
    chinese = build_report(prepared(rows, rows[:2]), tokenizer=tok)
    assert chinese.unknown_token_share > 0.9
    assert any(w.endswith(
        "of the words are unknown to this model's vocabulary (it reads them all as the same [UNK] token): the texts "
        "are probably in a language or script it was not trained on (or mostly emoji). A multilingual model such as "
        "xlm-roberta-base reads them.") for w in chinese.warnings)
    english = build_report(prepared([("my parcel is late", "a"), ("refund please", "b")], []), tokenizer=tok)
    assert english.unknown_token_share == 0.0 and not any("[UNK]" in w for w in english.warnings)


def test_big_data_measures_lengths_on_a_sample_and_says_so(monkeypatch):
    """Past LENGTH_SAMPLE texts, token lengths come from a seeded random sample; counts scale to all texts."""
    import pandas as pd

    from core.data import report as data_report
    from core.data.report import build_report, report_sentences
    from core.data.loading import PreparedData

    monkeypatch.setattr(data_report, "LENGTH_SAMPLE", 50)
    texts = [f"text number {i} " + "word " * (i % 7) for i in range(200)]
    train = pd.DataFrame({"text": texts[:160], "label": ["a", "b"] * 80})
    val = pd.DataFrame({"text": texts[160:], "label": ["a", "b"] * 20})
    data = PreparedData(train=train, validation=val, labels=["a", "b"], text_column="text", label_column="label",
                        rows_read=200, rows_kept=200)
    report = build_report(data, None, max_length=None)
    assert report.lengths["sampled"] == 50 and report.lengths["texts"] == 200
    assert "Lengths are measured on a random sample of 50 of the 200 texts." in report_sentences(report)
    assert build_report(data, None).lengths == report.lengths  # the same sample every time


def test_the_baseline_is_fitted_on_a_stratified_sample_of_big_data(monkeypatch):
    import pandas as pd

    from core.tasks import baseline

    monkeypatch.setattr(baseline, "MAX_TRAIN_ROWS", 100)
    train = pd.DataFrame({"text": [f"good thing {i}" for i in range(300)] + [f"bad thing {i}" for i in range(100)]
                          + ["rare thing"], "label": ["pos"] * 300 + ["neg"] * 100 + ["rare"]})
    sample = baseline.stratified_sample(train, 100)
    assert sample["label"].value_counts().to_dict() == {"pos": 74, "neg": 25, "rare": 1}  # shares kept, rare kept, n at most
    assert sample.index.is_monotonic_increasing
    val = pd.DataFrame({"text": ["good thing 1", "bad thing 2"], "label": ["pos", "neg"]})
    result = baseline.train_baseline(train, val, ["neg", "pos", "rare"])
    assert result["train_rows"] == 100
    assert result["sample_note"] == "fitted on a stratified sample of 100 of the 401 training rows"
    from ui.data_tab import baseline_markdown

    assert "(TF-IDF + linear SVM, fitted on a stratified sample of 100 of the 401 training rows, " in baseline_markdown(result)
