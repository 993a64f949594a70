"""Comparing 2-5 runs, renaming and deleting one: real run folders, and every handler checks ownership."""
from __future__ import annotations

import json
import time

import pytest

from core.runs import access, compare
from core.config import TrainConfig
from core.errors import UserError
from tests.fake_runs import fake_run
from ui import compare_view, live_charts, session


def _events(f1s, losses, sps=50.0):
    out = [{"type": "started", "time": 100.0, "total_steps": 2 * len(f1s)}]
    for i, (f1, loss) in enumerate(zip(f1s, losses), start=1):
        out += [{"type": "log", "time": 100.0 + 10 * i, "step": 2 * i, "epoch": float(i), "loss": loss + 0.1},
                {"type": "progress", "time": 100.0 + 10 * i, "step": 2 * i, "total_steps": 2 * len(f1s),
                 "epoch": float(i), "samples_per_second": sps},
                {"type": "eval", "time": 101.0 + 10 * i, "step": 2 * i, "epoch": float(i), "loss": loss,
                 "accuracy": f1 + 0.05, "f1_macro": f1}]
    return out + [{"type": "finished", "time": 100.0 + 10 * len(f1s) + 5, "message": "Done."}]


def _run(root, run_id, owner, f1s, losses, state="finished", **settings):
    run_dir = fake_run(root, run_id, owner, _events(f1s, losses), state)
    (run_dir / "run.json").write_text(json.dumps({"run_id": run_id, "name": "support_tickets", "owner": owner,
                                                  "created": time.time()}))
    TrainConfig(data_path="/up/support_tickets.csv", **settings).save(run_dir / "config.json")
    return run_dir


def test_two_runs_compared_side_by_side(space):
    caller = session.browser_caller(access.new_key(space, "b"), space)
    a = _run(space, "r-a", caller.owner, [0.70, 0.80], [0.9, 0.6], epochs=2.0)
    b = _run(space, "r-b", caller.owner, [0.75, 0.82, 0.85], [0.8, 0.5, 0.4], epochs=3.0, learning_rate=5e-5)
    out = compare_view.on_compare([a.name, b.name], caller)
    loss, scores, summary, diff = out["loss"], out["scores"], out["summary"], out["diff"]
    assert "Comparing 2 runs." in out["message"] and out["results"].visible is True
    # Same names are told apart in legends and tables.
    pts = live_charts.points(json.loads(scores.plot))
    assert pts == {"support_tickets": [(1.0, 0.7), (2.0, 0.8)], "support_tickets (2)": [(1.0, 0.75), (2.0, 0.82),
                                                                                     (3.0, 0.85)]}
    loss_series = set(live_charts.points(json.loads(loss.plot)))
    assert loss_series == {"support_tickets · training", "support_tickets · validation",
                           "support_tickets (2) · training", "support_tickets (2) · validation"}
    assert diff.values.tolist() == [["epochs", "2", "3"], ["learning rate", "automatic", "5e-05"]]  # only what differs
    assert summary[["run", "best macro-F1", "final val loss", "duration", "samples/s"]].values.tolist() == [
        ["support_tickets", "80.0 %", "0.6000", "0:25", "50.0"],
        ["support_tickets (2)", "85.0 %", "0.4000", "0:35", "50.0"]]


def test_compare_needs_two_to_five_of_your_own_runs(space):
    me = session.browser_caller(access.new_key(space, "b"), space)
    other = session.browser_caller(access.new_key(space, "b"), space)
    mine = _run(space, "r-mine", me.owner, [0.7], [0.9])
    theirs = _run(space, "r-theirs", other.owner, [0.7], [0.9])
    assert "Choose 2 to 5 runs to compare (1 chosen)." in compare_view.on_compare([mine.name], me)["message"]
    out = compare_view.on_compare([mine.name, theirs.name], me)
    assert "There is no run &#x27;r-theirs&#x27;." in out["message"] and out["results"].visible is False
    assert "loss" not in out  # the hidden charts keep what they showed


def test_rename_and_delete_check_ownership_and_refuse_a_training_run(space):
    me = session.browser_caller(access.new_key(space, "b"), space)
    other = session.browser_caller(access.new_key(space, "b"), space)
    mine = _run(space, "r-mine", me.owner, [0.7], [0.9])
    theirs = _run(space, "r-theirs", other.owner, [0.7], [0.9])
    assert "Renamed to &#x27;Short texts, lr 5e-5&#x27;." in compare_view.on_rename(mine.name, " Short texts,  lr 5e-5 ",
                                                                                    me)
    assert json.loads((mine / "run.json").read_text())["name"] == "Short texts, lr 5e-5"
    assert "There is no run" in compare_view.on_rename(theirs.name, "mine now", me)
    assert json.loads((theirs / "run.json").read_text())["name"] == "support_tickets"
    # Delete asks first; a stranger's run cannot even be asked about.
    row, question, _ = compare_view.on_delete_ask(mine.name, me)
    assert row.visible is True and question.startswith("Delete **Short texts, lr 5e-5** with its model")
    assert compare_view.on_delete_ask(theirs.name, me)[0].visible is False
    assert "There is no run" in compare_view.on_delete(theirs.name, me, None)[1] and theirs.exists()
    training = _run(space, "r-training", me.owner, [0.7], [0.9], state="running")
    (training / "status.json").write_text(json.dumps({"state": "running", "pid": None, "updated": time.time()}))
    refused = compare_view.on_delete(training.name, me, None)[1]
    assert "&#x27;support_tickets&#x27; is still training: stop it first, then delete it." in refused
    assert training.exists()
    _, message, shown = compare_view.on_delete(mine.name, me, str(mine))
    assert "Deleted &#x27;Short texts, lr 5e-5&#x27;." in message and shown is None and not mine.exists()


def test_core_rename_and_delete_sentences(tmp_path):
    run_dir = fake_run(tmp_path, "r1", "", _events([0.5], [1.0]), "finished")
    with pytest.raises(UserError, match="^Type a name for the run.$"):
        compare.rename(run_dir, "   ")
    with pytest.raises(UserError, match="^The run name is too long: use at most 100 characters.$"):
        compare.rename(run_dir, "x" * 101)
    assert compare.delete(run_dir) == "r1" and not run_dir.exists()
    assert not any(p.name.startswith(".deleting") for p in tmp_path.iterdir())
