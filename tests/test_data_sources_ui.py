"""The Data step's other sources: a Hub dataset typed in the box (configs and splits offered, all brought back by a
reload or a run opened), a separate validation table, a test table, and /train's hub_dataset and test_file parameters (files still only from uploads; no server folder on a shared server)."""
from pathlib import Path

import gradio as gr
import pandas as pd
import pytest

from core.config import TrainConfig
from core.runs import access
from tests.fake_runs import fake_run
from tests.hub_repo import make_hub_repo
from tests.page import setting_values
from ui import data_tab, layout, session, train_api

SHARED_DATASET = ("On this shared server a dataset must be a Hugging Face Hub id (like hf://ag_news); upload a file to "
                  "use your own data.")


@pytest.fixture(scope="module")
def hub_repo(tmp_path_factory) -> Path:
    return make_hub_repo(tmp_path_factory.mktemp("hub-dataset"))


def _check_text(outputs) -> tuple[str, str]:
    """(status html, report markdown) from a handler's check outputs."""
    return outputs["status"], outputs["sentences"]


def test_a_dataset_in_the_box_is_checked_like_a_file_and_offers_its_configs_and_splits(hub_repo, own_machine):
    out = data_tab.on_hub(str(hub_repo), {}, "", 0, 0.2, 42)
    assert out["data_path"] == f"hf://{hub_repo}"
    assert (out["text_column"].value, out["label_column"].value) == ("text", "label")
    status, report = _check_text(out)
    assert "Ready to train." in status
    assert "60 rows for training and 4 for validation (the dataset's validation split)." in report
    config_dd, split_dd, options = out["hub_config"], out["hub_split"], out["data_extra"]
    assert ([c[0] for c in config_dd.choices], config_dd.value) == (["sentiment", "topics"], "sentiment")
    assert split_dd.value == "train" and [c[0] for c in split_dd.choices] == ["train", "validation", "test"]
    assert options == {"val_data_path": "", "test_data_path": "", "data_config": "", "data_split": "", "task": "auto",
                       "label_separator": "", "label_columns": ""}

    out = data_tab.on_hub(str(hub_repo), {}, "", 0, 0.2, 42, "topics")
    assert "Ready to train." in out["status"] and "2 labels: politics 10, sport 10." in out["sentences"]
    assert out["data_extra"]["data_config"] == "topics"
    out = data_tab.on_hub(str(hub_repo), {}, "", 0, 0.2, 42, "topics", "test")
    assert f"Training is blocked: The dataset &#x27;{hub_repo}&#x27; has no split &#x27;test&#x27;. Splits: train." in out["status"]


def test_an_unreachable_dataset_blocks_training_with_its_sentence(own_machine):
    out = data_tab.on_hub("ag_news", {}, "", 0, 0.2, 42)
    assert out["data_path"] == "hf://ag_news"
    assert ("Training is blocked: The dataset &#x27;ag_news&#x27; is not downloaded and the app is offline: upload a "
            "file instead, or connect to the internet.") in out["status"]
    assert out["data_extra"]["data_config"] == ""


def test_a_validation_table_replaces_the_split(tmp_path, example_data, own_machine):
    val = tmp_path / "val.csv"
    pd.DataFrame({"text": ["my card was charged twice", "the app crashes on start"],
                  "label": ["billing", "technical"]}).to_csv(val, index=False)
    out = data_tab.on_val_file(str(val), {}, str(example_data), "text", "label", "", 0, 0.2, 42)
    assert out["data_extra"]["val_data_path"] == str(val)
    assert "320 rows for training and 2 for validation (from the validation file)." in out["sentences"]
    assert "Label &#x27;account&#x27; has no validation examples" in out["warnings"]
    # Removing it again goes back to the stratified split.
    out = data_tab.on_val_file(None, out["data_extra"], str(example_data), "text", "label", "", 0, 0.2, 42)
    assert out["data_extra"]["val_data_path"] == "" and "(a stratified split of the file)" in out["sentences"]


