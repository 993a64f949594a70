"""The data report: what is in the prepared data, and what might hurt training. Pure and JSON-serialisable.

Import these from core.data.columns (re-exported there); this module exists only to keep each file short.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from core.artefacts import DataReport
from core.tasks.regression import number_text, offer
from core.data.report_warnings import SINGLE_EXAMPLE_LISTED, about_single_example, single_example_warning, single_examples_warning
from core.small_data import small_data_sentence, tiny_validation_sentence

if TYPE_CHECKING:  # only the annotation: the report reads prepared data, it never prepares any
    from core.data.loading import PreparedData

IMBALANCE_WARN_RATIO = 5.0
FEW_EXAMPLES = 10  # a label with fewer examples than this (but more than one) is learnt only roughly
TRUNCATION_WARN_SHARE = 0.05
EXAMPLES = 5  # how many example texts a report section carries
PAIRS_LISTED = 3  # a multi-label report's most frequent label pairs
TOKENIZE_BATCH = 1024
UNKNOWN_WARN_SHARE = 0.1  # emoji are [UNK] too: a few per tweet must not set it off
UNKNOWN_SAMPLE = 500  # texts tokenised to measure unknown words: enough for a share, cheap on any file
PERCENTILES = (50, 90, 95, 99)
# Past this many texts, token lengths are measured on a fixed random sample: with every text tokenised, the report on
# 1M short texts took 115 s (2 busy cores) and held every token id at once; with the sample, 18 s. On the 100k file
# the sample's median, 90th and 99th percentiles and suggested max length equal those of all texts (21, 30, 32, 32).
# (BENCHMARKS.md#data-at-scale-checking-100k-and-1m-short-texts)
LENGTH_SAMPLE = 50_000


def length_sample(texts: list[str]) -> list[str]:
    """The texts whose token lengths are measured: all of them, or LENGTH_SAMPLE drawn at random (seeded) in order."""
    if len(texts) <= LENGTH_SAMPLE:
        return texts
    picked = np.sort(np.random.default_rng(0).choice(len(texts), LENGTH_SAMPLE, replace=False))
    return [texts[i] for i in picked]


def _percentile(values: Sequence[int], q: float) -> int:
    """Nearest-rank percentile (the smallest observed value with at least q % of values at or below it)."""
    return int(np.percentile(np.asarray(values), q, method="inverted_cdf"))


def suggest_max_length(token_lengths: Sequence[int], model_max_length: int) -> int:
    """~99th percentile rounded up to a multiple of 8 (tensor-core friendly), at least 16, at most the model's limit."""
    p99 = _percentile(token_lengths, 99) if len(token_lengths) else 0
    return int(min(model_max_length, max(16, math.ceil(p99 / 8) * 8)))


def text_lengths(texts: list[str], tokenizer: Any) -> list[int]:
    """Tokens per text (special tokens included, no truncation); words when there is no tokenizer."""
    if tokenizer is None:
        return [len(t.split()) for t in texts]
    lengths: list[int] = []
    for start in range(0, len(texts), TOKENIZE_BATCH):
        batch = texts[start:start + TOKENIZE_BATCH]
        # Special tokens included, no truncation: the length training would see before cutting.
        ids = tokenizer(batch, add_special_tokens=True, truncation=False, padding=False, verbose=False)["input_ids"]
        lengths.extend(len(x) for x in ids)
    return lengths


