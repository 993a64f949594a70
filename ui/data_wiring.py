"""Step 1, Data: its events that need the Train step's settings (rendered after it), wired by ui/layout.py."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import gradio as gr

from ui.data_tab import (
    CHECK_OUTPUTS, FILE_OUTPUTS, on_baseline, on_columns, on_file_event, on_hub, on_hub_config, on_hub_restored, on_kind,
    on_length_settings, on_test_file, on_val_file,
)
from ui.wiring import keyed, pick


@dataclass
class Wired:
    """What the page needs from this step's events: those that choose an option of data_extra (a validation or test
    table, a dataset's config or split), to remember the choice once it is there, and the check of a dataset put
    back by a reload or a run opened, to run after the restore (`restore_dataset(event)`)."""

    options_chosen: list[Any]
    restore_dataset: Callable[[Any], Any]


def wire(c: dict[str, gr.Component], model: gr.Component, max_length: gr.Component,
         val_share: gr.Component, seed: gr.Component) -> Wired:
    """Events that need the Train step's settings (rendered later): called by ui/layout.py."""
    settings = [model, max_length, val_share, seed]
    column_inputs = [c["data_path"], c["text_column"], c["label_column"]] + settings + [c["data_extra"]]
    fit_baseline = dict(fn=on_baseline, inputs=column_inputs, outputs=[c["baseline"]], api_visibility="private",
                        concurrency_limit=4, show_progress="hidden")
    checked = pick(c, *CHECK_OUTPUTS)
    loaded = pick(c, *FILE_OUTPUTS, "wanted_columns")
    c["file"].change(keyed(on_file_event, loaded), [c["file"]] + settings + [c["wanted_columns"], c["data_extra"]],
                     list(loaded.values()),
                     api_visibility="private", concurrency_limit=4, trigger_mode="always_last").then(**fit_baseline)
    hub_inputs = [c["hub"], c["data_extra"]] + settings
    hub_outputs = pick(c, *FILE_OUTPUTS, "hub_config", "hub_split", "data_extra")
    events = dict(api_visibility="private", concurrency_limit=4, trigger_mode="always_last")
    chosen = [c["hub"].submit(keyed(on_hub, hub_outputs), hub_inputs, list(hub_outputs.values()), **events),
              c["hub_config"].input(keyed(on_hub_config, hub_outputs), hub_inputs + [c["hub_config"]],
                                    list(hub_outputs.values()), **events),
              c["hub_split"].input(keyed(on_hub, hub_outputs), hub_inputs + [c["hub_config"], c["hub_split"]],
                                   list(hub_outputs.values()), **events)]
    for event in chosen:
        event.then(**fit_baseline)
    restored = {**hub_outputs, "wanted_columns": c["wanted_columns"]}
    check_restored = dict(fn=keyed(on_hub_restored, restored), inputs=hub_inputs + [c["wanted_columns"]],
                          outputs=list(restored.values()), api_visibility="private", concurrency_limit=4)
    table_outputs = pick(c, *CHECK_OUTPUTS, "data_extra")
    # upload and clear, not change: a table shown again after a reload (or from a run opened) is already in
    # data_extra, and a change event would race the file's own check with an empty data path.
    for upload, handler in ((c["val_file"], on_val_file), (c["test_file"], on_test_file)):
        for event in (upload.upload, upload.clear):
            chosen.append(event(keyed(handler, table_outputs), [upload, c["data_extra"]] + column_inputs[:-1],
                                list(table_outputs.values()), **events))
            chosen[-1].then(**fit_baseline)
    for dd in (c["text_column"], c["label_column"]):
        dd.input(keyed(on_columns, checked), column_inputs, list(checked.values()), **events).then(**fit_baseline)
    kind_outputs = pick(c, *CHECK_OUTPUTS, "data_extra")
    kind_inputs = [c["task"], c["label_separator"], c["label_columns"]] + column_inputs
    # change, not input: a setting restored after a reload (or from a run opened) must redo the check too.
    for control in (c["task"], c["label_separator"]):
        control.change(keyed(on_kind, kind_outputs), kind_inputs, list(kind_outputs.values()),
                       **events).then(**fit_baseline)
    c["label_columns"].input(keyed(on_kind, kind_outputs), kind_inputs, list(kind_outputs.values()),
                             **events).then(**fit_baseline)
    for comp in (model, max_length, val_share, seed):
        comp.change(keyed(on_length_settings, checked), column_inputs, list(checked.values()), **events,
                    show_progress="hidden").then(**fit_baseline)
    return Wired(chosen, lambda event: event.then(**check_restored).then(**fit_baseline))
