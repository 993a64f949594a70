"""The Train step's settings, generated from TrainConfig's fields (as the CLI's flags are).

One description (`SETTINGS`) gives the Train step its widgets, `config_from_ui` its conversion, /train its parameters
(ui/train_api.py) and the browser its saved settings (ui/session.py). A new TrainConfig field shows up in all of them
with its metadata: `help` (the widget's info and the API's description), `choices` (a dropdown) and `range`
(`(low, high)`, either None: the number box's limits). `LOOK` only fine-tunes how a setting is shown.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

import gradio as gr

from core import tasks
from core.config import TrainConfig
from core.errors import UserError
from core.runs import gpus
from core.models import MODEL_CHOICES

# Fields that are not Train-step settings, each for a reason:
DATA_FIELDS = ("data_path", "val_data_path", "test_data_path", "data_config", "data_split", "text_column",
               "label_column")  # the Data step sets these (and /train has its own data parameters: data_file,
# test_file, hub_dataset, dataset_config, dataset_split).
CLI_ONLY = ("warmup_ratio", "weight_decay", "eval_steps", "keep_best", "checkpoint_every_minutes",
            "fused_attention_long_batches", "pair_training")  # expert knobs the page and /train have never offered: the CLI has them
API_ONLY = ("run_name",)  # /train names a run; the page names it from the data file (renamed on the Runs step)
NOT_SETTINGS = DATA_FIELDS + CLI_ONLY + API_ONLY

# How a setting is shown, where its type and metadata alone would not say it: the two settings above Start ("main"),
# sliders, labels that say what 0 means, the element ids the browser tests use. The Advanced box lists its settings in
# this order; a field not named here comes after them, labelled from its name.
LOOK: dict[str, dict[str, Any]] = {
    # How the label column is read: shown on the Data step beside it ("data"), as they change its check.
    "task": dict(place="data", label="Task", elem_id="tc-task"),
    "label_separator": dict(place="data", label="Label separator", elem_id="tc-label-separator",
                            info="What separates the labels in a cell of a multi-label column."),
    "model": dict(place="main", label="Base model", elem_id="tc-model",
                  info="Hub models need internet. You can also type any Hub id or a local folder."),
    "epochs": dict(place="main", slider=(1, 20, 1), label="Epochs", elem_id="tc-epochs"),
    # Shown only on a machine with several GPUs (gpu_choice), so elsewhere the page is as it was.
    "processes": dict(place="main", label="GPUs", elem_id="tc-processes",
                      info="All GPUs train one model together (data-parallel); one GPU leaves the others free."),
    "learning_rate": dict(label="Learning rate (0 = automatic)", minimum=0, step=1e-5),
    "batch_size": dict(label="Batch size (0 = automatic)", minimum=0),
    "max_length": dict(label="Max length in tokens (0 = automatic)", minimum=0, elem_id="tc-max-length"),
    "val_share": dict(slider=(0.05, 0.5, 0.05), label="Validation share"),
    "early_stopping_patience": dict(label="Early stopping patience (0 = off)", minimum=0),
    "class_weights": dict(label="Class weights"),
    "warm_start_head": dict(label="Warm-start the classification head", elem_id="tc-warm-start"),
    "pair_training": dict(label="Train on pairs of texts first when the data is small"),
    "seed": dict(label="Seed"),
    "report_to": dict(label="Report to", elem_id="tc-report-to"),
}


def task_words() -> tuple[str, ...]:
    """The Task control's values, from the registry of kinds (a kind registered there appears without UI edits)."""
    return ("auto", *tasks.CHOSEN)


def task_choices() -> list[tuple[str, str]]:
    """(shown, value) for the Task control: "auto (detected)", then each kind by its title."""
    return [("auto (detected)", "auto")] + [(kind.title or word, word) for word, kind in tasks.CHOSEN.items()]


SEPARATOR_CHOICES = [("detected", ""), (";", ";"), ("|", "|"), (",", ",")]


