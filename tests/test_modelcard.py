"""Model card content and Hub metadata, the export folder, and the zip that pipeline() loads in a new process."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from core.publish import modelcard
from core.config import DEFAULT_MODEL
from core.errors import UserError
from tests.test_predict import LABELS, make_run_dir


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: str) -> Path:
    run = make_run_dir(tmp_path_factory.mktemp("card-runs"), tiny_model_dir, name="Support tickets v1")
    (run / "baseline.json").write_text(json.dumps({
        "method": "TF-IDF + logistic regression", "accuracy": 0.61, "f1_macro": 0.55, "seconds": 0.2,
        "per_class": [{"label": lab, "precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 3} for lab in LABELS]}))
    # Trainer.save_model also writes its arguments; they are no part of a shared model.
    (run / "model" / "training_args.bin").write_bytes(b"pickled args")
    return run


def card_of(run: Path, **kwargs: object) -> tuple[dict, str]:
    from huggingface_hub import ModelCard

    card = ModelCard(modelcard.render_card(run, **kwargs))  # the Hub's own parser validates the metadata
    return card.data.to_dict(), card.text


def test_card_metadata(run_dir: Path) -> None:
    meta, _ = card_of(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert meta["library_name"] == "transformers"
    assert meta["pipeline_tag"] == "text-classification"
    assert meta["language"] == ["en"] and meta["metrics"] == ["accuracy", "f1"]  # from the training texts
    assert meta["license"] == "other"  # a local base model: its licence is unknown
    assert "base_model" not in meta  # a local folder is not a Hub id the Hub could link
    val_texts = set(__import__("pandas").read_parquet(run_dir / "data" / "validation.parquet")["text"])
    assert [w["text"] for w in meta["widget"]] and {w["text"] for w in meta["widget"]} <= val_texts
    result = meta["model-index"][0]["results"][0]
    assert meta["model-index"][0]["name"] == "Support tickets v1"
    assert result["task"]["type"] == "text-classification" and result["dataset"]["split"] == "validation"
    values = {m["type"]: m["value"] for m in result["metrics"]}
    assert values == {"accuracy": round(metrics["accuracy"], 4), "f1": round(metrics["f1_macro"], 4)}


def test_card_names_the_default_base_model_and_its_licence(tmp_path: Path, run_dir: Path) -> None:
    config = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**config, "model": DEFAULT_MODEL}))
    try:
        meta, text = card_of(run_dir)
    finally:
        (run_dir / "config.json").write_text(json.dumps(config))
    assert meta["base_model"] == DEFAULT_MODEL and meta["license"] == "apache-2.0"
    assert f"Fine-tuned from [{DEFAULT_MODEL}](https://huggingface.co/{DEFAULT_MODEL})" in text


def test_card_body(run_dir: Path) -> None:
    _, text = card_of(run_dir, repo_id="alice/support-tickets")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert text.lstrip().startswith("# Support tickets v1")
    assert "sorts a text into one of 3 labels: `billing`, `bug`, `praise`." in text
    assert "| 0 | billing |" in text and "| 2 | praise |" in text
    assert "| rows read | 36 |" in text and "| rows dropped | 3 |" in text and "| validation texts | 9 |" in text
    assert "| label | train | validation | total |" in text and "| bug | 8 | 3 | 11 |" in text
    assert "- Note: 3 rows had an empty text and were dropped." in text
    assert "| epochs | 1.0 |" in text and "| max length (tokens) | 64 |" in text and "| seed | 42 |" in text
    assert f"| fine-tuned model | {metrics['accuracy']:.4f} | {metrics['f1_macro']:.4f} |" in text
    assert "| baseline: TF-IDF + logistic regression | 0.6100 | 0.5500 |" in text
    bug = next(r for r in metrics["per_class"] if r["label"] == "bug")
    assert f"| bug | {bug['precision']:.4f} | {bug['recall']:.4f} | {bug['f1']:.4f} | {bug['support']} |" in text
    assert 'classifier = pipeline("text-classification", model="alice/support-tickets")' in text


def test_card_gives_the_batch_size_epochs_and_rate_the_run_trained_with(run_dir: Path) -> None:
    assert "| batch size | automatic |" in card_of(run_dir)[1]  # batch size 0 and no training events
    events = run_dir / "events.jsonl"
    events.write_text(json.dumps({"type": "started", "time": 1.0, "total_steps": 6, "batch_size": 96}) + "\n")
    try:
        assert "| batch size | 96 |" in card_of(run_dir)[1]
        # Small data trains with its own epochs and rate, and from 32 texts per label starts with pairs of texts.
        events.write_text(json.dumps({"type": "started", "time": 1.0, "total_steps": 240, "batch_size": 16,
                                      "epochs": 30.0, "learning_rate": 3e-05, "pairs": 2560}) + "\n")
        text = card_of(run_dir)[1]
        assert "| epochs | 30.0 |" in text and "| learning rate | 3e-05 |" in text
        assert "| pairs of texts trained on first (small data: SetFit's contrastive phase) | 2560 |" in text
    finally:
        events.unlink()


@pytest.mark.parametrize("device, shown", [("cpu (2 cores)", True), ("cuda:0 (NVIDIA H100 80GB HBM3)", False)])
def test_card_lists_the_cpu_attention_setting_only_for_a_cpu_run(run_dir: Path, device: str, shown: bool) -> None:
    events = run_dir / "events.jsonl"
    events.write_text(json.dumps({"type": "started", "time": 1.0, "total_steps": 6, "device": device}) + "\n")
    try:
        text = card_of(run_dir)[1]
    finally:
        events.unlink()
    assert ("| CPU: batches over 256 tokens without attention dropout (fused kernel) | True |" in text) == shown


def test_card_escapes_awkward_label_names(tmp_path: Path, tiny_model_dir: str) -> None:
    run = make_run_dir(tmp_path, tiny_model_dir, name='quote " and | pipe: yes', predictions=False)
    (run / "labels.json").write_text(json.dumps(["a|b", 'say "hi"', "no"]))
    meta, text = card_of(run)  # the YAML still parses
    assert meta["pipeline_tag"] == "text-classification"
    assert meta["language"] == ["en"] and meta["metrics"] == ["accuracy", "f1"]  # from the training texts
    assert "| 0 | a\\|b |" in text
    assert "No validation metrics were recorded for this run." in text and "model-index" not in meta


def test_prepare_export_writes_the_card_into_the_model_folder(run_dir: Path) -> None:
    folder = modelcard.prepare_export(run_dir)
    assert folder == run_dir / "model"
    assert (folder / "README.md").read_text().startswith("---\nlanguage:\n- en\nlibrary_name: transformers\n")


def test_prepare_export_without_model(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="^This run has no trained model yet: wait until training has finished.$"):
        modelcard.prepare_export(tmp_path)


def test_zip_holds_exactly_the_export_files(run_dir: Path) -> None:
    path = modelcard.make_zip(run_dir)
    assert path == run_dir / "exports" / "Support-tickets-v1.zip"
    folder = run_dir / "model"
    expected = {f"Support-tickets-v1/{p.relative_to(folder).as_posix()}" for p in modelcard.export_files(folder)}
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        assert names == expected
        assert {"Support-tickets-v1/README.md", "Support-tickets-v1/config.json",
                "Support-tickets-v1/model.safetensors", "Support-tickets-v1/tokenizer.json"} <= names
        assert "Support-tickets-v1/training_args.bin" not in names
        config = json.loads(zf.read("Support-tickets-v1/config.json"))
    assert [config["id2label"][str(i)] for i in range(3)] == LABELS


@pytest.mark.slow
def test_pipeline_loads_the_zip_in_a_new_process(run_dir: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(modelcard.make_zip(run_dir)) as zf:
        zf.extractall(tmp_path)
    code = (
        "import json, sys\n"
        "from transformers import pipeline\n"
        "clf = pipeline('text-classification', model=sys.argv[1], device='cpu')\n"
        "print(json.dumps(clf('my invoice is wrong', top_k=None)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "Support-tickets-v1")],
                          capture_output=True, text=True, timeout=300, env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    scores = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(s["label"] for s in scores) == sorted(LABELS)
    assert sum(s["score"] for s in scores) == pytest.approx(1.0, abs=1e-4)


def test_card_inherits_the_base_models_licence_from_its_card(run_dir: Path, tmp_path: Path, tiny_model_dir: str,
                                                              monkeypatch) -> None:
    import shutil

    from huggingface_hub import constants

    from core.models import base_model_license

    base = tmp_path / "base"
    shutil.copytree(tiny_model_dir, base)
    (base / "README.md").write_text("---\nlanguage: en\nlicense: MIT\ntags:\n- x\n---\n# A model\nlicense: nope\n")
    config = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**config, "model": str(base)}))
    try:
        assert card_of(run_dir)[0]["license"] == "mit"
    finally:
        (run_dir / "config.json").write_text(json.dumps(config))

    # A Hub model downloaded before: its card in the local cache says it, offline too.
    snapshot = tmp_path / "hub" / "models--someone--classifier" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "README.md").write_text('---\nlicense: "cc-by-4.0"\n---\n')
    (tmp_path / "hub" / "models--someone--classifier" / "refs").mkdir()
    (tmp_path / "hub" / "models--someone--classifier" / "refs" / "main").write_text("abc123")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert base_model_license("someone/classifier") == "cc-by-4.0"

    # Not cached: only a push (online) asks the Hub, and never while the app is offline.
    import huggingface_hub

    asked = []

    def fake_info(repo_id, timeout=None):
        asked.append(repo_id)
        return type("Info", (), {"card_data": type("Card", (), {"license": ["llama3"]})()})()

    monkeypatch.setattr(huggingface_hub, "model_info", fake_info)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert base_model_license("meta/model", online=True) is None and asked == []
    monkeypatch.delenv("HF_HUB_OFFLINE")
    assert base_model_license("meta/model") is None and asked == []
    assert base_model_license("meta/model", online=True) == "llama3" and asked == ["meta/model"]
    assert base_model_license("") == "apache-2.0"  # the default model's own card


def test_card_metadata_is_written_by_model_card_data_and_licences_read_by_metadata_load(tmp_path: Path,
                                                                                      run_dir: Path) -> None:
    from huggingface_hub import ModelCard

    from core.models import _readme_license

    card = ModelCard(modelcard.render_card(run_dir))
    assert card.data.metrics == ["accuracy", "f1"]
    results = {r.metric_type: r for r in card.data.eval_results}  # parsed back into EvalResults by the Hub's code
    assert results["f1"].metric_args == {"average": "macro"} and results["accuracy"].dataset_split == "validation"
    readme = tmp_path / "README.md"
    readme.write_text('---\nlicense:\n- "MIT"\ntags: [x]\n---\n# A model\n', encoding="utf-8")
    assert _readme_license(readme) == "mit"  # a list and quotes: YAML, not a regex
    readme.write_text("---\nlicense: [unclosed\n---\n", encoding="utf-8")
    assert _readme_license(readme) is None


def test_card_language_follows_the_training_texts(tmp_path: Path, run_dir: Path) -> None:
    import pandas as pd

    train = run_dir / "data" / "train.parquet"
    original = train.read_bytes()
    german = ["Die Rechnung ist falsch und ich habe zweimal bezahlt",
              "Der Knopf funktioniert nicht mehr, wie kann das sein"]
    pd.DataFrame({"text": german * 4, "label": ["billing", "bug"] * 4}).to_parquet(train)
    try:
        meta, text = card_of(run_dir)
        train.unlink()  # a run whose data files are gone still gets a card, without a language
        gone, _ = card_of(run_dir)
    finally:
        train.write_bytes(original)
    assert meta["language"] == ["de"] and "Language: de (detected from the training texts)." in text
    assert "language" not in gone
