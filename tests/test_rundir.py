"""RunDir: the one owner of a run's layout, its state words, and which process of a job writes."""
import json
import os
import stat

import pytest

from core.config import TrainConfig
from core.runs.events import fold
from core.runs.rundir import ENDINGS, OVER_STATES, RESUMABLE_STATES, RunDir, RunState


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_state_is_written_and_compared_as_the_plain_word(tmp_path):
    run = RunDir(tmp_path)
    run.write_status(RunState.CANCELLED, pid=None, message="x")
    on_disk = json.loads((tmp_path / "status.json").read_text())
    assert on_disk["state"] == "cancelled" and on_disk["message"] == "x"
    assert '"state": "cancelled"' in (tmp_path / "status.json").read_text()
    status = run.read_status()
    assert status["state"] is RunState.CANCELLED and status["state"] == "cancelled"
    assert f"{status['state']}" == "cancelled" and status["state"].upper() == "CANCELLED"
    assert _mode(tmp_path / "status.json") == 0o600


def test_no_status_yet_reads_as_queued_and_an_unknown_word_is_kept(tmp_path):
    assert RunDir(tmp_path).read_status() == {"state": RunState.QUEUED, "pid": None, "updated": 0.0}
    (tmp_path / "status.json").write_text(json.dumps({"state": "paused", "pid": None}))
    assert RunDir(tmp_path).read_status()["state"] == "paused"


def test_one_definition_of_how_a_run_can_end():
    assert ENDINGS == {"finished", "cancelled", "failed"}
    assert OVER_STATES == ENDINGS | {"interrupted"}
    assert RESUMABLE_STATES == {"cancelled", "failed", "interrupted"}
    # Each ending is also the type of a run's last event, and the fold reports it as that state.
    for ending in ENDINGS:
        assert fold([{"type": "started", "time": 1.0}, {"type": str(ending), "time": 2.0}]).state is ending


def test_a_reader_sees_the_run_and_writes_nothing(tmp_path):
    writer, reader = RunDir(tmp_path / "run"), RunDir(tmp_path / "run", writes=False)
    writer.create()
    writer.append_event("started", total_steps=3)
    writer.write_status(RunState.RUNNING, pid=None)
    before = sorted(p.name for p in writer.path.rglob("*"))
    events = (writer.path / "events.jsonl").read_text()

    assert reader.append_event("log", step=1, loss=1.0)["type"] == "log"  # the event, as a writer would have it
    reader.write_status(RunState.FINISHED, pid=None)
    reader.write_json(RunDir.METRICS, {"accuracy": 1.0})
    reader.write_info({"run_id": "x"})
    reader.clear_stop()
    with reader.open_log() as log:
        log.write("from rank 1\n")

    assert sorted(p.name for p in writer.path.rglob("*")) == before
    assert (writer.path / "events.jsonl").read_text() == events
    assert reader.read_status()["state"] == RunState.RUNNING and [e["type"] for e in reader.events()] == ["started"]


def test_a_stop_asked_by_anyone_is_seen_by_every_rank(tmp_path):
    RunDir(tmp_path).request_stop()
    assert RunDir(tmp_path, writes=False).stop_requested()
    RunDir(tmp_path, writes=False).clear_stop()
    assert RunDir(tmp_path).stop_requested()
    RunDir(tmp_path).clear_stop()
    assert not RunDir(tmp_path, writes=False).stop_requested()


@pytest.mark.parametrize(("rank", "writes"), [(None, True), ("0", True), ("1", False), ("3", False)])
def test_only_the_first_rank_of_a_job_writes(tmp_path, monkeypatch, rank, writes):
    if rank is None:
        monkeypatch.delenv("RANK", raising=False)
    else:
        monkeypatch.setenv("RANK", rank)
    assert RunDir.for_process(tmp_path).writes is writes
    RunDir.for_process(tmp_path).append_event("started")
    assert (tmp_path / "events.jsonl").exists() is writes


def test_folders_are_private_and_json_is_written_whole(tmp_path):
    run = RunDir(tmp_path / "runs" / "r1")
    run.create()
    assert _mode(run.path) == 0o700 and _mode(run.data_dir) == 0o700
    with pytest.raises(FileExistsError):
        run.create()
    run.write_config(TrainConfig(data_path="a.csv", epochs=2))
    assert run.config().epochs == 2 and run.config_dict()["data_path"] == "a.csv"
    assert run.config_file.read_text() == json.dumps(TrainConfig(data_path="a.csv", epochs=2).to_dict(), indent=2)
    assert _mode(run.config_file) == 0o600
    assert [p.name for p in run.path.iterdir() if p.name.endswith(".tmp")] == []


def test_missing_files_read_as_nothing(tmp_path):
    run = RunDir(tmp_path)
    assert not run.is_run() and run.info() == {} and run.owner() == "" and run.display_name() == tmp_path.name
    assert run.config() is None and run.config_dict() == {} and run.labels() is None
    assert run.report() is None and run.baseline() is None and run.metrics() is None and run.test_metrics() is None
    assert run.predictions() is None and not run.has_model() and run.model_config() == {}
    assert run.hub() == {} and run.events() == [] and run.log_tail() == "" and not run.has_checkpoint()


def test_every_layout_entry_is_a_path_inside_the_run(tmp_path):
    run = RunDir(tmp_path)
    assert len(set(RunDir.LAYOUT)) == len(RunDir.LAYOUT)
    for name in RunDir.LAYOUT:
        assert run.file(name).parent in (tmp_path, tmp_path / "data")
    assert run.model_dir == tmp_path / "model" and run.exports_dir == tmp_path / "exports"
    assert os.fspath(run) == str(tmp_path) and RunDir.of(run) is run and RunDir.of(tmp_path) == run


def _readme_run_files() -> list[str]:
    """The first column of the README's table under "A run is a directory", each `name` in order."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = text.split("### A run is a directory", 1)[1]
    rows = [line for line in section.split("\n\n", 2)[1].splitlines() if line.startswith("| `")]
    return [name for row in rows for name in re.findall(r"`([^`]+)`", row.split(" | ", 1)[0])]


def test_the_readme_lists_exactly_the_files_rundir_knows():
    assert _readme_run_files() == list(RunDir.LAYOUT)
