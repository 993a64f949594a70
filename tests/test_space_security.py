"""A shared Space, attacked as a stranger would: the real app with SPACE_ID set, two API clients and two browser
sessions. No listing, status, stop, resume, predict or page-load of another visitor's run; no secret in /config;
server folders, unsent files and oversize uploads refused; the per-visitor cap; private files; reaped children."""
from __future__ import annotations

import json
import shutil
import stat
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from core.runs import access
from tests.fixtures_app import start_app, start_from_train_step, stop_app
from ui import layout, session

pytestmark = pytest.mark.slow
TINY_HUB_ID = "tests/tiny-bert"
NO_MODEL = ("On this shared server the base model must be the default, a Hugging Face Hub id or the model of one of "
            "your own runs.")


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory, tiny_model_dir) -> Path:
    """HF_HOME holding the tiny model as a downloaded Hub model: a Hub id that loads offline."""
    home = tmp_path_factory.mktemp("hf-home")
    repo = home / "hub" / f"models--{TINY_HUB_ID.replace('/', '--')}"
    commit = "0" * 40
    shutil.copytree(tiny_model_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    return home


@pytest.fixture(scope="module")
def space_server(tmp_path_factory, hub_cache, artifacts_dir):
    runs_dir = tmp_path_factory.mktemp("space-runs")
    env = {"SPACE_ID": "someone/classifier-studio", "HF_HOME": str(hub_cache), "TEXTCLF_MAX_RUNS_PER_OWNER": "1",
           "TEXTCLF_MAX_UPLOAD_MB": "1"}
    proc, url = start_app(runs_dir, artifacts_dir / "space-server.log", extra_env=env)
    try:
        yield proc, url, runs_dir
    finally:
        stop_app(proc)


def client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False)


def api_error(call) -> str:
    with pytest.raises(Exception) as info:
        call()
    return str(info.value)


