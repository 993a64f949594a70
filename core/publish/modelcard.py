"""The model card (README.md with Hub metadata) and the export folder that both the zip and the Hub push use."""
from __future__ import annotations

import functools
import json
import re
import zipfile
from pathlib import Path
from typing import Any

from core import tasks
from core.artefacts import DataReport
from core.runs.rundir import RunDir
from core.tasks.baseline import METHOD
from core.config import DEFAULT_MODEL, TrainConfig
from core.errors import UserError
from core.models import base_model_license
from core.publish.language import SAMPLE, detect_languages
from core.runs.events import read_events
from core.serving.predict import example_texts, no_model_message, trained_max_length

CARD_FILE = "README.md"
DEFAULT_LICENSE = "apache-2.0"  # the default base model's licence
# Files that never belong in a shared model folder (optimizer state, anything that could hold secrets).
IGNORE_PATTERNS = ["training_args.bin", "optimizer.pt", "scheduler.pt", "rng_state.pth", ".env", "*.tmp"]
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _example_texts(run_dir: Path, n: int = 3) -> list[str]:
    try:
        return [t[:300] for t in example_texts(run_dir, n)]
    except Exception:  # the card must still render for a run whose data files are gone
        return []


def card_facts(run_dir: Path | str) -> dict[str, Any]:
    """What the card says, gathered from the run directory (no network)."""
    run_dir = Path(run_dir)
    run = RunDir(run_dir)
    cfg = run.config() or TrainConfig()
    metrics = run.metrics() or {}
    model_cfg = run.model_config()
    kind, stored_labels = tasks.read_labels(run.stored_labels())
    kind = kind.at(kind.saved_threshold(model_cfg))  # the card says how the saved model decides
    labels = metrics.get("labels") or stored_labels
    if not labels and model_cfg.get("id2label"):
        labels = [model_cfg["id2label"][k] for k in sorted(model_cfg["id2label"], key=int)]
    run_info = run.info()
    # Only a Hub id is a base_model the Hub can link to; a local folder is described, not named.
    base_model = cfg.model if _HUB_ID.match(cfg.model or "") and not Path(cfg.model).exists() else ""
    if cfg.model in ("", "default", "all-MiniLM-L6-v2"):
        base_model = DEFAULT_MODEL
    return {
        "name": str(run_info.get("name") or cfg.run_name or run_dir.name),
        "config": cfg,
        "labels": [str(x) for x in labels or []],
        "kind": kind,
        "metrics": metrics,
        "baseline": run.baseline(),
        "report": run.report() or DataReport(),
        "base_model": base_model,
        "examples": _example_texts(run_dir),
        "languages": _languages(run_dir),
    }


def _languages(run_dir: Path) -> list[str]:
    """The training texts' language(s) for the card's `language` field; [] when the data does not tell."""

    try:
        import pyarrow.parquet as pq

        batch = next(pq.ParquetFile(RunDir(run_dir).train_data).iter_batches(batch_size=SAMPLE, columns=["text"]))
    except (OSError, StopIteration, KeyError, ValueError):  # the card must still render for a run whose data is gone
        return []
    return detect_languages(batch.column(0).to_pylist())


def _licence(f: dict[str, Any], online: bool) -> str:
    """A fine-tune inherits its base model's licence; "other" when it cannot be found out."""

    found = base_model_license(f["config"].model, online=online)
    if not found and f["base_model"] == DEFAULT_MODEL:
        found = DEFAULT_LICENSE
    return found if found and re.fullmatch(r"[a-z0-9][a-z0-9.+-]*", found) else "other"


def card_data(f: dict[str, Any], online: bool = False) -> Any:
    """The card's metadata as huggingface_hub's ModelCardData, with the validation scores as EvalResults (the
    Hub's model-index), instead of hand-written YAML: the Hub's own code writes what its parser reads back."""
    from huggingface_hub import EvalResult, ModelCardData

    m, kind = f["metrics"], f["kind"]
    results = None
    if kind.metrics[0].key in m:
        common = dict(task_type="text-classification", task_name="Text Classification",
                      dataset_type="custom", dataset_name=Path(f["config"].data_path).name or "user data",
                      dataset_split="validation")
        results = [
            EvalResult(**common, metric_type=metric.hub_type, metric_name=metric.hub_name,
                       metric_value=round(float(m.get(metric.key, 0.0)), 4),
                       **({"metric_args": {"average": metric.hub_average}} if metric.hub_average else {}))
            for metric in kind.metrics
        ]
    return ModelCardData(
        library_name="transformers", pipeline_tag="text-classification", license=_licence(f, online),
        language=f["languages"] or None,
        base_model=f["base_model"] or None, tags=["text-classification", "generated-by-textclf"],
        metrics=list(dict.fromkeys(metric.hub_type for metric in kind.metrics)), model_name=f["name"], eval_results=results,
        widget=[{"text": t} for t in f["examples"]] or None,
    )