def unknown_share(texts: list[str], tokenizer: Any) -> float | None:
    """Share of a sample's tokens that the vocabulary does not know ([UNK]): high for a language or script the model
    was not trained on, which then sees most words as the same token. None without a tokenizer or an unknown token."""
    unk = getattr(tokenizer, "unk_token_id", None) if tokenizer is not None else None
    if unk is None or not texts:
        return None
    step = max(1, len(texts) // UNKNOWN_SAMPLE)
    ids = tokenizer(texts[::step][:UNKNOWN_SAMPLE], add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
    total = sum(len(x) for x in ids)
    return round(sum(x.count(unk) for x in ids) / total, 4) if total else None


def _counts(labels: list[str], column: Any) -> dict[str, int]:
    counter = Counter(column)
    return {label: int(counter.get(label, 0)) for label in labels}


def build_report(
    data: "PreparedData", tokenizer: Any = None, max_length: int | None = None, model_max_length: int = 512,
    lengths: Sequence[int] | None = None,
) -> DataReport:
    """Counts, class balance, duplicates, conflicts, leakage and length statistics, with plain warnings.
    `lengths`: text_lengths of length_sample(training then validation texts), when the caller already has them."""
    import pandas as pd

    train, val = data.train, data.validation
    both = pd.concat([train[["text", "label"]], val[["text", "label"]]], ignore_index=True)
    texts = both["text"].tolist()
    each = data.kind.each_label  # one entry per (row, label): multi-label rows count once per label they hold
    total = _counts(data.labels, each(both["label"]))
    present = {k: v for k, v in total.items() if v > 0}
    big, small = max(present, key=present.get), min(present, key=present.get)
    imbalance = round(present[big] / present[small], 2)

    # Every text as an integer code (one hash pass), then numpy: on 1M short texts, Counter and a dict of label sets
    # per text took 9.1 s; this takes 1.9 s. Same answers, same order: most repeated first, ties (and conflicts and
    # leaks) in order of first appearance.
    codes, distinct = pd.factorize(both["text"])
    label_codes, label_names = pd.factorize(both["label"])
    counts = np.bincount(codes, minlength=len(distinct))
    by_count = np.argsort(-counts, kind="stable")
    repeated = by_count[counts[by_count] > 1]
    pairs = np.unique(codes.astype(np.int64) * len(label_names) + label_codes)
    conflicting = np.flatnonzero(np.bincount(pairs // len(label_names), minlength=len(distinct)) > 1)
    labels_of = {c: set() for c in conflicting[:EXAMPLES].tolist()}
    for pair in pairs[np.isin(pairs // len(label_names), conflicting[:EXAMPLES])].tolist():
        labels_of[pair // len(label_names)].add(label_names[pair % len(label_names)])
    in_train = np.zeros(len(distinct), dtype=bool)
    in_train[codes[:len(train)]] = True
    val_codes = pd.unique(codes[len(train):])
    leaked = val_codes[in_train[val_codes]]

    measured = length_sample(texts)
    lengths = list(lengths) if lengths is not None else text_lengths(measured, tokenizer)
    unit = "words" if tokenizer is None else "tokens"
    length_stats: dict[str, Any] = {
        "unit": unit,
        "source": ("whitespace word count (no tokenizer given)" if tokenizer is None
                   else str(getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__)),
        "min": int(min(lengths)),
        "mean": round(float(np.mean(lengths)), 1),
        **{f"p{q}": _percentile(lengths, q) for q in PERCENTILES},
        "max": int(max(lengths)),
        "sampled": len(lengths) if len(lengths) < len(texts) else None,  # measured on a random sample of the texts
        "texts": len(texts),
    }
    suggested = suggest_max_length(lengths, model_max_length)
    # What training will cut to: the chosen length, never beyond what the model reads; else the suggestion.
    effective = min(max_length, model_max_length) if max_length else suggested
    # On a sample, the count is the sample's share of all texts.
    truncated = round(sum(n > effective for n in lengths) * len(texts) / len(lengths))

    report = DataReport(
        rows_read=int(data.rows_read),
        rows_kept=int(data.rows_kept),
        rows_dropped=int(sum(data.dropped.values())),
        dropped={k: int(v) for k, v in data.dropped.items()},
        text_column=data.text_column,
        label_column=data.label_column,
        validation_source=data.validation_source,
        num_train=len(train),
        num_validation=len(val),
        num_test=len(data.test),
        test_source=data.test_source or None,
        labels=list(data.labels),
        class_counts={"train": _counts(data.labels, each(train["label"])),
                      "validation": _counts(data.labels, each(val["label"])), "total": total},
        imbalance_ratio=imbalance,
        largest_class=big,
        smallest_class=small,
        duplicates={"rows": len(texts) - len(distinct), "texts": len(repeated),
                    "examples": [{"text": distinct[c], "count": int(counts[c])} for c in repeated[:EXAMPLES]]},
        conflicts={"count": len(conflicting),
                   "examples": [{"text": distinct[c], "labels": _in_order(labels_of[c], data)}
                                for c in conflicting[:EXAMPLES].tolist()]},
        leakage={"count": len(leaked), "examples": [distinct[c] for c in leaked[:EXAMPLES]]},
        lengths=length_stats,
        model_max_length=int(model_max_length),
        max_length=int(max_length) if max_length else None,
        effective_max_length=int(effective),
        truncated_count=truncated,
        truncated_share=round(truncated / len(texts), 4),
        suggested_max_length=suggested,
        unknown_token_share=unknown_share(measured, tokenizer),
    )
    if data.kind.name == "multi_label":
        from core.tasks.multi_label import label_pairs  # pandas: only a multi-label report needs it

        report.multi_label = {"labels": len(data.labels), "per_text": round(sum(total.values()) / len(both), 4),
                              "separator": data.label_separator,
                              "pairs": [list(pair) for pair in label_pairs(both["label"], PAIRS_LISTED)]}
    report.regression = data.kind.summary(both["label"])
    report.warnings = _warnings(report, data)
    return report


def _in_order(names: set[str], data: "PreparedData") -> list[str]:
    """A text's different labels in label order (numbers, the targets of a regression, from low to high)."""
    if not data.kind.classes:
        return sorted(names, key=float)
    return sorted(names, key=data.labels.index)


def _warnings(report: DataReport, data: "PreparedData") -> list[str]:
    warnings = list(data.warnings)
    ratio = report.imbalance_ratio
    if ratio >= IMBALANCE_WARN_RATIO:
        warnings.append(
            f"The labels are imbalanced: '{report.largest_class}' has {ratio:g} times as many examples as "
            f"'{report.smallest_class}'. Training weights rare labels up (class weights, on by default), "
            "but more examples of them help most."
        )
    dup = report.duplicates
    if dup["rows"]:
        warnings.append(
            f"{dup['rows']:,} rows repeat a text that appears earlier (exact duplicates of {dup['texts']:,} texts). "
            "Duplicates add nothing new and can make scores look better than they are."
        )
    if report.conflicts["count"] and not report.regression:  # a text scored twice differently is noise, no error
        warnings.append(
            f"{_texts(report.conflicts['count'])} with two or more different labels, for example "
            f"'{_short(report.conflicts['examples'][0]['text'])}'. Fix their labels so the model is not taught both."
        )
    if report.leakage["count"]:
        warnings.append(
            f"{_texts(report.leakage['count'])} in both training and validation, "
            "so validation scores will look better than they really are."
        )
    unknown = report.unknown_token_share
    if unknown is not None and unknown > UNKNOWN_WARN_SHARE:
        warnings.append(
            f"{_pct(unknown)} of the words are unknown to this model's vocabulary (it reads them all as the same "
            "[UNK] token): the texts are probably in a language or script it was not trained on (or mostly emoji). "
            "A multilingual model such as xlm-roberta-base reads them."
        )
    share, effective = report.truncated_share, report.effective_max_length
    if share > TRUNCATION_WARN_SHARE and report.suggested_max_length > effective:
        warnings.append(
            f"Max length {report.max_length} cuts {_pct(share)} of texts short ({report.truncated_count:,}). "
            f"A max length of {report.suggested_max_length} would keep "
            + ("about 99 % of them whole." if report.lengths["p99"] <= report.suggested_max_length
               else "more of them whole (the most this model reads).")
        )
    elif share > TRUNCATION_WARN_SHARE:  # the model's own limit cuts them: no setting keeps them whole
        warnings.append(
            f"{_pct(share)} of texts ({report.truncated_count:,}) are longer than the {effective:,} tokens this "
            f"model reads, so only their first {effective:,} tokens are used."
        )
    singles = [label for label, count in report.class_counts["train"].items() if count == 1]
    if len(singles) > SINGLE_EXAMPLE_LISTED:  # one sentence instead of a wall of them
        warnings = [w for w in warnings if not about_single_example(w, set(singles))] + [single_examples_warning(singles)]
    else:
        warnings += [single_example_warning(label, in_validation=report.class_counts["validation"][label] > 0)
                     for label in singles if not any(about_single_example(w, {label}) for w in warnings)]
    total = report.class_counts["total"]
    # Labels with a single example have their own warning above; every other label under ten counts here.
    few = sorted((n, label) for label, n in total.items() if 1 < n < FEW_EXAMPLES)
    if len(few) == 1:
        n, label = few[0]
        warnings.append(f"Label '{label}' has only {n} examples, so the model learns it only roughly and its score "
                        "rests on one or two texts. 20 or more per label work much better.")
    elif few:
        n, label = few[0]
        warnings.append(f"{len(few):,} labels have fewer than {FEW_EXAMPLES} examples (fewest: '{label}' with {n}), so "
                        "the model learns them only roughly and their scores rest on one or two texts. 20 or more per "
                        "label work much better.")
    return list(dict.fromkeys(warnings))  # same sentence twice says nothing new


LABELS_LISTED = 12  # past this, one sentence per label reads as a wall of names: say the range instead


def _labels_sentence(total: dict[str, int]) -> str:
    if len(total) <= LABELS_LISTED:
        return f"{len(total)} labels: " + ", ".join(f"{label} {n:,}" for label, n in total.items()) + "."
    low, high = min(total, key=total.get), max(total, key=total.get)
    if total[low] == total[high]:
        return f"{len(total)} labels with {_rows(total[low])} each."
    return f"{len(total)} labels, from {_rows(total[low])} ('{low}') to {total[high]:,} ('{high}')."


def _numbers_sentence(target: dict[str, Any]) -> str:
    return (f"numeric target (regression): range {number_text(target['min'])} … {number_text(target['max'])}, "
            f"mean {number_text(target['mean'])} ({target['distinct']:,} different values).")


def _rows(n: int) -> str:
    return "1 row" if n == 1 else f"{n:,} rows"


def _texts(n: int) -> str:
    return "1 text appears" if n == 1 else f"{n:,} texts appear"


def _pct(share: float) -> str:
    return f"{share * 100:.1f} %"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def report_sentences(report: DataReport) -> list[str]:
    """The report as short plain sentences for the UI and CLI, warnings last."""
    read, kept, dropped = report.rows_read, report.rows_kept, report.dropped
    if report.rows_dropped:
        why = ", ".join(f"{n:,} {reason}" for reason, n in dropped.items())
        lines = [f"{read:,} rows read, {kept:,} kept ({report.rows_dropped:,} dropped: {why})."]
    else:
        lines = [f"{read:,} rows read, all kept."]
    split = ("a random split of the file" if report.multi_label or report.regression
             else "a stratified split of the file")
    source = {"split": split, "dataset": "the dataset's validation split"}.get(
        report.validation_source, "from the validation file")
    lines.append(f"{report.num_train:,} rows for training and {report.num_validation:,} for validation ({source}).")
    if report.num_test:
        lines.append(f"{report.num_test:,} rows in {report.test_name}, scored once after training and "
                     "reported apart from validation.")
    if report.multi_label:
        multi = report.multi_label
        lines.append(f"multi-label: {multi['labels']:,} labels, {multi['per_text']:.1f} per text on average.")
    if report.regression:
        lines.append(_numbers_sentence(report.regression))
    else:
        lines.append(_labels_sentence(report.class_counts["total"]))
        offered = None if report.multi_label else offer(report.labels)
        # Small data counts the labels with training rows, as the job does (TaskKind.taught_labels); it applies to
        # several labels per text too, but only one label per text makes pairs of the same or of different labels.
        small = small_data_sentence(report.num_train, report.taught_labels, pairs_possible=not report.multi_label)
        lines += [s for s in (offered, small) if s]
    tiny = tiny_validation_sentence(report.num_validation)
    if tiny:
        lines.append(tiny)
    if (report.multi_label or {}).get("pairs"):
        lines.append("Given together most often: " + ", ".join(
            f"{a} + {b} {n:,}" for a, b, n in report.multi_label["pairs"]) + ".")
    lengths = report.lengths
    unit = lengths["unit"]
    if lengths["min"] == lengths["max"]:
        lines.append(f"Every text is {lengths['min']:,} {unit[:-1] if lengths['min'] == 1 else unit} long.")
    else:
        lines.append(
            f"Texts are {lengths['min']:,} to {lengths['max']:,} {unit} long (median {lengths['p50']:,}; "
            f"99 % have at most {lengths['p99']:,})."
        )
    if lengths.get("sampled"):
        lines.append(f"Lengths are measured on a random sample of {lengths['sampled']:,} of the {lengths['texts']:,} "
                     "texts.")
    if unit == "words":
        lines.append("Lengths are counted in words because no tokenizer was given; models count tokens, usually more.")
    lines.append(f"Suggested max length: {report.suggested_max_length:,} tokens.")
    chosen, effective = report.max_length, report.cut_length
    count = report.truncated_count or 0  # None in reports of older runs without a chosen length
    cut = f"{count:,} {'text' if count == 1 else 'texts'} short ({_pct(report.truncated_share or 0.0)})"
    if chosen and chosen > effective:
        lines.append(f"Max length {chosen:,} is more than this model reads; it uses {effective:,}, which cuts {cut}.")
    elif chosen:
        lines.append(f"Max length {chosen:,} cuts {cut}.")
    elif count:
        lines[-1] = lines[-1][:-1] + f"; it cuts {cut}."
    return lines + list(report.warnings)
