"""UI handlers without a browser: UI values -> TrainConfig, events -> chart data, data check, session, run drawing."""
from __future__ import annotations

import pytest

from core.config import DEFAULT_MODEL, TrainConfig
from core.errors import UserError
from core.runs.events import fold
from tests.page import setting_values
from ui import charts, data_tab, layout, session, settings, train_tab

EVENTS = [
    {"type": "started", "time": 100.0, "total_steps": 20},
    {"type": "status", "time": 100.5, "message": "Training"},
    {"type": "log", "time": 101.0, "step": 1, "epoch": 0.1, "loss": 1.40},
    {"type": "log", "time": 102.0, "step": 5, "epoch": 0.5, "loss": 1.20},
    {"type": "progress", "time": 103.0, "step": 10, "total_steps": 20, "epoch": 1.0, "samples_per_second": 31.5,
     "eta_seconds": 30.0},
    {"type": "eval", "time": 104.0, "step": 10, "epoch": 1.0, "loss": 1.10, "accuracy": 0.5, "f1_macro": 0.4},
    {"type": "log", "time": 105.0, "step": 15, "epoch": 1.5, "loss": 0.90},
]


# ----- UI values -> TrainConfig --------------------------------------------------------------------------------

def test_config_from_ui_converts_widget_values():
    cfg = settings.config_from_ui("/d.csv", "text", "label", model=" my/model ", epochs=2.0, learning_rate="0.0003",
                                  batch_size=16.0, max_length=128.0, val_share=0.25, early_stopping_patience=2.0,
                                  class_weights=True, seed=7.0, run_name=" name ", warm_start_head=False)
    assert cfg == TrainConfig(data_path="/d.csv", text_column="text", label_column="label", model="my/model", epochs=2.0,
                              learning_rate=3e-4, batch_size=16, max_length=128, val_share=0.25,
                              early_stopping_patience=2, class_weights=True, seed=7, run_name="name",
                              warm_start_head=False)
    assert isinstance(cfg.batch_size, int) and isinstance(cfg.seed, int) and isinstance(cfg.max_length, int)
    assert cfg.validate() == []


def test_config_from_ui_empty_values_fall_back_to_defaults():
    cfg = settings.config_from_ui("/d.csv", "", None, **dict.fromkeys(settings.NAMES))
    d = TrainConfig()
    assert cfg.model == DEFAULT_MODEL and cfg.text_column is None and cfg.label_column is None
    assert cfg == TrainConfig(data_path="/d.csv")
    assert cfg.class_weights is d.class_weights is True and cfg.report_to == d.report_to == "none"


def test_config_from_ui_rejects_text_in_number_boxes():
    with pytest.raises(UserError, match="not a number"):
        settings.config_from_ui("/d.csv", None, None, epochs="three")
    with pytest.raises(TypeError, match="not TrainConfig settings: \\['epoch'\\]"):
        settings.config_from_ui("/d.csv", epoch=3)


def test_start_training_reports_all_problems_in_one_sentence(tmp_path):
    bad = TrainConfig(data_path="", epochs=0)
    with pytest.raises(UserError) as info:
        train_tab.start_training(bad, None, tmp_path)
    assert "data file" in info.value.message and "Epochs" in info.value.message


def test_on_start_refuses_while_data_is_unusable():
    out = train_tab.on_start({"ok": False, "reason": "The file has only one label."}, "", "", "", None, None, {},
                             *setting_values(epochs=1, batch_size=32))
    run_dir, note = out
    assert isinstance(run_dir, dict)  # gr.skip(): the shown run does not change
    assert "only one label" in note and "disabled" in note


def test_on_start_refuses_while_the_shown_run_is_active(tmp_path):
    from core.runs.rundir import RunDir

    run_dir = tmp_path / "r1"
    run_dir.mkdir()
    RunDir(run_dir).write_info({"run_id": "r1", "name": "support_tickets"})
    RunDir(run_dir).write_status("running", pid=None)
    run_id, note = train_tab.on_start({"ok": True}, "d.csv", "", "", None, str(run_dir), {},
                                      *setting_values(epochs=1))
    assert isinstance(run_id, dict) and list(tmp_path.iterdir()) == [run_dir]  # nothing new was created
    assert note == ('<div class="tc-blocked">&#x27;support_tickets&#x27; is still running. Stop it first, or start '
                    'the next run when it has finished.</div>')


# ----- events -> text (the charts and the live view: tests/test_live_view.py) -----------------------------------