def _front_matter(f: dict[str, Any], online: bool = False) -> str:
    return f"---\n{card_data(f, online).to_yaml()}\n---\n"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        text = f"{v:.4f}" if isinstance(v, float) else str(v)
        return text.replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(out)


def _max_length(run_dir: Path) -> int:
    return trained_max_length(run_dir)


def _started_fact(run_dir: Path, key: str) -> Any:
    """What the run's training process reported when it started (the automatic batch size, the device), or None."""

    started = [e for e in read_events(run_dir) if e.get("type") == "started"]
    return started[-1].get(key) if started else None


def render_card(run_dir: Path | str, repo_id: str | None = None) -> str:
    """README.md: YAML metadata + what it classifies, data, settings, metrics, baseline, and how to use it."""
    f = card_facts(run_dir)
    cfg: TrainConfig = f["config"]
    m, base, report = f["metrics"], f["baseline"], f["report"]
    labels = f["labels"]
    # After a push the card (and so every later zip) names the Hub repo, so zip and Hub hold the same files.
    model_ref = repo_id or RunDir(run_dir).hub().get("repo_id") or "path/to/this/folder"
    # Pushing is online anyway, so only then may the licence be asked of the Hub; a zip never waits on the network.
    parts = [_front_matter(f, online=repo_id is not None), f"# {f['name']}", ""]
    parts.append(
        f["kind"].card_summary(labels)
        + (f"Fine-tuned from [{f['base_model']}](https://huggingface.co/{f['base_model']})" if f["base_model"] else "Fine-tuned")
        + " with a no-code text-classification app (transformers Trainer)."
    )
    kind = f["kind"]
    if kind.classes:
        parts += ["", "## Labels", "", _table(["id", "label"], [[i, lab] for i, lab in enumerate(labels)]), ""]
    else:
        target = report.regression or {}
        spread = (f" In the data: {target['min']:.4g} to {target['max']:.4g}, mean {target['mean']:.4g}."
                  if target else "")
        parts += ["", "## Target", "", f"`{labels[0]}`, a number.{spread} {kind.pipeline_note()}", ""]
    parts += ["## Data", ""]
    if f["languages"]:
        parts += [f"Language: {', '.join(f['languages'])} (detected from the training texts).", ""]
    validation = report.num_validation if report.num_validation is not None else m.get("num_validation")
    facts = [("rows read", report.rows_read), ("rows kept", report.rows_kept), ("rows dropped", report.rows_dropped),
             ("training texts", report.num_train), ("validation texts", validation)]
    facts = [(k, v) for k, v in facts if v is not None]
    if facts:
        parts += [_table(["", "count"], [list(x) for x in facts]), ""]
    counts = report.class_counts
    if counts.get("train") and kind.classes:
        # data_report.json: {"train": {label: n}, "validation": {...}, "total": {...}}
        splits = [s for s in ("train", "validation", "total") if isinstance(counts.get(s), dict)]
        rows = [[lab] + [counts[s].get(lab, 0) for s in splits] for lab in labels]
        parts += ["Examples per label:", "", _table(["label"] + splits, rows), ""]
    for warning in report.warnings:
        parts.append(f"- Note: {warning}")
    parts += ["", "## Training settings", ""]
    started = functools.partial(_started_fact, Path(run_dir))  # what the run trained with (small data: its own)
    settings = [("base model", f["base_model"] or "local model"), ("epochs", started("epochs") or cfg.epochs),
                ("learning rate", cfg.learning_rate or started("learning_rate") or "automatic"), ("batch size", cfg.batch_size or _started_fact(Path(run_dir), "batch_size") or "automatic"),
                ("max length (tokens)", _max_length(Path(run_dir)) or "automatic"),
                ("warm-up ratio", cfg.warmup_ratio), ("weight decay", cfg.weight_decay),
                ("seed", cfg.seed),
                ("class weights", cfg.class_weights), ("head warm-started from a linear probe", cfg.warm_start_head)]
    if str(_started_fact(Path(run_dir), "device") or "cpu").startswith("cpu"):  # the setting does nothing on a GPU
        settings.append(("CPU: batches over 256 tokens without attention dropout (fused kernel)",
                         cfg.fused_attention_long_batches))
    if started("pairs"):
        settings.append(("pairs of texts trained on first (small data: SetFit's contrastive phase)", started("pairs")))
    if m.get("best_step") is not None:
        settings.append(("model kept: the best evaluation, at step", m["best_step"]))
    parts += [_table(["setting", "value"], [[k, str(v)] for k, v in settings]), ""]  # str: no 4-decimal rounding
    parts += ["## Evaluation (validation split)", ""]
    scores = f["kind"].metrics
    if scores[0].key in m:
        rows = [["fine-tuned model", *(float(m.get(s.key, 0.0)) for s in scores)]]
        if base and scores[0].key in base:
            rows.append([f"baseline: {base.get('method', METHOD)}", *(float(base.get(s.key, 0.0)) for s in scores)])
        parts += [_table(["model", *(s.label for s in scores)], rows), ""]
        if base and f["kind"].main_metric in base:
            parts += ["The baseline is trained in seconds on the same split, to show what the transformer adds.", ""]
        per_class = [[r["label"], float(r["precision"]), float(r["recall"]), float(r["f1"]), int(r["support"])]
                     for r in m.get("per_class", [])]
        if per_class:
            parts += ["Per label:", "", _table(["label", "precision", "recall", "F1", "support"], per_class), ""]
    else:
        parts += ["No validation metrics were recorded for this run.", ""]
    example = f["examples"][0] if f["examples"] else "Type a text here"
    parts += [
        "## How to use", "", "```python",
        *kind.pipeline_example(json.dumps(model_ref), json.dumps(example, ensure_ascii=False)), "```", "",
        *([] if kind.classes else [
            "The Hub's widget shows pipeline()'s default for one output (a sigmoid of the standardised score), not "
            f"`{labels[0]}`: use the code above.", ""]),
        *([kind.usage_note(labels), ""] if kind.usage_note(labels) else []),
        "## Limitations", "",
        ("The model only knows the labels above" if kind.classes else "The model only knows the range of values "
         "above") + " and the kind of texts it was trained on; check its mistakes in the validation set before "
        "relying on it.", "",
    ]
    return "\n".join(parts)


