"""The real app server driven through gradio_client: the named endpoints /train, /status, /stop, /resume, /runs."""
from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def wait_for(client, run_id: str, states: tuple[str, ...], timeout: float = 240) -> dict:
    deadline = time.time() + timeout
    status = {}
    while time.time() < deadline:
        status = client.predict(run_id, api_name="/status")
        if status["state"] in states:
            return status
        time.sleep(1)
    raise AssertionError(f"run {run_id} still {status.get('state')} after {timeout}s: {status}")


def test_endpoints_are_named_and_documented(client):
    api = client.view_api(return_format="dict", print_info=False)
    names = set(api["named_endpoints"])
    assert {"/train", "/status", "/stop", "/resume", "/runs"} <= names
    params = [p["parameter_name"] for p in api["named_endpoints"]["/train"]["parameters"]]
    assert params[:4] == ["data_file", "text_column", "label_column", "model"] and "key" in params
    assert "owner" not in params  # identity never comes from a parameter
    assert [p["parameter_name"] for p in api["named_endpoints"]["/status"]["parameters"]] == ["run_id", "key"]
    # UI-internal events (timer ticks, uploads) are not part of the API.
    assert not any(n.startswith("/on_") or n.startswith("/lambda") for n in names), names


def test_bad_data_gives_one_readable_error(client, tmp_path):
    from gradio_client import handle_file

    one_class = tmp_path / "one.csv"
    one_class.write_text("text,label\nhello there,a\ngood morning,a\n", encoding="utf-8")
    with pytest.raises(Exception) as info:
        client.predict(handle_file(str(one_class)), api_name="/train")
    assert "only one label" in str(info.value)
    with pytest.raises(Exception) as info:
        client.predict("no-such-run", api_name="/status")
    assert "no run" in str(info.value)


def test_train_status_runs_and_finished_run(client, example_data, tiny_model_dir):
    from gradio_client import handle_file

    started = client.predict(handle_file(str(example_data)), model=tiny_model_dir, epochs=1, api_name="/train")
    run_id, key = started["run_id"], started["key"]
    assert started["state"] in ("queued", "running")
    status = wait_for(client, run_id, ("finished", "failed"))
    assert status["state"] == "finished", status
    assert status["step"] == status["total_steps"] > 0
    assert len(status["epochs"]) == 1 and status["best_f1"] is not None and status["train_loss"]
    runs = client.predict(key, api_name="/runs")
    assert [r["run_id"] for r in runs] == [run_id] and runs[0]["state"] == "finished"
    assert client.predict("someone-else", api_name="/runs") == []  # not a key this server signed
    assert run_id in [r["run_id"] for r in client.predict(api_name="/runs")]  # your own machine: every run
    assert "key" not in status
    with pytest.raises(Exception) as info:
        client.predict(run_id, api_name="/resume")
    assert "resumed" in str(info.value)
    assert status["stage"] == ""  # a finished run is in no stage
    assert len(run_id.rsplit("-", 1)[1]) == 16  # 8 random bytes: another user's run id cannot be guessed
    with pytest.raises(Exception) as info:
        client.predict("   ", run_id, api_name="/predict")
    assert "Type a text to classify first." in str(info.value)


def test_stop_then_resume(client, example_data, tiny_model_dir):
    from gradio_client import handle_file

    started = client.predict(handle_file(str(example_data)), model=tiny_model_dir, epochs=40, batch_size=8,
                             api_name="/train")
    run_id = started["run_id"]
    wait_for(client, run_id, ("running",), timeout=120)
    deadline = time.time() + 120
    while time.time() < deadline and client.predict(run_id, api_name="/status")["step"] < 2:
        time.sleep(0.5)
    t0 = time.time()
    client.predict(run_id, api_name="/stop")
    stopped = wait_for(client, run_id, ("cancelled", "finished", "failed"), timeout=60)
    assert stopped["state"] == "cancelled", stopped
    assert time.time() - t0 < 30
    resumed = client.predict(run_id, api_name="/resume")
    assert resumed["state"] in ("queued", "running")
    wait_for(client, run_id, ("running",), timeout=120)
    client.predict(run_id, api_name="/stop")
    assert wait_for(client, run_id, ("cancelled", "finished", "failed"), timeout=60)["state"] == "cancelled"


def test_train_with_a_test_table_reports_its_scores_apart(client, example_data, tiny_model_dir, tmp_path):
    from gradio_client import handle_file

    test = tmp_path / "test.csv"
    test.write_text("text,label\nI was charged twice,billing\nthe parcel never arrived,shipping\n"
                    "the app crashes when I log in,technical\n", encoding="utf-8")
    started = client.predict(handle_file(str(example_data)), model=tiny_model_dir, epochs=1,
                             test_file=handle_file(str(test)), api_name="/train")
    assert started["test"] is None  # scored once, after training
    status = wait_for(client, started["run_id"], ("finished", "failed"))
    assert status["state"] == "finished", status
    assert status["test"]["rows"] == 3 and 0 <= status["test"]["accuracy"] <= 1
    assert status["message"].endswith(f"Test file: accuracy {100 * status['test']['accuracy']:.1f} %, "
                                      f"macro-F1 {100 * status['test']['f1_macro']:.1f} %.")
