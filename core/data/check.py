"""Check data as training will see it: read, columns, clean, split, the data report and the baseline. Shared by
`python -m core check`, create_run (Start, `python -m core train`, /train) and the Data step, through the same
cached core.data.prepared_cache functions, so the numbers a user checked are the numbers the run records."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.artefacts import DataReport
from core.config import TrainConfig
from core.data.loading import PreparedData


@dataclass
class Checked:
    data: PreparedData
    tokenizer: Any
    report: DataReport
    baseline: dict[str, Any] | None


def prepare(config: TrainConfig) -> PreparedData:
    from core.data.prepared_cache import prepared_data

    return prepared_data(config.data_path, config.text_column, config.label_column, config.val_data_path,
                         config.val_share, config.seed, data_config=config.data_config, data_split=config.data_split,
                         task=config.task, label_separator=config.label_separator)


def check(config: TrainConfig, with_baseline: bool = True) -> Checked:
    """UserError (one sentence) when the settings, the model or the data cannot be used."""
    from core.models import load_tokenizer, model_max_length
    from core.data.prepared_cache import baseline, data_report

    tokenizer = load_tokenizer(config.model)  # first: fails fast for an unreachable Hub id or a broken folder
    data = prepare(config)  # the Data step usually prepared this already: reused, not recomputed
    report = data_report(data, tokenizer, config.max_length or None, model_max_length(tokenizer))
    return Checked(data, tokenizer, report, baseline(data) if with_baseline else None)