def test_a_test_table_is_checked_and_counted_and_a_bad_one_blocks_training(tmp_path, example_data, own_machine):
    test = tmp_path / "test.csv"
    pd.DataFrame({"text": ["my card was charged twice", "the app crashes on start", "where is my parcel"],
                  "label": ["billing", "technical", "shipping"]}).to_csv(test, index=False)
    val = {"val_data_path": "/kept/val.csv"}
    out = data_tab.on_test_file(str(test), val, str(example_data), "text", "label", "", 0, 0.2, 42)
    assert out["data_extra"] == {"val_data_path": "/kept/val.csv", "test_data_path": str(test), "data_config": "",
                                 "data_split": "", "task": "auto", "label_separator": "", "label_columns": ""}
    assert out["data_status"]["ok"] is False  # /kept/val.csv is not there: the check reads both tables
    out = data_tab.on_test_file(str(test), {}, str(example_data), "text", "label", "", 0, 0.2, 42)
    assert "Ready to train." in out["status"] and out["data_extra"]["test_data_path"] == str(test)
    assert ("3 rows in the test file, scored once after training and reported apart from validation."
            in out["sentences"])
    # The baseline the Data step fits next reads the same tables (the test table changes no validation score).
    assert data_tab.on_baseline(str(example_data), "text", "label", "", 0, 0.2, 42, out["data_extra"]).startswith(
        "**A classic baseline**")

    pd.DataFrame({"text": ["a refund please"], "label": ["refunds"]}).to_csv(test, index=False)
    out = data_tab.on_test_file(str(test), {}, str(example_data), "text", "label", "", 0, 0.2, 42)
    assert ("Training is blocked: Label &#x27;refunds&#x27; appears only in the test file, so the model can never "
            "predict it. Remove its rows from the test file or add training examples of it.") in out["status"]
    assert out["next"].interactive is False and out["data_status"]["ok"] is False
    # Removing it again: ready, with no test rows.
    out = data_tab.on_test_file(None, out["data_extra"], str(example_data), "text", "label", "", 0, 0.2, 42)
    assert out["data_status"]["ok"] and out["data_extra"]["test_data_path"] == ""
    assert "test file" not in out["sentences"]


def test_start_passes_the_validation_and_test_tables_and_the_dataset_choices(monkeypatch, example_data, own_machine):
    from ui import train_tab

    seen = {}
    monkeypatch.setattr(train_tab, "start_training", lambda config, caller, root: seen.setdefault("c", config) and "x")
    extra = {"val_data_path": "/tmp/val.csv", "test_data_path": "/tmp/test.csv", "data_config": "topics",
             "data_split": "train"}
    train_tab.on_start({"ok": True}, "hf://someone/data", "", "", None, None, extra, *setting_values(epochs=1))
    config = seen["c"]
    assert (config.data_path, config.val_data_path, config.test_data_path, config.data_config, config.data_split) == (
        "hf://someone/data", "/tmp/val.csv", "/tmp/test.csv", "topics", "train")


def test_api_train_takes_an_uploaded_test_table_and_only_an_uploaded_one(monkeypatch, tmp_path, example_data):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    (tmp_path / "uploads").mkdir()
    data, test = tmp_path / "uploads" / "train.csv", tmp_path / "uploads" / "test.csv"
    data.write_bytes(example_data.read_bytes())
    test.write_text("text,label\nmy card was charged twice,billing\n", encoding="utf-8")
    seen = {}

    def fake_start(config, caller, root):
        seen["config"] = config
        raise train_api.UserError("stop here")

    monkeypatch.setattr(train_api, "start_training", fake_start)
    with pytest.raises(gr.Error):
        train_api.api_train({"path": str(data)}, test_file={"path": str(test)})
    assert (seen["config"].data_path, seen["config"].test_data_path) == (str(data.resolve()), str(test.resolve()))
    with pytest.raises(gr.Error):  # no test table: none, as before
        train_api.api_train({"path": str(data)})
    assert (seen["config"].test_data_path, seen["config"].val_data_path) == (None, None)
    with pytest.raises(gr.Error):  # a validation table the same way
        train_api.api_train({"path": str(data)}, validation_file={"path": str(test)})
    assert (seen["config"].val_data_path, seen["config"].test_data_path) == (str(test.resolve()), None)
    with pytest.raises(gr.Error) as err:  # and never a server path
        train_api.api_train({"path": str(data)}, validation_file={"path": str(example_data)})
    assert err.value.message == ("The data file was not uploaded to this server: send the table itself (handle_file in "
                                 "gradio_client).")
    with pytest.raises(gr.Error) as err:  # a server path is never read as a test table
        train_api.api_train({"path": str(data)}, test_file={"path": str(example_data)})
    assert err.value.message == ("The data file was not uploaded to this server: send the table itself (handle_file in "
                                 "gradio_client).")


def test_api_train_takes_a_hub_dataset_instead_of_a_file(monkeypatch, own_machine):
    seen = {}

    def fake_start(config, caller, root):
        seen["config"] = config
        raise train_api.UserError("stop here")

    monkeypatch.setattr(train_api, "start_training", fake_start)
    with pytest.raises(gr.Error):
        train_api.api_train(hub_dataset="ag_news", dataset_config="default", dataset_split="train")
    assert (seen["config"].data_path, seen["config"].data_config, seen["config"].data_split) == (
        "hf://ag_news", "default", "train")
    with pytest.raises(gr.Error) as err:
        train_api.api_train({"path": "/etc/passwd"}, hub_dataset="ag_news")
    assert err.value.message == "Give either a data file or a Hub dataset, not both."
    with pytest.raises(gr.Error) as err:  # no file and no dataset
        train_api.api_train()
    assert err.value.message == "Choose a data file to train on."