def test_progress_and_banner_text():
    view = fold(EVENTS)
    text = charts.progress_text(view)
    assert "Step 15 / 20" in text and "ETA 0:30" in text and "31.5 samples/s" in text and "0:05 elapsed" in text
    assert 'data-state="running"' in charts.banner_html(view)
    done = fold(EVENTS + [{"type": "finished", "time": 110.0, "message": "Validation accuracy 50%."}])
    assert "Finished" in charts.banner_html(done) and "Best macro-F1" not in charts.banner_html(done)  # said once
    assert "Finished. Best macro-F1 40.0 %. Open" in charts.banner_html(fold(EVENTS + [{"type": "finished"}]))
    assert "Stopped. Best macro-F1 40.0 %." in charts.banner_html(fold(EVENTS + [{"type": "cancelled"}]))
    assert 'style="width:100.0%"' in charts.progress_html(done)
    assert "tc-settings" not in charts.progress_html(done)  # no facts recorded: no empty line


def test_progress_shows_what_the_automatic_settings_resolved_to():
    started = {"type": "started", "time": 100.0, "total_steps": 20, "device": "cpu (2 cores)", "precision": "bf16",
               "batch_size": 32, "learning_rate": 0.0001, "max_length": 56, "num_train": 256, "labels": ["a", "b"]}
    view = fold([started] + EVENTS[1:])
    assert view.settings == (
        "cpu (2 cores) · bf16 · batch 32 · learning rate 0.0001 · max length 56 · training texts 256")
    assert '<div class="tc-settings">cpu (2 cores) · bf16 · batch 32' in charts.progress_html(view)
    small = fold([{**started, "batch_size": 16, "learning_rate": 3e-05, "num_train": 1280, "epochs": 30.0,
                   "pairs": 2560}] + EVENTS[1:])
    assert small.settings == ("cpu (2 cores) · bf16 · batch 16 · learning rate 3e-05 · max length 56 · "
                              "training texts 1,280 · epochs 30 · pairs of texts 2,560")
    assert fold([{**started, "epochs": 3.0, "pairs": 0}] + EVENTS[1:]).settings.endswith("texts 256 · epochs 3")
    failed = fold(EVENTS + [{"type": "failed", "time": 110.0, "message": "CUDA out of memory.\nTraceback ..."}])
    banner = charts.banner_html(failed)
    assert "CUDA out of memory." in banner and "Traceback" not in banner
    assert "number 3 in the queue" in charts.banner_html(fold([]), queue_position=3)
    assert "Starting" in charts.banner_html(fold([]), queue_position=1)
    assert "Resume" in charts.banner_html(fold(EVENTS + [{"type": "cancelled", "time": 106.0}]))
    assert charts.fmt_duration(3725) == "1:02:05" and charts.fmt_duration(None) == "–"


def test_view_signature_changes_only_when_something_drawn_changes():
    a, b = fold(EVENTS), fold(EVENTS)
    assert charts.view_signature(a) == charts.view_signature(b)
    assert charts.view_signature(a) != charts.view_signature(fold(EVENTS[:-1]))


def test_data_warnings():
    assert charts.warnings_html([]).startswith('<div class="tc-ok"')
    assert "<li>a &lt;b&gt;</li>" in charts.warnings_html(["a <b>"])


# ----- data step -----------------------------------------------------------------------------------------------

def test_check_data_on_example(example_data):
    check = data_tab.check_data(str(example_data), None, None, DEFAULT_MODEL, 0, 0.2, 42, with_baseline=True)
    assert check.ok, check.reason
    assert (check.text_column, check.label_column) == ("text", "label")
    assert len(check.class_counts) == 4 and check.suggested_max_length >= 16
    assert check.marked_max_length == check.suggested_max_length
    assert len(check.lengths) == sum(check.class_counts.values())
    assert check.baseline and 0 <= check.baseline["accuracy"] <= 1
    assert check.status()["ok"] and "4 labels" in check.status()["summary"]
    chosen = data_tab.check_data(str(example_data), None, None, DEFAULT_MODEL, 16, 0.2, 42)
    assert chosen.marked_max_length == 16
    assert any("cuts" in s or "short" in s for s in chosen.warnings), chosen.warnings


def test_check_data_explains_unusable_data(tmp_path, example_data):
    one_class = tmp_path / "one.csv"
    one_class.write_text("text,label\nhello there,a\ngood morning,a\n", encoding="utf-8")
    check = data_tab.check_data(str(one_class), None, None, DEFAULT_MODEL)
    assert not check.ok and "only one label" in check.reason
    assert "blocked" in data_tab.status_html(check)
    same = data_tab.check_data(str(example_data), "label", "label", DEFAULT_MODEL)
    assert not same.ok and "two different columns" in same.reason
    assert not data_tab.check_data(None, None, None).ok


