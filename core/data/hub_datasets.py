"""Read a dataset laid out like a Hugging Face Hub dataset repo, by Hub id (`hf://ag_news`) or, on your own machine,
from a local folder (Parquet/CSV/JSON files and a README whose YAML `configs:` name the data files), through
`datasets.load_dataset`. Its splits become pandas tables for core.data.loading, with ClassLabel ids turned into names.

A Hub id that cannot be used fails within seconds with one sentence (offline, unknown, gated, unreachable), as
core/models.py does for base models. A shared server reads no folder of its own disk as a dataset.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import DataError

PREFIX = "hf://"
VALIDATION_SPLITS = ("validation", "valid", "dev", "val")
TEST_SPLITS = ("test",)
SHARED_DATASET_MESSAGE = ("On this shared server a dataset must be a Hugging Face Hub id (like hf://ag_news); "
                          "upload a file to use your own data.")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


@dataclass
class DatasetTables:
    """The splits of one config of a dataset, as pandas tables (validation and test only when the dataset has them)."""

    name: str
    train: pd.DataFrame
    train_split: str
    validation: pd.DataFrame | None = None
    test: pd.DataFrame | None = None
    config: str | None = None
    label_column: str | None = None  # a ClassLabel column: the dataset says it is the label
    warnings: list[str] = field(default_factory=list)
    configs: list[str] = field(default_factory=list)  # what the dataset offers, for the Data step's choices
    splits: list[str] = field(default_factory=list)


def is_dataset(data_path: Any) -> bool:
    """`hf://<id or folder>`, or (on your own machine) a folder: read with `datasets`, not as a table file."""
    text = str(data_path or "")
    if text.startswith(PREFIX):
        return True
    try:
        return bool(text) and Path(text).expanduser().is_dir()
    except OSError:
        return False


def dataset_name(data_path: str) -> str:
    """What the user called it: the Hub id or the folder, without `hf://`."""
    text = str(data_path)
    return text[len(PREFIX):] if text.startswith(PREFIX) else text


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~", "\\")) or "\\" in name or ".." in name or name.count("/") > 1


def _offline() -> bool:
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes", "on") for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def resolve(data_path: str) -> tuple[str, bool]:
    """(what load_dataset gets, whether it is a local folder). DataError when it cannot be one."""
    from core.runs.access import shared_server

    name = dataset_name(data_path).strip()
    if not name:
        raise DataError("Give a dataset: a Hugging Face Hub id like hf://ag_news.")
    if shared_server():
        # Same rule as model folders: one sentence that never says whether a path exists on this server.
        if _looks_like_path(name) or not _HUB_ID.match(name) or Path(name).exists():
            raise DataError(SHARED_DATASET_MESSAGE)
        return name, False
    folder = Path(name).expanduser()
    if folder.is_dir():
        return str(folder.resolve()), True
    if _looks_like_path(name) or folder.exists():
        raise DataError(f"The folder '{name}' does not exist." if not folder.exists()
                        else f"'{name}' is a file, not a dataset folder: give it without hf:// to read it as a table.")
    if not _HUB_ID.match(name):
        raise DataError(f"'{name}' is not a valid dataset name: use a Hub id like 'ag_news' or 'org/name'.")
    return name, False


def _check_hub(repo_id: str) -> None:
    """Fail within seconds when a Hub dataset cannot be reached, instead of inside load_dataset's retries."""
    if _offline():
        return  # load_dataset answers at once from the local cache, or fails at once (see _load)
    from huggingface_hub import dataset_info
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    try:
        info = dataset_info(repo_id, timeout=10, files_metadata=True)
    except GatedRepoError:
        raise DataError(f"The dataset '{repo_id}' is gated: accept its terms on huggingface.co and sign in first.") from None
    except RepositoryNotFoundError:
        raise DataError(f"There is no dataset called '{repo_id}' on the Hugging Face Hub (check the spelling).") from None
    except Exception:
        raise DataError(f"Could not reach the Hugging Face Hub to download the dataset '{repo_id}' "
                        "(no internet connection?): upload a file instead.") from None
    check_size(repo_id, info)


_DATA_FILE = re.compile(r"\.(parquet|csv|tsv|jsonl?|arrow|txt)(\.(gz|bz2|xz|zst))?$", re.IGNORECASE)


