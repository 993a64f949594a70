"""GPUs one at a time, with the machine's GPU count faked (no GPU here): which GPUs a run takes and queues for, the
child's command and environment, and the Train step's default."""
import sys

import pytest

from core import hardware
from core.runs import gpus

from core.runs import device_lock
from core.errors import UserError


@pytest.fixture
def two_gpus(monkeypatch):
    monkeypatch.setattr(gpus, "machine_gpus", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def test_a_one_gpu_run_is_pinned_to_a_free_gpu_never_sees_both(tmp_path, two_gpus):
    command, env = gpus.launch_plan(tmp_path, 1)
    assert command == [sys.executable, "-m", "core.train"] and env == {"CUDA_VISIBLE_DEVICES": "0"}
    with device_lock.device_slot(tmp_path, "cuda:0", should_give_up=lambda: False):  # a run trains on GPU 0
        assert gpus.launch_plan(tmp_path, 1)[1] == {"CUDA_VISIBLE_DEVICES": "1"}
        with device_lock.device_slot(tmp_path, "cuda:1", should_give_up=lambda: False):  # and one on GPU 1: wait for 0
            assert gpus.launch_plan(tmp_path, 1)[1] == {"CUDA_VISIBLE_DEVICES": "0"}


def test_a_two_process_run_takes_both_gpus_through_torchrun(tmp_path, two_gpus):
    command, env = gpus.launch_plan(tmp_path, 2)
    assert command[1:4] == ["-m", "torch.distributed.run", "--standalone"]
    assert command[-4:] == ["--nproc_per_node", "2", "-m", "core.train"]
    assert env == {"CUDA_VISIBLE_DEVICES": "0,1"}
    with pytest.raises(UserError) as error:
        gpus.launch_plan(tmp_path, 3)
    assert error.value.message == "This machine has 2 GPUs: choose at most 2 processes."


def test_a_single_gpu_machine_is_left_as_it_is_and_cpu_processes_share_the_cores(tmp_path, monkeypatch):
    monkeypatch.setattr(gpus, "machine_gpus", lambda: 1)
    assert gpus.launch_plan(tmp_path, 1)[1] == {}
    monkeypatch.setattr(gpus, "machine_gpus", lambda: 0)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert gpus.child_environment([], 0, 2, {}, cpu_count=8) == {"OMP_NUM_THREADS": "4"}
    assert gpus.child_environment([], 0, 2, {"OMP_NUM_THREADS": "3"}, cpu_count=8) == {}
    assert gpus.launch_plan(tmp_path, 1) == ([sys.executable, "-m", "core.train"], {})


def test_the_job_queues_for_the_gpus_its_processes_use(monkeypatch):
    assert gpus.queue_keys(None, 0, 2) == ["cpu"]
    assert gpus.queue_keys(None, 4, 1) == ["cuda:0"]
    assert gpus.queue_keys("2,3", 2, 2) == ["cuda:2", "cuda:3"]  # as the launcher pinned them
    monkeypatch.setattr(hardware, "gpu_count", lambda: 1)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert gpus.job_devices() == ["cuda:1"]


def test_several_devices_are_taken_all_or_none(tmp_path):
    with device_lock.device_slot(tmp_path, "cuda:1", should_give_up=lambda: False):
        polls = []
        with device_lock.device_slot(tmp_path, ["cuda:0", "cuda:1"], should_give_up=lambda: len(polls) >= 2,
                               while_waiting=lambda: polls.append(1)) as got:
            assert not got
        assert polls == [1, 1]
        assert not device_lock.device_busy(tmp_path, "cuda:0")  # not held while it waited for the other one
    with device_lock.device_slot(tmp_path, ["cuda:1", "cuda:0"], should_give_up=lambda: True) as got:
        assert got and device_lock.device_busy(tmp_path, "cuda:0") and device_lock.device_busy(tmp_path, "cuda:1")
    assert not device_lock.device_busy(tmp_path, "cuda:0") and not device_lock.device_busy(tmp_path, "cuda:1")


@pytest.mark.parametrize("rows, machine_gpus, expected", [
    (12_800, 4, 4),  # 3,200 texts a GPU: 100 steps of 32
    (12_799, 4, 1),
    (6_400, 2, 2),
    (1_000_000, 1, 1),
    (1_000_000, 0, 1),
])
def test_the_train_step_defaults_to_all_gpus_only_for_enough_data(rows, machine_gpus, expected):
    assert gpus.default_processes(rows, machine_gpus) == expected


def test_the_server_counts_no_gpus_without_the_nvidia_driver(tmp_path, monkeypatch):
    monkeypatch.setattr(hardware, "gpu_count", lambda: 3)
    monkeypatch.setattr(gpus, "NVIDIA_DRIVER_GPUS", tmp_path / "absent")
    if sys.platform.startswith("linux"):
        assert gpus.machine_gpus() == 0  # known without asking torch
    monkeypatch.setattr(gpus, "NVIDIA_DRIVER_GPUS", tmp_path)
    assert gpus.machine_gpus() == 3


def test_the_train_step_picks_the_default_from_the_checked_data(monkeypatch):
    from ui import train_tab

    monkeypatch.setattr(gpus, "machine_gpus", lambda: 2)
    assert train_tab.gpu_default({"ok": True, "texts": 8_000}, 0.2) == 2  # 6,400 training texts
    assert train_tab.gpu_default({"ok": True, "texts": 8_000, "fixed_val_share": 0.25}, 0.2) == 1
    assert train_tab.gpu_default({"ok": True, "texts": 7_999}, 0.2) == 1


def test_cpu_processes_are_at_most_one_a_core():
    gpus.check_processes(2, 0, cpus=2)
    with pytest.raises(UserError) as error:
        gpus.check_processes(3, 0, cpus=2)
    assert error.value.message == "This machine has 2 CPU cores and no GPU: choose at most 2 processes."
    with pytest.raises(UserError) as error:
        gpus.check_processes(2, 1, cpus=16)
    assert error.value.message == "This machine has 1 GPU: choose at most 1 process."


def test_the_cli_refuses_too_many_processes_in_one_sentence(tmp_path, example_data, capsys):
    from core import __main__ as cli

    code = cli.main(["--runs-dir", str(tmp_path), "train", "--data", str(example_data), "--processes", "65"])
    assert code == 2
    assert capsys.readouterr().err.strip() == "Error: Processes must be a whole number from 1 to 64."