def test_on_file_fills_preview_and_guessed_columns(example_data):
    out = data_tab.on_file(str(example_data), DEFAULT_MODEL, 0, 0.2, 42)
    assert set(out) == set(data_tab.FILE_OUTPUTS) and out["data_path"] == str(example_data)
    preview = out["preview"]
    assert list(preview.value["headers"] if isinstance(preview.value, dict) else preview.value.columns) == ["text", "label"]
    assert out["text_column"].value == "text" and out["label_column"].value == "label"
    assert out["data_status"]["ok"] is True and out["next"].interactive is True


def test_the_report_comes_first_and_the_baseline_follows(tmp_path, example_data):
    """A big file's baseline takes seconds to fit: the file event shows the report with a note, the chained event
    the baseline; a later check of the same split shows the fitted baseline at once."""
    copy = tmp_path / "tickets.csv"
    copy.write_bytes(example_data.read_bytes())  # a file version no other test has fitted a baseline for
    out = data_tab.on_file(str(copy), DEFAULT_MODEL, 0, 0.2, 42)
    assert out["baseline"] == "*Fitting a classic baseline (TF-IDF + a linear model) on the same split…*"
    fitted = data_tab.on_baseline(str(copy), "text", "label", DEFAULT_MODEL, 0, 0.2, 42)
    assert fitted.startswith("**A classic baseline** (TF-IDF + linear SVM, ") and "accuracy" in fitted
    again = data_tab.on_columns(str(copy), "text", "label", DEFAULT_MODEL, 0, 0.2, 42)
    assert again["baseline"] == fitted
    assert data_tab.on_baseline(str(copy), "text", "text", DEFAULT_MODEL, 0, 0.2, 42) == ""  # the check said why


