"""One description of the training settings: every TrainConfig field reaches the CLI, the Train step, /train, the
saved settings and the help text, unless ui/settings.py says why not."""
from __future__ import annotations

import argparse
import dataclasses
import inspect
from dataclasses import dataclass, field

import gradio as gr
import pytest
from gradio.utils import get_function_description

from core.__main__ import _add_config_flags
from core.config import TrainConfig
from ui import layout, session, settings, train_api

FIELDS = [f.name for f in dataclasses.fields(TrainConfig)]
HELP = {f.name: f.metadata["help"] for f in dataclasses.fields(TrainConfig)}


def test_the_exclusions_name_real_fields_once():
    assert len(settings.NOT_SETTINGS) == len(set(settings.NOT_SETTINGS))
    assert set(settings.NOT_SETTINGS) <= set(FIELDS) and set(settings.LOOK) <= set(FIELDS)
    assert set(settings.NAMES) == set(FIELDS) - set(settings.NOT_SETTINGS)


def test_every_field_is_a_cli_flag_with_its_help():
    parser = argparse.ArgumentParser()
    _add_config_flags(parser)
    helps = {a.dest: a.help for a in parser._actions}
    for name in FIELDS:
        assert HELP[name].replace("%", "%%") in helps[name], name


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> gr.Blocks:
    return layout.build(tmp_path_factory.mktemp("runs"))


def _inside(demo, elem_id: str) -> set[int]:
    top = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == elem_id)
    found, inside = set(), list(top.children)
    while inside:
        block = inside.pop()
        found.add(block._id)
        inside.extend(getattr(block, "children", []))
    return found


def test_every_setting_is_a_widget_on_the_train_step_with_its_help(demo):
    in_advanced, on_data_step = _inside(demo, "tc-advanced"), _inside(demo, "tc-tab-data")
    for name in settings.NAMES:
        widget = demo.train[name]
        assert widget.info == settings.LOOK.get(name, {}).get("info", HELP[name]), name
        assert widget.value == getattr(TrainConfig(), name), name  # the default, never re-typed
        place = settings.LOOK.get(name, {}).get("place", "advanced")
        assert (widget._id in in_advanced) is (place == "advanced"), name
        assert (widget._id in on_data_step) is (place == "data"), name  # how the label column is read: by it


def test_the_task_control_offers_each_registered_kind():
    from core import tasks

    assert settings.task_words() == ("auto", *tasks.CHOSEN)
    assert settings.BY_NAME["task"].choices == settings.task_words()
    assert settings.task_choices()[:3] == [("auto (detected)", "auto"), ("single label", "single"),
                                           ("multi-label", "multi")]


def test_every_setting_and_the_run_name_are_train_parameters_described_on_the_api_page():
    parameters = inspect.signature(train_api.api_train).parameters
    _, described, _ = get_function_description(train_api.api_train)
    for name in settings.NAMES + settings.API_ONLY:
        assert parameters[name].default == getattr(TrainConfig(), name), name
        assert described[name], name
    # The public order: clients that pass parameters by position keep working; a new setting comes after these.
    assert list(parameters)[:len(train_api.PUBLIC_ORDER)] == list(train_api.PUBLIC_ORDER)
    assert list(parameters)[-1] == "request"


def test_every_setting_is_remembered_restored_and_kept_with_its_type(demo):
    assert session.SETTING_NAMES == settings.NAMES
    remember = [d for d in demo.fns.values() if d.fn is layout.remember_settings]
    triggered_by = {(block_id, event) for d in remember for block_id, event in d.targets}
    for s in settings.SETTINGS:
        assert (demo.train[s.name]._id, "input") in triggered_by, s.name
        assert session.clean_settings({s.name: s.default}) == {s.name: s.default}, s.name
        assert type(session.clean_settings({s.name: s.default})[s.name]) is s.kind, s.name


def test_a_new_field_gets_a_widget_from_its_type_and_metadata():
    @dataclass(frozen=True)
    class Later(TrainConfig):
        label_smoothing: float = field(default=0.0, metadata={"help": "Soften the targets.", "range": (0, 0.5)})
        optimizer: str = field(default="adamw", metadata={"help": "The optimiser.", "choices": ("adamw", "sgd")})

    found = {s.name: s for s in settings.describe(Later)}
    assert list(found)[-2:] == ["label_smoothing", "optimizer"]  # after the settings LOOK orders
    with gr.Blocks():
        smoothing, optimizer = settings.widget(found["label_smoothing"]), settings.widget(found["optimizer"])
    assert isinstance(smoothing, gr.Number) and (smoothing.minimum, smoothing.maximum) == (0, 0.5)
    assert smoothing.label == "Label smoothing" and smoothing.info == "Soften the targets."
    assert smoothing.elem_id == "tc-label-smoothing" and smoothing.value == 0.0
    assert isinstance(optimizer, gr.Dropdown) and [c[1] for c in optimizer.choices] == ["adamw", "sgd"]
    assert found["optimizer"].convert(" SGD ") == "sgd" and found["label_smoothing"].convert("") == 0.0