@dataclass(frozen=True)
class Setting:
    """One TrainConfig field as the page, /train and the saved settings see it."""

    name: str
    kind: type  # float, int, bool or str
    default: Any
    help: str
    choices: tuple[str, ...] | None = None
    range: tuple[float | None, float | None] = (None, None)

    def convert(self, value: Any) -> Any:
        """A widget's or an API caller's value -> the field's type; empty means the default."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return self.default
        if self.kind is bool:
            return bool(value)
        if self.kind is str:
            text = str(value).strip()
            return text.lower() if self.choices else text
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise UserError(f"'{value}' is not a number.")
        return int(number) if self.kind is int else number


def describe(config_class: type = TrainConfig) -> tuple[Setting, ...]:
    """The settings of a TrainConfig-like dataclass: every field but NOT_SETTINGS, in LOOK's order, then the rest."""
    hints = typing.get_type_hints(config_class)
    found = {}
    for f in dataclasses.fields(config_class):
        if f.name in NOT_SETTINGS:
            continue
        choices = task_words() if f.name == "task" else f.metadata.get("choices")
        found[f.name] = Setting(f.name, hints[f.name], f.default, f.metadata.get("help", ""),
                                tuple(choices) if choices else None, tuple(f.metadata.get("range", (None, None))))
    ordered = [n for n in LOOK if n in found] + [n for n in found if n not in LOOK]
    return tuple(found[n] for n in ordered)


SETTINGS = describe()
NAMES = tuple(s.name for s in SETTINGS)
BY_NAME = {s.name: s for s in SETTINGS}


def label_of(setting: Setting) -> str:
    return LOOK.get(setting.name, {}).get("label") or setting.name.replace("_", " ").capitalize()


def widget(setting: Setting) -> gr.components.Component:
    """The setting's component, showing its default."""
    look = LOOK.get(setting.name, {})
    common = dict(label=label_of(setting), info=look.get("info", setting.help),
                  elem_id=look.get("elem_id", "tc-" + setting.name.replace("_", "-")))
    if setting.name == "model":
        return gr.Dropdown(list(MODEL_CHOICES), value=setting.default, allow_custom_value=True, **common)
    if setting.name == "task":
        return gr.Dropdown(task_choices(), value=setting.default, **common)
    if setting.name == "label_separator":  # shown once the data is multi-label (ui/data_tab.py)
        return gr.Dropdown(SEPARATOR_CHOICES, value=setting.default, allow_custom_value=True, visible=False,
                           **common)
    if setting.name == "processes":
        return gpu_choice(gpus.machine_gpus(), setting.default, common)
    if setting.choices:
        return gr.Dropdown(list(setting.choices), value=setting.default, **common)
    if setting.kind is bool:
        return gr.Checkbox(setting.default, **common)
    if "slider" in look:
        low, high, step = look["slider"]
        return gr.Slider(low, high, value=setting.default, step=step, **common)
    if setting.kind in (int, float):
        low, high = setting.range
        return gr.Number(setting.default, minimum=look.get("minimum", low), maximum=high, step=look.get("step", 1),
                         precision=0 if setting.kind is int else None, **common)
    return gr.Textbox(setting.default, **common)


def gpu_choice(gpus: int, default: int, common: dict[str, Any]) -> gr.Radio:
    """"1 GPU" or "All N GPUs" on a machine with N > 1 GPUs; elsewhere a hidden one-process choice."""
    choices = [("1 GPU", 1)] + ([(f"All {gpus} GPUs", gpus)] if gpus > 1 else [])
    return gr.Radio(choices, value=default, visible=gpus > 1, **common)


def render(place: str) -> dict[str, gr.components.Component]:
    """The widgets of the settings shown in `place` ("main" above Start, "advanced" in the Advanced box, "data"
    on the Data step)."""
    return {s.name: widget(s) for s in SETTINGS if LOOK.get(s.name, {}).get("place", "advanced") == place}


def config_from_ui(data_path: str | None, text_column: str | None = None, label_column: str | None = None, *,
                   val_data_path: str | None = None, test_data_path: str | None = None, data_config: str | None = "",
                   data_split: str | None = "", run_name: str | None = "", **values: Any) -> TrainConfig:
    """UI or API values (strings, floats from sliders, None from empty boxes) -> TrainConfig, each setting converted
    to its field's type (an empty one is its default). Validation is separate."""
    unknown = sorted(set(values) - set(BY_NAME))
    if unknown:
        raise TypeError(f"not TrainConfig settings: {unknown}")
    return TrainConfig(
        data_path=str(data_path or ""),
        val_data_path=str(val_data_path) if val_data_path else None,
        test_data_path=str(test_data_path) if test_data_path else None,
        data_config=(data_config or "").strip(),
        data_split=(data_split or "").strip(),
        text_column=(text_column or "").strip() or None,
        label_column=(label_column or "").strip() or None,
        run_name=(run_name or "").strip(),
        **{name: BY_NAME[name].convert(value) for name, value in values.items()},
    )

