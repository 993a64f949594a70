"""What a reload or opening a run brings back: the run being trained, the settings as shown, a run's own settings;
never a stranger's run and never a model folder that failed to start."""
from __future__ import annotations

import json
import time
from pathlib import Path


from core.runs import access
from core.config import TrainConfig
from tests.fake_runs import fake_run
from tests.page import setting_values
from ui import layout, session

EVENTS = [{"type": "started", "time": 100.0, "total_steps": 20}]


def _run(root: Path, run_id: str, owner: str, state: str, created: float) -> Path:
    run_dir = fake_run(root, run_id, owner, EVENTS, state)
    info = json.loads((run_dir / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps({**info, "created": created}))
    return run_dir


def test_a_reload_right_after_start_shows_the_new_run(space):
    key = access.new_key(space, "b")
    me = access.owner_of_key(key, space)
    old = _run(space, "r-old", me, "finished", created=time.time() - 600)
    # The browser stored the old run; Start made a new one but the reload came before the page stored it.
    stored = {"key": key, "last_run": str(old)}
    caller, sess, run_dir, _ = layout.on_load(stored)
    assert run_dir == str(old)  # nothing newer yet
    new = _run(space, "r-new", me, "running", created=time.time())
    _run(space, "r-stranger", "b-" + "0" * 32, "running", created=time.time() + 5)  # newer, but not mine
    caller, sess, run_dir, _ = layout.on_load(stored)
    assert run_dir == str(new) and sess["last_run"] == str(new)


def test_the_page_watches_for_a_run_that_a_start_before_the_reload_is_still_writing(space):
    key = access.new_key(space, "b")
    me = access.owner_of_key(key, space)
    caller = session.browser_caller(key, space)
    old = _run(space, "r-old", me, "finished", created=time.time() - 600)
    run_dir, timer, ticks = layout.on_watch(caller, str(old), 0)
    assert isinstance(run_dir, dict) and timer.active is True and ticks == 1  # nothing new: keep watching
    _run(space, "r-stranger", "b-" + "0" * 32, "running", created=time.time())
    assert isinstance(layout.on_watch(caller, str(old), 1)[0], dict)  # a stranger's run is never shown
    new = _run(space, "r-new", me, "queued", created=time.time())
    run_dir, timer, _ = layout.on_watch(caller, str(old), 2)
    assert run_dir == str(new) and timer.active is False
    # Watching ends after a few ticks, and never replaces a run that is itself training.
    assert layout.on_watch(caller, str(old), layout.WATCH_TICKS)[1].active is False
    assert isinstance(layout.on_watch(caller, str(new), 0)[0], dict)


def test_a_model_folder_that_failed_to_start_is_not_restored(tmp_path, monkeypatch):
    for name in ("SPACE_ID", "TEXTCLF_PRIVATE_RUNS"):
        monkeypatch.delenv(name, raising=False)
    saved = layout.remember_settings("", "", "", {}, *setting_values(model="./no-such-folder", epochs=2.0))
    restored = layout.restore_settings(saved)
    assert "model" not in restored and restored["epochs"] == 2.0  # the model is left as it is; the rest as shown
    folder = tmp_path / "my-model"
    folder.mkdir()
    assert layout.restore_settings({**saved, "model": str(folder)})["model"] == str(folder)  # a real folder comes back
    monkeypatch.setenv("SPACE_ID", "someone/classifier-studio")
    assert "model" not in layout.restore_settings({**saved, "model": str(folder)})  # never a path on a Space


def test_settings_are_remembered_on_every_edit_not_only_on_start(tmp_path):
    demo = layout.build(tmp_path)
    remember = [d for d in demo.fns.values() if d.fn is layout.remember_settings]
    triggered_by = {(block_id, event) for d in remember for block_id, event in d.targets}
    for name in session.SETTING_NAMES:
        assert (demo.train[name]._id, "input") in triggered_by, name


def test_opening_a_run_shows_its_settings_but_not_a_strangers(space):
    key = access.new_key(space, "b")
    caller = session.browser_caller(key, space)
    mine = _run(space, "r-mine", caller.owner, "finished", created=time.time())
    TrainConfig(data_path="/nowhere.csv", model="prajjwal1/bert-tiny", epochs=5.0, learning_rate=3e-5,
                batch_size=8, max_length=64, val_share=0.3, early_stopping_patience=2, class_weights=False,
                warm_start_head=False, seed=7).save(mine / "config.json")
    out = layout.settings_of_run(str(mine), caller)
    assert "file" not in out  # the data file is gone from the server: the data step keeps its own
    assert out == dict(model="prajjwal1/bert-tiny", epochs=5.0, learning_rate=3e-5, batch_size=8, max_length=64,
                       val_share=0.3, early_stopping_patience=2, class_weights=False, warm_start_head=False, seed=7,
                       report_to="none", task="auto", label_separator="", processes=1)
    stranger = _run(space, "r-stranger", "b-" + "0" * 32, "finished", created=time.time())
    (stranger / "config.json").write_text((mine / "config.json").read_text())
    assert layout.settings_of_run(str(stranger), caller) == {}  # nothing changes
    # Re-run with changes gets the Runs step's choice: a run id, checked the same way.
    assert layout.settings_of_choice("r-mine", caller) == out
    assert layout.settings_of_choice("r-stranger", caller) == layout.settings_of_choice(str(mine), None) == {}


def test_opening_a_run_brings_back_its_validation_table_while_the_upload_is_there(space, tmp_path, monkeypatch):
    uploads = tmp_path / "uploads"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(uploads))
    tables = {}
    for name in ("data", "val"):
        (uploads / name).mkdir(parents=True)
        tables[name] = uploads / name / f"{name}.csv"
        tables[name].write_text("text,label\nplenty of apples,a\nplenty of pears,b\n", encoding="utf-8")
    caller = session.browser_caller(access.new_key(space, "b"), space)
    mine = _run(space, "r-tables", caller.owner, "finished", created=time.time())
    TrainConfig(data_path=str(tables["data"]), val_data_path=str(tables["val"])).save(mine / "config.json")
    out = layout.settings_of_run(str(mine), caller)
    assert (out["file"], out["val_file"], out["test_file"]) == (str(tables["data"].resolve()),
                                                                str(tables["val"].resolve()), None)
    assert (out["data_extra"]["val_data_path"], out["data_extra"]["test_data_path"]) == (str(tables["val"].resolve()), "")
    tables["val"].unlink()  # the upload is gone from the server: the box is emptied and the split used again
    out = layout.settings_of_run(str(mine), caller)
    assert out["val_file"] is None and out["data_extra"]["val_data_path"] == ""