def check_size(repo_id: str, info: Any) -> None:
    """On a shared server, refuse a dataset whose data files are over the limit before anything is downloaded (one
    visitor's download would fill the disk and memory everyone shares). Elsewhere any size is yours to try."""
    from core.runs.access import Limits, shared_server

    if not shared_server():
        return
    limit_mb = Limits.from_env().dataset_mb
    size = sum(getattr(f, "size", None) or 0 for f in getattr(info, "siblings", None) or []
               if _DATA_FILE.search(getattr(f, "rfilename", "") or ""))
    if size > limit_mb * 1_000_000:
        raise DataError(f"The dataset '{repo_id}' has {size / 1e9:.1f} GB of data files, more than this shared "
                        f"server reads ({limit_mb:,} MB): upload a smaller file, or run the app on your own machine.")


def _offline_error(name: str) -> DataError:
    return DataError(f"The dataset '{name}' is not downloaded and the app is offline: upload a file instead, "
                     "or connect to the internet.")


def _configs(path: str) -> list[str]:
    from datasets import get_dataset_config_names

    try:
        return list(get_dataset_config_names(path))
    except Exception:  # noqa: BLE001 - no list (offline, odd layout): load_dataset then says what is wrong
        return []


def _load(path: str, name: str, config: str | None, local: bool) -> tuple[Any, str | None, list[str], list[str]]:
    """(DatasetDict, the config used, warnings, the configs the dataset offers)."""
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    configs = _configs(path)
    warnings: list[str] = []
    if config and configs and config not in configs:
        raise DataError(f"The dataset '{name}' has no config '{config}'. Configs: {', '.join(configs)}.")
    try:
        try:
            loaded = datasets.load_dataset(path, name=config or None)
        except ValueError as exc:
            # Several configs and none marked default: take the first, and say which (the user can choose another).
            if config or len(configs) < 2 or "config" not in str(exc).lower():
                raise
            config = configs[0]
            loaded = datasets.load_dataset(path, name=config)
    except DataError:
        raise
    except ConnectionError:
        raise _offline_error(name) from None
    except Exception as exc:  # noqa: BLE001 - damaged files, unsupported layout: one sentence, no traceback
        if not local and _offline():
            raise _offline_error(name) from None
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise DataError(f"The dataset '{name}' could not be loaded: {detail.rstrip('.')}.") from None
    if not config:  # the dataset's default config (a README can mark any one `default: true`)
        config = next((d.info.config_name for d in loaded.values() if d.info.config_name), None)
    if len(configs) > 1:
        used = config or configs[0]
        warnings.append(f"The dataset '{name}' has {len(configs)} configs ({', '.join(configs)}); '{used}' was used. "
                        "Choose another with the dataset config setting.")
    return loaded, config or (configs[0] if configs else None), warnings, configs


def _class_names(values: Any, names: list[str]) -> list[str | None]:
    out: list[str | None] = []
    for v in values:
        try:
            i = int(v)
        except (TypeError, ValueError):
            out.append(None)
            continue
        out.append(names[i] if 0 <= i < len(names) else None)
    return out


def read_dataset(data_path: str, config: str | None = None, split: str | None = None) -> DatasetTables:
    """The training split (the given one, else `train`, else the only one), and the dataset's own validation and
    test splits when it has them."""
    from datasets import ClassLabel

    name = dataset_name(data_path).strip()
    path, local = resolve(data_path)
    if not local:
        _check_hub(path)
    loaded, config, warnings, configs = _load(path, name, (config or "").strip() or None, local)
    splits = list(loaded)
    split = (split or "").strip() or None
    if split and split not in splits:
        raise DataError(f"The dataset '{name}' has no split '{split}'. Splits: {', '.join(splits)}.")
    if split is None:
        if "train" in splits:
            split = "train"
        elif len(splits) == 1:
            split = splits[0]
        else:
            raise DataError(f"The dataset '{name}' has no 'train' split. Choose one of its splits: {', '.join(splits)}.")
    frames: dict[str, pd.DataFrame] = {}
    label_column = None
    for part in [split] + [s for s in VALIDATION_SPLITS + TEST_SPLITS if s in splits and s != split]:
        ds = loaded[part]
        df = ds.to_pandas()
        for column, feature in ds.features.items():
            if isinstance(feature, ClassLabel) and column in df.columns:
                df[column] = pd.Series(_class_names(df[column], list(feature.names)), dtype=object)
                label_column = label_column or column
        frames[part] = df
    validation = next((frames[s] for s in VALIDATION_SPLITS if s in frames and s != split), None)
    test = next((frames[s] for s in TEST_SPLITS if s in frames and s != split), None)
    if len(frames[split]) == 0:
        raise DataError(f"The split '{split}' of the dataset '{name}' has no rows of data.")
    return DatasetTables(name=name, train=frames[split], train_split=split, validation=validation, test=test,
                         config=config, label_column=label_column, warnings=warnings, configs=configs, splits=splits)