def test_on_file_with_unreadable_file_keeps_the_page_usable(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not a parquet file")
    out = data_tab.on_file(str(bad), DEFAULT_MODEL, 0, 0.2, 42)
    assert out["data_path"] == str(bad) and out["data_status"]["ok"] is False and out["data_status"]["reason"]


# ----- settings kept over a reload -------------------------------------------------------------------------------------------

def test_settings_survive_a_reload_but_never_name_arbitrary_files(tmp_path, example_data):
    chosen = dict(epochs=2.0, batch_size=16, max_length=64, val_share=0.25, early_stopping_patience=1,
                  warm_start_head=False, seed=7, report_to="tensorboard")
    saved = layout.remember_settings(str(example_data), "text", "label", {}, *setting_values(**chosen))
    restored = layout.restore_settings(saved)
    assert restored.pop("file") == str(example_data.resolve())  # the example folder is allowed
    assert restored.pop("hub") == ""  # a dataset typed in its box before is not the data any more
    assert restored.pop("wanted_columns") == {"file_name": "support_tickets.csv", "text_column": "text",
                                              "label_column": "label"}
    assert (restored.pop("val_file"), restored.pop("test_file")) == (None, None)  # none was chosen
    assert restored.pop("data_extra") == data_tab.data_options({})
    assert restored == dict(zip(settings.NAMES, setting_values(**chosen)))
    outside = tmp_path / "secret.csv"
    outside.write_text("text,label\n")
    forged = layout.restore_settings({"data_path": str(outside), "epochs": "lots", "batch_size": 8,
                                      "text_column": "text", "label_column": "label"})
    assert forged == {"batch_size": 8}  # no file, no columns for it, no epochs
    assert layout.restore_settings(None) == {}  # nothing changes


def test_a_reload_restores_the_chosen_columns_not_the_guessed_ones(tmp_path, monkeypatch):
    # Four columns: the guess is body -> label; the user picked title -> topic.
    rows = ["title,body,label,topic"] + [
        f"Title {i} {w},A much longer body text number {i} about {w} and other things,{w[0]},{t}"
        for i in range(12) for w, t in (("apples", "fruit"), ("bananas", "fruit"), ("carrots", "veg"))]
    table = tmp_path / "tickets.csv"
    table.write_text("\n".join(rows) + "\n", encoding="utf-8")
    monkeypatch.setattr(session, "restorable_file", lambda path, extra_roots=(): path)
    guessed = data_tab.on_file_event(str(table), DEFAULT_MODEL, 0, 0.2, 42, {})
    assert (guessed["text_column"].value, guessed["label_column"].value) == ("body", "label")

    saved = layout.remember_settings(str(table), "title", "topic", {}, *setting_values(epochs=1.0))
    restored = layout.restore_settings(saved)
    file, wanted = restored["file"], restored["wanted_columns"]
    out = data_tab.on_file_event(file, DEFAULT_MODEL, 0, 0.2, 42, wanted)
    assert (out["text_column"].value, out["label_column"].value) == ("title", "topic")
    assert out["data_status"]["ok"] is True and "'title' → 'topic'" in out["data_status"]["summary"]
    assert out["wanted_columns"] == {}  # used once: the next file gets guessed columns again
    # Not for this file, or a chosen column is gone: guessed as usual.
    for other in ({**wanted, "file_name": "other.csv"}, {**wanted, "label_column": "gone"}):
        out = data_tab.on_file_event(file, DEFAULT_MODEL, 0, 0.2, 42, other)
        assert (out["text_column"].value, out["label_column"].value) == ("body", "label")


def test_a_reload_brings_back_the_validation_and_test_tables_but_only_uploaded_ones(tmp_path, monkeypatch):
    uploads = tmp_path / "uploads"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(uploads))
    tables = {}
    for name, rows in (("data", 40), ("val", 6), ("test", 6)):
        folder = uploads / name
        folder.mkdir(parents=True)
        tables[name] = folder / f"{name}.csv"
        tables[name].write_text("text,label\n" + "".join(f"text number {i} about {w},{w}\n" for i in range(rows // 2)
                                                       for w in ("apples", "pears")), encoding="utf-8")
    extra = data_tab.on_val_file(str(tables["val"]), {}, str(tables["data"]), "text", "label", DEFAULT_MODEL, 0, 0.2,
                                 42)["data_extra"]
    extra = data_tab.on_test_file(str(tables["test"]), extra, str(tables["data"]), "text", "label", DEFAULT_MODEL, 0,
                                  0.2, 42)["data_extra"]
    saved = layout.remember_settings(str(tables["data"]), "text", "label", extra, *setting_values(epochs=1.0))
    assert (saved["val_data_path"], saved["test_data_path"]) == (str(tables["val"]), str(tables["test"]))
    restored = layout.restore_settings(saved)
    assert (restored["val_file"], restored["test_file"]) == (str(tables["val"].resolve()), str(tables["test"].resolve()))
    # The file's own check (started by the restored file) reads both tables from the options restored with it.
    out = data_tab.on_file_event(restored["file"], DEFAULT_MODEL, 0, 0.2, 42, restored["wanted_columns"],
                                 restored["data_extra"])
    assert "40 rows for training and 6 for validation (from the validation file)." in out["sentences"]
    assert out["data_extra"]["test_data_path"] == str(tables["test"].resolve())
    # A stored path outside the upload folder is not a table this browser uploaded: neither shown nor read.
    outside = tmp_path / "secret.csv"
    outside.write_text(tables["val"].read_text(encoding="utf-8"), encoding="utf-8")
    forged = layout.restore_settings({**saved, "val_data_path": str(outside), "test_data_path": "/etc/passwd"})
    assert (forged["val_file"], forged["test_file"]) == (None, None)
    assert (forged["data_extra"]["val_data_path"], forged["data_extra"]["test_data_path"]) == ("", "")


def test_sign_in_is_offered_only_on_a_real_space_with_oauth(monkeypatch):
    from ui import publish_tab

    for name in ("SYSTEM", "OAUTH_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    # SPACE_ID alone (a copied Space's settings on a laptop): gradio would mock the sign-in and refuse to start.
    monkeypatch.setenv("SPACE_ID", "someone/classifier-studio")
    assert publish_tab.on_spaces() is False
    monkeypatch.setenv("SYSTEM", "spaces")
    monkeypatch.setenv("OAUTH_CLIENT_ID", "client-id")
    assert publish_tab.on_spaces() is True


def test_layout_fixes_empty_preview_and_start_above_advanced(tmp_path):
    assert list(data_tab.empty_preview().columns) == ["Your table's first rows appear here"]  # not "1 2 3"
    demo = layout.build(tmp_path)
    by_id = {getattr(b, "elem_id", None): b for b in demo.blocks.values()}
    # Start and Stop come before Advanced, so opening Advanced never pushes them below the fold.
    assert by_id["tc-start"]._id < by_id["tc-stop"]._id < by_id["tc-advanced"]._id
    assert by_id["tc-preview"].value["headers"] == ["Your table's first rows appear here"]


def test_runs_table_leaves_room_for_the_whole_id():
    from types import SimpleNamespace

    run = SimpleNamespace(name="support_tickets · Nov 30 14:31:07", state="finished", best_f1=0.8454,
                          best_accuracy=0.85, model="sentence-transformers/all-MiniLM-L6-v2",
                          run_id="20261130-143107-support-tickets-7f3689d45a94693f")
    table = charts.run_rows([run])
    assert list(table.columns) == ["run", "state", "best macro-F1", "best accuracy", "model", "id"]
    assert table.values.tolist() == [["support_tickets · Nov 30 14:31:07", "Finished", "84.5 %", "85.0 %",
                                      "all-MiniLM-L6-v2", "20261130-143107-support-tickets-7f3689d45a94693f"]]


# ----- handlers answer by name ----------------------------------------------------------------------------------

def test_a_handler_answers_by_name_and_gradio_gets_components():
    from ui.wiring import keyed

    status, note = object(), object()  # stand-ins: keyed only maps names to whatever the event outputs
    fn = keyed(lambda ok: {"status": "ready"} if ok else {}, {"status": status, "note": note})
    assert fn(True) == {status: "ready"}  # the note is left as it is
    skipped = fn(False)  # nothing changes: every output skipped (an empty dict would be read as one value)
    assert list(skipped) == [status, note] and all(v == {"__type__": "update"} for v in skipped.values())
    with pytest.raises(KeyError, match=r"answered \['preview'\], which its event does not output"):
        keyed(lambda: {"preview": 1}, {"status": status})()


# ----- what the tabs share is typed, and wired at build time -------------------------------------------------------

def test_a_missing_piece_fails_the_build_instead_of_leaving_start_unwired(tmp_path):
    import gradio as gr

    from ui.context import AppContext, DataPieces

    with gr.Blocks():
        state, dropdown = gr.State(), gr.Dropdown()
        with pytest.raises(ValueError, match="^DataPieces is missing text_column, extra$"):
            DataPieces(path=state, status=state, text_column=None, label_column=dropdown, extra=None,
                       settings={})
        with pytest.raises(TypeError):  # every piece must be named
            DataPieces(path=state, status=state, label_column=dropdown, extra=state)  # type: ignore[call-arg]
        with pytest.raises(ValueError, match="^AppContext is missing tabs$"):
            AppContext(runs_root=tmp_path, run_dir=state, run_state=state, caller=state, tabs=None)
        ctx = AppContext(runs_root=tmp_path, run_dir=state, run_state=state, caller=state, tabs=gr.Tabs())
        with pytest.raises(KeyError, match="data_extra"):  # the Data step's components without one of the pieces
            train_tab.render(ctx, data_tab.pieces({"data_path": state, "data_status": state, "text_column": dropdown,
                                                   "label_column": dropdown}))


def test_start_is_wired_to_the_data_steps_pieces(tmp_path):
    demo = layout.build(tmp_path)
    start = next(d for d in demo.fns.values() if d.fn is train_tab.on_start)
    names = {b._id: n for n, b in demo.train.items() if hasattr(b, "_id")}
    data_ids = [b._id for b in demo.blocks.values() if getattr(b, "elem_id", None) in ("tc-text-col", "tc-label-col")]
    inputs = [b._id for b in start.inputs]
    assert inputs[2:4] == data_ids  # the text and label columns the Data step shows
    assert [names[i] for i in inputs[7:]] == list(settings.NAMES)


def test_every_style_the_page_names_is_defined():
    """A class in the page's HTML or components has a rule in the theme's CSS (an undefined one styles nothing)."""
    import re
    from pathlib import Path

    from ui import notes, theme

    source = "\n".join(p.read_text(encoding="utf-8") for p in Path(layout.__file__).parent.glob("*.py"))
    used = set(re.findall(r"""class=["'](tc-[a-z-]+)["']""", source))
    used |= set(re.findall(r"""elem_classes=\[["'](tc-[a-z-]+)["']\]""", source))
    used |= {f"tc-{kind}" for kind in notes.KINDS if kind}
    assert used and {name for name in used if f".{name}" not in theme.CSS} == set()


def test_a_note_escapes_its_text_quotes_too():
    from ui.notes import note

    assert note("It's <b>", "blocked", "tc-x") == '<div class="tc-blocked" id="tc-x">It&#x27;s &lt;b&gt;</div>'
    assert note("plain") == "<div>plain</div>"
    with pytest.raises(ValueError, match="no style for a note of kind 'info'"):
        note("x", "info")
