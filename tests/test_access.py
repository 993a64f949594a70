"""Who may see a run: signed owner keys, ownership checks, listing, page load, model paths and limits on a shared
server; everything open on your own machine."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from core.runs import access, launcher
from core.runs.rundir import RunDir
from core.runs.access import Caller
from core.config import DEFAULT_MODEL
from core.errors import UserError
from tests import fake_runs
from ui import layout, runs_tab, session, train_api

EVENTS = [
    {"type": "started", "time": 100.0, "total_steps": 20},
    {"type": "eval", "time": 104.0, "step": 10, "epoch": 1.0, "loss": 1.10, "accuracy": 0.5, "f1_macro": 0.4},
]


def fake_run(root: Path, run_id: str, owner: str, state: str = "finished") -> Path:
    return fake_runs.fake_run(root, run_id, owner, EVENTS, state)


def browser(root: Path) -> Caller:
    return session.browser_caller(access.new_key(root, "b"), root)


# ----- keys ----------------------------------------------------------------------------------------------------

def test_keys_are_signed_by_a_secret_that_stays_on_the_server(tmp_path):
    fresh_root = tmp_path / "new-runs-folder"
    access.server_secret(fresh_root)
    assert stat.S_IMODE(fresh_root.stat().st_mode) == 0o700  # a runs folder the server makes is its user's alone
    key = access.new_key(tmp_path, "b")
    owner = access.owner_of_key(key, tmp_path)
    assert owner and key.startswith(owner + ".")
    secret_file = tmp_path / access.SECRET_FILE
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    forged = owner[:-1] + ("0" if owner[-1] != "0" else "1") + key[len(owner):]  # someone else's id, same signature
    for bad in (forged, owner, key + "0", "", None, "b-" + "0" * 32 + "." + "0" * 32, "x" * 200_000):
        assert access.owner_of_key(bad, tmp_path) is None
    other_server = tmp_path / "other"
    other_server.mkdir()
    assert access.owner_of_key(key, other_server) is None  # another secret signs other keys
    access._secrets.clear()  # a restarted server reads the same secret back
    assert access.owner_of_key(key, tmp_path) == owner


# ----- one run, asked for by its owner and by a stranger ---------------------------------------------------------

def test_a_strangers_run_answers_like_a_run_that_does_not_exist(space):
    alice, mallory = browser(space), browser(space)
    run = fake_run(space, "r-alice", alice.owner)
    assert access.find_run("r-alice", alice, space) == run
    for run_id in ("r-alice", "r-nobody"):
        with pytest.raises(UserError) as info:
            access.find_run(run_id, mallory, space)
        assert info.value.message == f"There is no run '{run_id}'."
    with pytest.raises(UserError) as info:
        access.find_run("../r-alice", Caller(), space)
    assert info.value.message == "There is no run 'r-alice'."  # only the last name counts, never a path
    with pytest.raises(UserError) as info:
        access.find_run("x" * 500, alice, space)
    assert info.value.message == "That run id is not valid."
    anonymous_run = fake_run(space, "r-cli", "")  # a run without an owner is nobody's on a shared server
    with pytest.raises(UserError):
        access.find_run("r-cli", alice, space)
    assert access.may_open(str(anonymous_run), alice, space) is None
    assert access.may_open(str(run), alice, space) == str(run)
    assert access.may_open(str(run), mallory, space) is None


def test_on_your_own_machine_every_run_is_yours(own_machine):
    run = fake_run(own_machine, "r-cli", "")
    assert access.find_run("r-cli", Caller(), own_machine) == run
    assert access.may_open(str(run), Caller(), own_machine) == str(run)
    elsewhere = fake_run(own_machine / "r-cli" / "nested", "r-x", "")  # not in the runs folder
    assert access.may_open(str(elsewhere), Caller(), own_machine) is None


# ----- listing, opening and page load in the browser -------------------------------------------------------------

def test_runs_are_listed_and_opened_per_session_on_a_space(space):
    alice, bob = browser(space), browser(space)
    mine = fake_run(space, "r-mine", alice.owner)
    theirs = fake_run(space, "r-theirs", bob.owner)
    listed = runs_tab.runs_table(alice)
    assert [v for _, v in listed["picks"].choices] == ["r-mine"]  # only my runs, by id: never a server path
    assert [v for _, v in listed["choice"].choices] == ["r-mine"]
    assert listed["table"]["id"].tolist() == ["r-mine"]
    assert listed["note"] == "1 run in this browser session, newest first."
    assert runs_tab.open_run("r-mine", alice)[0] == str(mine)
    for not_mine in ("r-theirs", str(theirs), "..", "", None):  # a stranger's (even as a path), or no id at all
        assert isinstance(runs_tab.open_run(not_mine, alice)[0], dict), not_mine  # skipped: nothing opens
    assert runs_tab.runs_table(None)["table"].empty and runs_tab.runs_table(Caller())["table"].empty


def test_a_signed_in_visitor_also_owns_the_runs_of_their_hub_account(space):
    key = access.new_key(space, "b")
    anonymous = session.browser_caller(key, space)
    signed_in = session.browser_caller(key, space, username="alice")
    assert signed_in.owners == ("hf:alice", anonymous.owner)  # new runs belong to the Hub account
    before = fake_run(space, "r-before-sign-in", anonymous.owner)
    elsewhere = fake_run(space, "r-other-browser", "hf:alice")
    listed = {r.run_dir for r in session.visible_runs(signed_in, space)}
    assert listed == {before, elsewhere}
    assert {r.run_dir for r in session.visible_runs(anonymous, space)} == {before}


def test_page_load_trusts_only_keys_the_server_signed(space):
    alice = browser(space)
    mine = fake_run(space, "r-mine", alice.owner)
    theirs = fake_run(space, "r-theirs", browser(space).owner)
    caller, stored, run_dir, _ = layout.on_load({"key": alice.key, "last_run": str(mine)})
    assert (caller.owners, run_dir) == ((alice.owner,), str(mine)) and stored == {"key": alice.key,
                                                                                  "last_run": str(mine)}
    caller, stored, run_dir, _ = layout.on_load({"key": alice.key, "last_run": str(theirs)})
    assert run_dir is None and stored["last_run"] == ""
    # A forged or old-style stored identity gets a fresh key that owns nothing yet.
    for forged in ({"owner": alice.owner, "last_run": str(mine)}, {"key": alice.owner + ".0" * 1, "last_run": ""},
                   {"key": alice.owner + "." + "f" * 32, "last_run": str(mine)}, None):
        caller, stored, run_dir, _ = layout.on_load(forged)
        assert caller.owners != (alice.owner,) and run_dir is None
        assert access.owner_of_key(stored["key"], space) == caller.owner
    assert layout.remember_run(alice, str(mine)) == {"key": alice.key, "last_run": str(mine)}


def test_the_api_lists_and_reaches_only_the_keys_runs(space):
    key = train_key = access.new_key(space, "k")
    owner = access.owner_of_key(key, space)
    mine = fake_run(space, "r-mine", owner)
    fake_run(space, "r-theirs", browser(space).owner)
    assert [r["run_id"] for r in runs_tab.api_runs(train_key)] == ["r-mine"]
    assert runs_tab.api_runs("") == [] and runs_tab.api_runs(owner) == []  # an owner id is not a key
    assert train_api.api_status("r-mine", key)["run_id"] == "r-mine"
    with pytest.raises(UserError) as info:
        session.api_caller(owner + "." + "0" * 32, space, mint=True)
    assert info.value.message == "That key was not issued by this server: leave it empty to get a new one."
    assert session.api_caller(key, space, mint=True).key == key and session.api_caller("", space, mint=True).key
    import gradio as gr

    for call in (lambda: train_api.api_status("r-mine"), lambda: train_api.api_stop("r-mine", "nonsense"),
                 lambda: train_api.api_resume("r-theirs", key)):
        with pytest.raises(gr.Error) as info:
            call()
        assert info.value.message in ("There is no run 'r-mine'.", "There is no run 'r-theirs'.")
    assert mine.is_dir() and not RunDir(mine).stop_file.exists()


def test_the_api_on_your_own_machine_lists_every_run_or_one_keys_runs(own_machine):
    key = access.new_key(own_machine, "k")
    fake_run(own_machine, "r-key", access.owner_of_key(key, own_machine))
    fake_run(own_machine, "r-cli", "")
    assert sorted(r["run_id"] for r in runs_tab.api_runs()) == ["r-cli", "r-key"]
    assert [r["run_id"] for r in runs_tab.api_runs(key)] == ["r-key"]
    assert runs_tab.api_runs("not-a-key") == []
    assert train_api.api_status("r-cli")["run_id"] == "r-cli"


# ----- base models on a shared server ----------------------------------------------------------------------------

def test_a_shared_server_never_reads_a_strangers_or_the_servers_folders(space, tiny_model_dir):
    alice, bob = browser(space), browser(space)
    mine = fake_run(space, "r-mine", alice.owner)
    theirs = fake_run(space, "r-theirs", bob.owner)
    for allowed in (DEFAULT_MODEL, "google-bert/bert-base-uncased", "bert-base-uncased", str(mine / "model")):
        access.check_model(allowed, alice, space)
    for refused in ("/etc/shadow", "/etc/no-such-thing", tiny_model_dir, str(theirs / "model"), "../runs",
                    "~/models", str(mine), "examples", str(mine / "model" / ".." / ".." / "r-theirs" / "model")):
        with pytest.raises(UserError) as info:
            access.check_model(refused, alice, space)
        assert info.value.message == ("On this shared server the base model must be the default, a Hugging Face Hub "
                                      "id or the model of one of your own runs.")


def test_on_your_own_machine_any_folder_is_a_base_model(own_machine, tiny_model_dir):
    access.check_model(tiny_model_dir, Caller(), own_machine)
    access.check_model("/etc/no-such-thing", Caller(), own_machine)  # resolve_model says it does not exist


# ----- limits ----------------------------------------------------------------------------------------------------

def test_limits_on_runs_per_visitor_in_total_and_on_names(space, monkeypatch):
    alice, bob = browser(space), browser(space)
    fake_run(space, "r-1", alice.owner, state="queued")
    fake_run(space, "r-2", alice.owner, state="finished")
    launcher.check_can_start(alice, space)  # one active run: under the default of two
    for i in range(3):  # queued runs whose process is alive count; a dead one reads as interrupted
        run = fake_run(space, f"r-a{i}", alice.owner if i == 0 else bob.owner, state="running")
        RunDir(run).write_status("running", pid=os.getpid())
    with pytest.raises(UserError) as info:
        launcher.check_can_start(alice, space)
    assert info.value.message == ("You already have 2 runs queued or training: wait for one to finish or stop it, "
                                  "then start the next.")
    monkeypatch.setenv("TEXTCLF_MAX_ACTIVE_RUNS", "4")
    with pytest.raises(UserError) as info:
        launcher.check_can_start(Caller(owners=("b-" + "1" * 32,)), space)
    assert info.value.message == "The server is busy: 4 runs are queued or training. Try again when one has finished."
    with pytest.raises(UserError) as info:
        launcher.check_can_start(Caller(owners=("b-" + "1" * 32,)), space, run_name="n" * 101)
    assert info.value.message == "The run name is too long: use at most 100 characters."


def test_limits_and_upload_cap_are_off_on_your_own_machine(own_machine, monkeypatch):
    for i in range(4):
        run = fake_run(own_machine, f"r-{i}", "", state="running")
        RunDir(run).write_status("running", pid=os.getpid())
    launcher.check_can_start(Caller(), own_machine, run_name="n" * 500)
    assert access.upload_limit() is None
    monkeypatch.setenv("TEXTCLF_MAX_UPLOAD_MB", "5")
    assert access.upload_limit() == "5mb"
    monkeypatch.setenv("SPACE_ID", "someone/classifier-studio")
    monkeypatch.delenv("TEXTCLF_MAX_UPLOAD_MB")
    assert access.upload_limit() == "200mb"


def test_resume_counts_against_the_same_limits_as_start(space):
    import gradio as gr

    key = access.new_key(space, "k")
    owner = access.owner_of_key(key, space)
    stopped = fake_run(space, "r-stopped", owner, state="cancelled")
    for i in range(2):
        RunDir(fake_run(space, f"r-busy{i}", owner, state="running")).write_status("running", pid=os.getpid())
    with pytest.raises(gr.Error) as info:
        train_api.api_resume("r-stopped", key)
    assert info.value.message == ("You already have 2 runs queued or training: wait for one to finish or stop it, "
                                  "then start the next.")
    assert RunDir(stopped).read_status()["state"] == "cancelled"  # nothing was started