def raw_call(url: str, api_name: str, data: list, pad: bool = True) -> str:
    """An endpoint called over plain HTTP, as a script that skips gradio_client's upload step would: the event
    stream's text. Parameters not given take the endpoint's defaults."""
    with urllib.request.urlopen(f"{url}gradio_api/info", timeout=30) as r:
        params = json.loads(r.read())["named_endpoints"][f"/{api_name}"]["parameters"]
    data = data + [p.get("parameter_default") for p in params[len(data):]] if pad else data
    request = urllib.request.Request(f"{url}gradio_api/call/{api_name}", data=json.dumps({"data": data}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as r:
        event_id = json.loads(r.read())["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/{api_name}/{event_id}", timeout=60) as r:
        return r.read().decode()


def wait_for(c, run_id: str, key: str, states: tuple[str, ...], timeout: float = 240) -> dict:
    deadline = time.time() + timeout
    status: dict = {}
    while time.time() < deadline:
        status = c.predict(run_id, key, api_name="/status")
        if status["state"] in states:
            return status
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} still {status.get('state')} after {timeout}s")


def test_no_secret_reaches_a_visitor(space_server):
    _, url, runs_dir = space_server
    with urllib.request.urlopen(url + "config", timeout=10) as r:
        config = r.read().decode()
    secret = (runs_dir / access.SECRET_FILE).read_text().strip()
    assert len(secret) == 64 and secret not in config
    assert not (runs_dir / ".browser_secret").exists()
    assert stat.S_IMODE((runs_dir / access.SECRET_FILE).stat().st_mode) == 0o600


def test_two_api_clients_cannot_touch_each_others_runs(space_server, example_data, tmp_path):
    from gradio_client import handle_file

    proc, url, runs_dir = space_server
    alice, mallory = client(url), client(url)
    started = alice.predict(handle_file(str(example_data)), model=TINY_HUB_ID, epochs=1, api_name="/train")
    run_id, key = started["run_id"], started["key"]
    assert access.owner_of_key(key, runs_dir)
    assert wait_for(alice, run_id, key, ("finished", "failed"))["state"] == "finished"
    owner = key.split(".")[0]
    forged = owner + "." + "0" * 32
    # Mallory knows the run id (and even Alice's owner id): every endpoint answers as for a missing run.
    for k in ("", forged, owner):
        assert api_error(lambda: mallory.predict(run_id, k, api_name="/status")).endswith(f"There is no run '{run_id}'.")
        assert f"There is no run '{run_id}'." in api_error(lambda: mallory.predict(run_id, k, api_name="/stop"))
        assert f"There is no run '{run_id}'." in api_error(lambda: mallory.predict(run_id, k, api_name="/resume"))
        assert f"There is no run '{run_id}'." in api_error(
            lambda: mallory.predict("hello", run_id, k, api_name="/predict"))
        assert mallory.predict(k, api_name="/runs") == []
    assert f"There is no run '{run_id}'." in api_error(lambda: alice.predict(run_id, api_name="/status"))  # no key
    assert "There is no run 'no-such-run'." in api_error(lambda: alice.predict("no-such-run", key, api_name="/status"))
    # Alice, with her key, reaches it.
    assert [r["run_id"] for r in alice.predict(key, api_name="/runs")] == [run_id]
    probabilities = alice.predict("My parcel never arrived", run_id, key, api_name="/predict")
    assert abs(sum(probabilities.values()) - 1) < 1e-4

    # Server folders as a base model: one sentence, whether they exist or not.
    data = handle_file(str(example_data))
    for model in ("/etc/shadow", "/etc/no-such-folder", str(runs_dir / run_id / "model") + "/../../x"):
        assert NO_MODEL in api_error(lambda: mallory.predict(data, model=model, api_name="/train"))
    # Files the client never uploaded, or folders: refused without saying whether they exist.
    for path in ("/etc/passwd", "/etc/no-such.csv", "/tmp", str(runs_dir / run_id / "data" / "train.parquet")):
        assert session.NOT_UPLOADED_MESSAGE in raw_call(url, "train", [{"path": path, "meta": {"_type": "gradio.FileData"}}])

    # A plain HTTP call with too few values gets a sentence, not a null error.
    assert layout.MISSING_VALUES_MESSAGE in raw_call(url, "status", [run_id], pad=False)

    # The run folder and everything in it belong to the server's user alone.
    run_dir = runs_dir / run_id
    for path in [run_dir, *run_dir.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"

    # One run at a time per visitor here (TEXTCLF_MAX_RUNS_PER_OWNER=1): the second is refused while the first trains.
    long_run = alice.predict(data, model=TINY_HUB_ID, epochs=60, batch_size=4, key=key, api_name="/train")
    assert long_run["key"] == key
    wait_for(alice, long_run["run_id"], key, ("running",), timeout=120)
    assert ("You already have 1 run queued or training: wait for one to finish or stop it, then start the next."
            in api_error(lambda: alice.predict(data, model=TINY_HUB_ID, key=key, api_name="/train")))
    assert f"There is no run '{long_run['run_id']}'." in api_error(
        lambda: mallory.predict(long_run["run_id"], api_name="/stop"))
    assert alice.predict(long_run["run_id"], key, api_name="/status")["state"] == "running"
    alice.predict(long_run["run_id"], key, api_name="/stop")
    assert wait_for(alice, long_run["run_id"], key, ("cancelled", "finished", "failed"), 90)["state"] == "cancelled"
    assert sorted(r["run_id"] for r in alice.predict(key, api_name="/runs")) == sorted([run_id, long_run["run_id"]])

    # Finished training children are reaped: the web server holds no <defunct> process.
    import psutil

    def zombies() -> list[int]:
        return [p.pid for p in psutil.Process(proc.pid).children() if p.status() == psutil.STATUS_ZOMBIE]

    deadline = time.time() + 10  # a stopped child may take a moment to exit after writing "cancelled"
    while zombies() and time.time() < deadline:
        time.sleep(0.2)
    assert zombies() == []


def test_uploads_past_the_limit_are_refused(space_server, tmp_path):
    _, url, _ = space_server
    big = tmp_path / "big.csv"
    big.write_text("text,label\n" + "".join(f"text number {i} with some words,{i % 3}\n" for i in range(60_000)))
    boundary = "textclf-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.csv\"\r\n"
            "Content-Type: text/csv\r\n\r\n").encode() + big.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(url + "gradio_api/upload", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=30)
    assert info.value.code == 413


def test_two_browser_sessions_see_only_their_own_runs(space_server, chromium, example_data):
    _, url, runs_dir = space_server
    first = chromium.new_context(viewport={"width": 1400, "height": 1000})
    second = chromium.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = first.new_page()
        page.set_default_timeout(60_000)
        page.goto(url)
        page.click("#tc-use-example")
        page.wait_for_selector("#tc-data-ready", timeout=90_000)
        start_from_train_step(page, TINY_HUB_ID, epochs=1)  # a Hub id, cached: allowed on a shared server
        page.wait_for_function("() => document.querySelector('#tc-banner .tc-banner')?.dataset.state === 'finished'",
                               timeout=240_000)
        mine = [json.loads((d / "run.json").read_text()) for d in runs_dir.iterdir() if (d / "run.json").exists()]
        browser_runs = [r for r in mine if r["owner"].startswith("b-")]
        assert len(browser_runs) == 1
        run_id = browser_runs[0]["run_id"]
        page.get_by_role("tab", name="Runs").click()
        page.locator("#tc-runs-note").filter(has_text="1 run in this browser session").wait_for()

        stranger = second.new_page()
        stranger.set_default_timeout(60_000)
        stranger.goto(url)
        stranger.wait_for_selector(".gradio-container")
        stranger.get_by_role("tab", name="Runs").click()
        stranger.locator("#tc-runs-note").filter(has_text="No runs yet in this browser session.").wait_for()
        assert run_id not in stranger.inner_text("#tc-runs-table")
        # The first browser, reloaded, is still the same visitor and re-attaches to its run.
        page.reload()
        page.wait_for_function("() => document.querySelector('#tc-banner .tc-banner')?.dataset.state === 'finished'",
                               timeout=60_000)
    finally:
        first.close()
        second.close()
