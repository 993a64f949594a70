"""Datasets laid out like a Hub dataset repo (Parquet/CSV + README `configs:`), loaded through datasets.load_dataset:
configs, splits, ClassLabel names, the test split, offline and shared-server sentences, and `python -m core check`."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from core.data import hub_datasets
from core.data.columns import DataError
from core.data.loading import load_training_data
from tests.hub_repo import NEGATIVE, POSITIVE, make_hub_repo

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def hub_repo(tmp_path_factory) -> Path:
    return make_hub_repo(tmp_path_factory.mktemp("hub-dataset"))


@pytest.fixture()
def csv_repo(tmp_path) -> Path:
    """A CSV dataset with no README: one config, one split ('train'), columns guessed as for files."""
    (tmp_path / "data").mkdir()
    pd.DataFrame({"id": range(20), "review": POSITIVE + NEGATIVE, "stars": ["5"] * 10 + ["1"] * 10}).to_csv(
        tmp_path / "data" / "train.csv", index=False)
    return tmp_path


def test_splits_are_used_as_such_and_classlabel_gives_the_names(hub_repo):
    data = load_training_data(f"hf://{hub_repo}")
    assert data.labels == ["neg", "pos"]
    assert (data.text_column, data.label_column) == ("text", "label")
    assert data.validation_source == "dataset"
    assert (len(data.train), len(data.validation), len(data.test)) == (60, 4, 2)  # the -1 test row has no label
    assert set(data.validation["text"]) == {"so good", "so bad", "really great", "really awful"}
    assert data.warnings[0] == (f"The dataset '{hub_repo}' has 2 configs (sentiment, topics); 'sentiment' was used. "
                                "Choose another with the dataset config setting.")
    # A plain folder is a dataset too (on your own machine), read the same way.
    assert load_training_data(str(hub_repo)).labels == ["neg", "pos"]


def test_a_chosen_config_and_split(hub_repo):
    data = load_training_data(f"hf://{hub_repo}", data_config="topics")
    assert data.labels == ["politics", "sport"] and data.validation_source == "split" and data.test.empty
    with pytest.raises(DataError) as err:
        load_training_data(f"hf://{hub_repo}", data_config="news")
    assert err.value.message == f"The dataset '{hub_repo}' has no config 'news'. Configs: sentiment, topics."
    with pytest.raises(DataError) as err:
        load_training_data(f"hf://{hub_repo}", data_config="topics", data_split="test")
    assert err.value.message == f"The dataset '{hub_repo}' has no split 'test'. Splits: train."
    # Training on the validation split: the dataset's test split is still scored apart; there is no other validation.
    data = load_training_data(f"hf://{hub_repo}", data_config="sentiment", data_split="validation")
    assert (len(data.train) + len(data.validation), len(data.test), data.validation_source) == (4, 2, "split")


def test_csv_dataset_columns_are_guessed_as_for_files(csv_repo):
    data = load_training_data(f"hf://{csv_repo}")
    assert (data.text_column, data.label_column, data.labels) == ("review", "stars", ["1", "5"])


def test_a_hub_id_offline_fails_fast_with_one_sentence():
    start = time.perf_counter()
    with pytest.raises(DataError) as err:
        load_training_data("hf://ag_news")
    assert err.value.message == ("The dataset 'ag_news' is not downloaded and the app is offline: upload a file "
                                 "instead, or connect to the internet.")
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize("raised, message", [
    ("RepositoryNotFoundError", "There is no dataset called 'someone/nothing' on the Hugging Face Hub (check the spelling)."),
    ("OSError", "Could not reach the Hugging Face Hub to download the dataset 'someone/nothing' (no internet "
                "connection?): upload a file instead."),
])
def test_an_unknown_or_unreachable_hub_id(raised, message, monkeypatch):
    import huggingface_hub
    from huggingface_hub import errors

    def dataset_info(repo_id, timeout=None, files_metadata=False):
        exc = getattr(errors, raised, None)
        if exc is errors.RepositoryNotFoundError:
            raise exc("no such repo", response=_FakeResponse())
        raise OSError("network is unreachable")

    monkeypatch.setattr(hub_data, "_offline", lambda: False)
    monkeypatch.setattr(huggingface_hub, "dataset_info", dataset_info)
    with pytest.raises(DataError) as err:
        load_training_data("hf://someone/nothing")
    assert err.value.message == message


def test_a_shared_server_refuses_a_hub_dataset_over_the_size_limit_before_downloading(monkeypatch):
    from types import SimpleNamespace

    import huggingface_hub

    files = [SimpleNamespace(rfilename="data/train-0000.parquet", size=400_000_000),
             SimpleNamespace(rfilename="data/test-0000.parquet", size=200_000_000),
             SimpleNamespace(rfilename="README.md", size=9_000_000_000)]  # not data: not counted
    monkeypatch.setattr(hub_data, "_offline", lambda: False)
    monkeypatch.setattr(huggingface_hub, "dataset_info",
                        lambda repo_id, timeout=None, files_metadata=False: SimpleNamespace(siblings=files))
    monkeypatch.setenv("SPACE_ID", "someone/studio")
    with pytest.raises(DataError) as err:
        load_training_data("hf://someone/big")
    assert err.value.message == ("The dataset 'someone/big' has 0.6 GB of data files, more than this shared server "
                                 "reads (500 MB): upload a smaller file, or run the app on your own machine.")
    monkeypatch.setenv("TEXTCLF_MAX_DATASET_MB", "1000")
    hub_datasets.check_size("someone/big", SimpleNamespace(siblings=files))  # under a raised limit
    monkeypatch.delenv("SPACE_ID")
    monkeypatch.setenv("TEXTCLF_MAX_DATASET_MB", "1")
    hub_datasets.check_size("someone/big", SimpleNamespace(siblings=files))  # your own machine: any size


class _FakeResponse:
    status_code = 404
    headers: dict = {}
    url = "https://huggingface.co/api/datasets/someone/nothing"
    request = None

    def json(self):
        return {}


@pytest.mark.parametrize("given", ["hub_repo", "/etc", "hf://../secrets", "hf:///no/such/folder", "hf://data"])
def test_a_shared_server_reads_no_folder_as_a_dataset(given, hub_repo, monkeypatch, tmp_path):
    monkeypatch.setenv("SPACE_ID", "someone/classifier-studio")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()  # a folder next to the app with a Hub-like name is never read either
    path = f"hf://{hub_repo}" if given == "hub_repo" else given
    with pytest.raises(DataError) as err:
        load_training_data(path)
    assert err.value.message == ("On this shared server a dataset must be a Hugging Face Hub id (like hf://ag_news); "
                                 "upload a file to use your own data.")


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "core", *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=300)


def test_cli_check_prints_the_report_and_the_baseline_without_a_run(hub_repo, tmp_path):
    result = _cli("--runs-dir", str(tmp_path / "runs"), "check", "--data", f"hf://{hub_repo}")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "  Texts from column 'text', labels from column 'label' (guessed; choose others with --text and --label)." in out
    assert "  60 rows for training and 4 for validation (the dataset's validation split)." in out
    assert "  2 rows in the dataset's test split, scored once after training and reported apart from validation." in out
    assert "  Baseline (TF-IDF + linear SVM): accuracy " in out
    assert not (tmp_path / "runs").exists()  # checking creates no run


@pytest.mark.parametrize("args, message", [
    (["--data", "hf://ag_news"], "Error: The dataset 'ag_news' is not downloaded and the app is offline: upload a "
                                 "file instead, or connect to the internet."),
    (["--data", "EXAMPLE", "--text", "body"], "Error: Column 'body' is not in the file. Columns: text, label."),
    (["--data", "EXAMPLE", "--label", "text"], "Error: Column 'text' has a different value in every row, so it is not "
                                               "a column of labels (an id?). Choose the column whose values repeat, "
                                               "like 'spam' / 'not spam'."),
    ([], "Error: Give the data with --data, e.g. --data reviews.csv or --data hf://ag_news"),
])
def test_cli_check_of_unusable_data_exits_2_with_the_sentence(args, message, example_data):
    result = _cli("check", *[str(example_data) if a == "EXAMPLE" else a for a in args])
    assert result.returncode == 2
    assert result.stderr.strip() == message
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.slow
def test_a_run_on_a_dataset_scores_its_test_split_apart(hub_repo, tiny_model_dir, tmp_path):
    from core.runs import launcher
    from core.runs.rundir import RunDir
    from core.config import TrainConfig
    from core.engine.job import train

    config = TrainConfig(data_path=f"hf://{hub_repo}", data_config="sentiment", model=tiny_model_dir, epochs=1,
                         batch_size=16, warm_start_head=False)
    run_dir = launcher.create_run(config, tmp_path)
    assert "hub-dataset" in run_dir.name  # named after the dataset
    assert len(pd.read_parquet(RunDir(run_dir).test_data)) == 2
    assert train(run_dir) == "finished"
    test = RunDir(run_dir).test_metrics()
    assert test["rows"] == 2 and 0 <= test["accuracy"] <= 1
    message = RunDir(run_dir).read_status().get("message") or launcher.view(run_dir).message
    assert message.endswith(
        f"Test split: accuracy {100 * test['accuracy']:.1f} %, macro-F1 {100 * test['f1_macro']:.1f} %.")
    from core.serving.evaluation import headline_table, load_evaluation

    table = headline_table(load_evaluation(run_dir))
    assert table["model"].tolist()[-1] == "Fine-tuned transformer on the dataset's test split (2 texts)"
    assert table["accuracy"].tolist()[-1] == round(test["accuracy"], 4)


def test_a_config_marked_default_is_the_one_used_and_named(hub_repo, tmp_path):
    import shutil

    repo = tmp_path / "repo"
    shutil.copytree(hub_repo, repo)
    readme = (repo / "README.md").read_text(encoding="utf-8")
    (repo / "README.md").write_text(readme.replace("    path: topics/train.parquet\n",
                                                   "    path: topics/train.parquet\n  default: true\n"), encoding="utf-8")
    data = load_training_data(str(repo))
    assert data.labels == ["politics", "sport"]
    assert data.warnings[0] == (f"The dataset '{repo}' has 2 configs (sentiment, topics); 'topics' was used. "
                                "Choose another with the dataset config setting.")