def prepare_export(run_dir: Path | str, repo_id: str | None = None) -> Path:
    """Write the model card into model/ and return that folder: the zip and the Hub push both use exactly it."""
    run_dir = Path(run_dir)
    model_dir = RunDir(run_dir).model_dir
    if not RunDir(run_dir).has_model():
        raise UserError(no_model_message(run_dir))
    card = render_card(run_dir, repo_id)
    tmp = model_dir / (CARD_FILE + ".tmp")
    tmp.write_text(card, encoding="utf-8")
    tmp.replace(model_dir / CARD_FILE)
    return model_dir


def export_files(folder: Path) -> list[Path]:
    """The files that are shared: everything in the folder except IGNORE_PATTERNS (the push ignores the same)."""
    return [p for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(p.match(pat) for pat in IGNORE_PATTERNS)]


def export_name(run_dir: Path | str) -> str:
    """A file-system- and Hub-safe name for the run (used for the zip and the default repo name)."""
    name = card_facts(run_dir)["name"] if RunDir(run_dir).is_run() else Path(run_dir).name
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._")[:80]
    return slug or "text-classifier"


def make_zip(run_dir: Path | str, out_dir: Path | str | None = None) -> Path:
    """Zip the export folder as <name>/... into <out_dir or run_dir/exports>/<name>.zip."""
    run_dir = Path(run_dir)
    folder = prepare_export(run_dir)
    name = export_name(run_dir)
    out_dir = Path(out_dir) if out_dir else RunDir(run_dir).exports_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}.zip"
    tmp = out_dir / f"{name}.zip.tmp"
    with zipfile.ZipFile(tmp, "w") as zf:
        for path in export_files(folder):
            # Weights barely compress and are the bulk: store them; deflate the small text files.
            stored = path.suffix in (".safetensors", ".bin", ".pt")
            zf.write(path, f"{name}/{path.relative_to(folder).as_posix()}",
                     compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
    tmp.replace(target)
    return target
