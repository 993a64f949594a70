"""The typed contents of a run's JSON files. Each keeps its file's format exactly (`to_json` writes the same keys in
the same order; `from_json` reads what earlier versions wrote, missing keys as None), so old runs still open."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class DataReport:
    """data_report.json: what the data check found (core/data/report.py builds it, the UI, CLI and card read it)."""

    rows_read: int | None = None
    rows_kept: int | None = None
    rows_dropped: int | None = None
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> rows
    text_column: str | None = None
    label_column: str | None = None
    validation_source: str | None = None  # "split", "file" or "dataset"
    num_train: int | None = None
    num_validation: int | None = None
    num_test: int | None = None
    test_source: str | None = None  # "file" (a test table) or "dataset"; None: no test rows, or a run from before
    labels: list[str] = field(default_factory=list)
    class_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # train / validation / total -> label -> n
    imbalance_ratio: float | None = None
    largest_class: str | None = None
    smallest_class: str | None = None
    duplicates: dict[str, Any] = field(default_factory=dict)  # rows, texts, examples [{text, count}]
    conflicts: dict[str, Any] = field(default_factory=dict)  # count, examples [{text, labels}]
    leakage: dict[str, Any] = field(default_factory=dict)  # count, examples [text]
    lengths: dict[str, Any] = field(default_factory=dict)  # unit, source, min, mean, p50..p99, max, sampled, texts
    model_max_length: int | None = None
    max_length: int | None = None  # the length the user chose; None: automatic
    effective_max_length: int | None = None  # what training cuts to (older runs: max_length)
    truncated_count: int | None = None
    truncated_share: float | None = None
    suggested_max_length: int | None = None
    unknown_token_share: float | None = None
    # multi-label data only: labels, per_text (mean labels a text), separator, pairs [[a, b, n]] given together most
    multi_label: dict[str, Any] | None = None
    # a numeric target (regression) only: min, max, mean, std, distinct, histogram {edges, counts}
    regression: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in ("multi_label", "regression", "test_source"):  # reports without them keep the keys they always had
            if values[key] is None:
                del values[key]
        return {**values, "warnings": [str(w) for w in self.warnings]}

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> DataReport:
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in stored.items() if key in known})

    @property
    def taught_labels(self) -> int:
        """The labels with training rows (TaskKind.taught_labels, from the counts): what small data counts per label."""
        return sum(1 for n in self.class_counts.get("train", {}).values() if n > 0)

    @property
    def test_name(self) -> str:
        """How sentences name the test rows (runs from before test tables only ever had a dataset's test split)."""
        return "the test file" if self.test_source == "file" else "the dataset's test split"

    @property
    def cut_length(self) -> int | None:
        """The length training cuts texts to, in reports of every version."""
        return self.effective_max_length or self.max_length