@pytest.mark.parametrize("given", ["REPO", "/etc", "../runs", "hf://data"])
def test_api_train_on_a_shared_server_reads_no_folder_as_a_dataset(given, hub_repo, tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTCLF_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("SPACE_ID", "someone/classifier-studio")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    with pytest.raises(gr.Error) as err:
        train_api.api_train(hub_dataset=str(hub_repo) if given == "REPO" else given)
    assert err.value.message == SHARED_DATASET
    # The Data step says the same, and blocks Start.
    out = data_tab.on_hub(str(hub_repo) if given == "REPO" else given, {}, "", 0, 0.2, 42)
    assert "Training is blocked: On this shared server a dataset must be a Hugging Face Hub id" in out["status"]


def test_reading_a_table_says_each_step_as_it_starts(example_data, own_machine):
    """A big file takes tens of seconds to read and check: the Data step names the step under way."""
    said: list[tuple[float, str]] = []
    out = data_tab.on_file(str(example_data), "", 0, 0.2, 42, phase=lambda done, what: said.append((done, what)))
    assert out["data_status"]["ok"]
    assert said == [(0.0, "Reading the table…"), (0.3, "Cleaning and splitting the rows…"),
                    (0.6, "Measuring the texts' lengths in tokens…")]
    import inspect

    for handler in (data_tab.on_file_event, data_tab.on_hub, data_tab.on_hub_config):  # Gradio fills these in
        assert isinstance(inspect.signature(handler).parameters["progress"].default, gr.Progress)


def test_a_reload_brings_back_the_dataset_with_its_config_and_checks_it_again(hub_repo, own_machine):
    out = data_tab.on_hub(str(hub_repo), {}, "", 0, 0.2, 42, "topics", "train")
    saved = layout.remember_settings(out["data_path"], "text", "label", out["data_extra"], *setting_values(epochs=2.0))
    restored = layout.restore_settings(saved)
    assert (restored["hub"], restored["epochs"]) == (str(hub_repo), 2.0) and "file" not in restored
    assert (restored["data_extra"]["data_config"], restored["data_extra"]["data_split"]) == ("topics", "train")
    # The page runs the check once the restore has filled in the box and the options:
    again = data_tab.on_hub_restored(restored["hub"], restored["data_extra"], "", 0, 0.2, 42,
                                     restored["wanted_columns"])
    assert again["data_path"] == f"hf://{hub_repo}" and "Ready to train." in again["status"]
    assert "2 labels: politics 10, sport 10." in again["sentences"]
    assert (again["hub_config"].value, again["data_extra"]["data_config"], again["wanted_columns"]) == (
        "topics", "topics", {})
    # A name typed in the box before, and no dataset restored (a file was): nothing is read again.
    assert data_tab.on_hub_restored(str(hub_repo), restored["data_extra"], "", 0, 0.2, 42, {}) == {}


def test_opening_a_run_on_a_dataset_puts_the_dataset_back_in_its_box(hub_repo, own_machine):
    caller = session.browser_caller(access.new_key(own_machine, "b"), own_machine)
    run = fake_run(own_machine, "r-hub", caller.owner, [], "finished")
    TrainConfig(data_path=f"hf://{hub_repo}", data_config="topics", text_column="text",
                label_column="label").save(run / "config.json")
    out = layout.settings_of_run(str(run), caller)
    assert (out["hub"], out["data_extra"]["data_config"]) == (str(hub_repo), "topics") and "file" not in out
    assert out["wanted_columns"] == {"file_name": hub_repo.name, "text_column": "text", "label_column": "label",
                                     "dataset": f"hf://{hub_repo}"}


@pytest.mark.parametrize("stored", ["hf://REPO", "hf:///etc", "hf://../runs", "hf://a/b/c", "hf://" + "a" * 600,
                                    "/etc/passwd", 42])
def test_a_reload_on_a_shared_server_brings_back_hub_ids_only(stored, hub_repo, space):
    stored = stored.replace("REPO", str(hub_repo)) if isinstance(stored, str) else stored
    assert "hub" not in layout.restore_settings({"data_path": stored})  # forged storage names nothing on the server
    restored = layout.restore_settings({"data_path": "hf://ag_news", "data_config": "default", "text_column": "text",
                                        "label_column": "label"})  # nothing is downloaded until the check runs
    assert (restored["hub"], restored["data_extra"]["data_config"]) == ("ag_news", "default")


def test_a_dataset_folder_gone_from_your_machine_is_not_restored(tmp_path, own_machine):
    assert "hub" not in layout.restore_settings({"data_path": f"hf://{tmp_path / 'gone'}"})
