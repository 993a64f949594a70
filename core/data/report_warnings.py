"""Warnings about the data that more than one step words: each is the sentence the user reads and also says what it
is about, so the data report combines them by their kind, never by matching their English."""
from __future__ import annotations

from typing import Any

SINGLE_EXAMPLE = "single_example"  # one label with a single training example
SINGLE_EXAMPLES = "single_examples"  # many such labels, in one sentence
SINGLE_EXAMPLE_LISTED = 5  # past this many labels with one example, one sentence names a few instead of one each


class DataWarning(str):
    """A sentence (so lists of warnings, the UI and data_report.json treat it as the plain text) with its kind and
    the label it is about."""

    kind: str
    label: str | None

    def __new__(cls, text: str, kind: str, label: str | None = None) -> DataWarning:
        warning = super().__new__(cls, text)
        warning.kind, warning.label = kind, label
        return warning

    def __getnewargs__(self) -> tuple[Any, ...]:  # copy and pickle rebuild it with its kind
        return str(self), self.kind, self.label


def single_example_warning(label: str, in_validation: bool = False) -> DataWarning:
    """A label with one training example; shared with the report so the same fact is never phrased twice."""
    if in_validation:
        text = f"Label '{label}' has only one training example. Add more examples of it."
    else:
        text = f"Label '{label}' has only one example, so it stays in training and is never tested. Add more examples of it."
    return DataWarning(text, SINGLE_EXAMPLE, label)


def single_examples_warning(labels: list[str]) -> DataWarning:
    """Many labels with one example each: one sentence, not one per label."""
    named = ", ".join(f"'{label}'" for label in labels[:3])
    return DataWarning(f"{len(labels):,} labels have only one training example each ({named}, …), so the model can "
                       "hardly learn them. Add more examples of them, or check that the label column is right.",
                       SINGLE_EXAMPLES)


def about_single_example(warning: str, labels: set[str]) -> bool:
    """A warning that one of these labels has a single example."""
    return getattr(warning, "kind", None) == SINGLE_EXAMPLE and getattr(warning, "label", None) in labels
