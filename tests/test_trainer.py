"""The shared training loop: determinism, resume after interruption, and torchrun with gloo."""
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from speechkit import checkpoint
from speechkit.config import ConfigError
from speechkit.optim import OptimConfig, make_optimizer
from tests import tiny_task


def weights(dnn_dir, which="latest"):
    return checkpoint.load_weights(dnn_dir, which)


def assert_same(a: dict, b: dict):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_training_writes_a_checkpoint_and_lowers_the_loss(tmp_path):
    info = tiny_task.train(tmp_path / "run.dnn", epochs=6)["info"]
    assert info["epoch"] == 6 and info["stopped"] == "last epoch reached"
    losses = [h["train_loss"] for h in info["history"]]
    assert losses[-1] < losses[0]
    assert checkpoint.can_resume(tmp_path / "run.dnn")
    # lr decays by gamma 0.95 per epoch after epoch 2
    assert info["history"][-1]["lr"] == pytest.approx(1e-2 * 0.95 ** 4)



def test_weight_decay_by_prefix_decays_only_the_parameters_it_names():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    cfg = OptimConfig(lr=0.1, weight_decay=0.5, weight_decay_by_prefix={"2.": 0.0, "2.bias": 0.5})
    optimizer = make_optimizer(model.named_parameters(), cfg)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)  # no loss: only the L2 term moves a parameter
    optimizer.step()
    moved = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert moved == {"0.weight", "0.bias", "2.bias"}  # the longest matching prefix wins: 2.bias decays
    assert len(make_optimizer(model.named_parameters(), OptimConfig(weight_decay=0.5)).param_groups) == 1
    with pytest.raises(ConfigError, match="no parameter name starts with estRT."):
        make_optimizer(model.named_parameters(), OptimConfig(weight_decay_by_prefix={"estRT.": 0.0}))

def test_init_from_starts_from_another_checkpoints_weights(tmp_path):
    tiny_task.train(tmp_path / "first.dnn", epochs=3)
    started = tiny_task.train(tmp_path / "none.dnn", epochs=0, init_from=str(tmp_path / "first.dnn"))
    assert_same(started["model"].state_dict(), weights(tmp_path / "first.dnn", "best"))
    fresh = tiny_task.train(tmp_path / "fresh.dnn", epochs=1)["info"]["history"][0]
    tuned = tiny_task.train(tmp_path / "tuned.dnn", epochs=1, init_from=str(tmp_path / "first.dnn"))
    assert tuned["info"]["history"][0]["valid_score"] < fresh["valid_score"]
    with pytest.raises(checkpoint.CheckpointError, match="not found"):
        tiny_task.train(tmp_path / "other.dnn", epochs=1, init_from=str(tmp_path / "missing.dnn"))


def test_same_seed_gives_identical_checkpoint(tmp_path):
    tiny_task.train(tmp_path / "a.dnn")
    tiny_task.train(tmp_path / "b.dnn")
    for name in ("latest_weights.pyt", "latest_optim.pyt", "checkpoint.json"):
        assert (tmp_path / "a.dnn" / name).read_bytes() == (tmp_path / "b.dnn" / name).read_bytes(), name


def test_resume_after_interruption_matches_uninterrupted_run(tmp_path, monkeypatch):
    uninterrupted = tiny_task.train(tmp_path / "full.dnn")["model"].state_dict()
    calls = {"n": 0}
    real_loss = tiny_task.loss

    def interrupting_loss(model, batch, device):
        calls["n"] += 1
        if calls["n"] == 30:  # in the middle of epoch 3 (10 train + 3 valid batches per epoch)
            raise KeyboardInterrupt
        return real_loss(model, batch, device)

    monkeypatch.setattr(tiny_task, "loss", interrupting_loss)
    with pytest.raises(KeyboardInterrupt):
        tiny_task.train(tmp_path / "resumed.dnn")
    info = checkpoint.load_training_state(tmp_path / "resumed.dnn")["info"]
    assert info["epoch"] == 2
    monkeypatch.setattr(tiny_task, "loss", real_loss)
    resumed = tiny_task.train(tmp_path / "resumed.dnn")
    assert resumed["info"]["epoch"] == 4
    assert_same(uninterrupted, resumed["model"].state_dict())


def test_resume_refuses_a_checkpoint_trained_with_another_config(tmp_path):
    tiny_task.train(tmp_path / "run.dnn", epochs=1)
    with pytest.raises(checkpoint.CheckpointError, match=r"different config \([^)]*train\.accumulate_batches"):
        tiny_task.train(tmp_path / "run.dnn", epochs=2, accumulate_batches=1)  # tiny_task's default is 2
    assert checkpoint.load_training_state(tmp_path / "run.dnn")["info"]["epoch"] == 1  # left as it was


def test_early_stopping_stops_and_keeps_best_weights(tmp_path):
    info = tiny_task.train(tmp_path / "run.dnn", epochs=30, early_stop_patience=1)["info"]
    assert info["stopped"].startswith("no validation improvement")
    assert info["epoch"] == info["best_epoch"] + 1
    assert (tmp_path / "run.dnn" / "best_weights.pyt").is_file()


def test_epochs_the_task_marks_unfinished_never_give_the_best_weights(tmp_path, monkeypatch):
    seen = []

    def start_epoch(epoch):  # only epoch 1's model is "final": the loss goes on falling after it
        seen.append(epoch)
        return epoch == 1

    make_task = tiny_task.make_task
    monkeypatch.setattr(tiny_task, "make_task", lambda: replace(make_task(), start_epoch=start_epoch))
    info = tiny_task.train(tmp_path / "run.dnn", epochs=4)["info"]
    assert seen == [1, 2, 3, 4]
    assert info["best_epoch"] == 1 and info["best_valid"] == info["history"][0]["valid_score"]
    assert min(h["valid_score"] for h in info["history"][1:]) < info["best_valid"]  # later epochs scored better
    first = tiny_task.train(tmp_path / "first.dnn", epochs=1)["model"].state_dict()
    assert_same(first, weights(tmp_path / "run.dnn", "best"))


def test_the_tasks_check_runs_after_each_epoch_in_eval_mode_and_its_message_is_printed(tmp_path, monkeypatch,
                                                                                     capsys):
    seen = []

    def check(model, epoch):
        seen.append((epoch, model.training, torch.is_grad_enabled()))
        return "something the losses do not show" if epoch == 2 else None

    make_task = tiny_task.make_task
    monkeypatch.setattr(tiny_task, "make_task", lambda: replace(make_task(), check=check))
    tiny_task.train(tmp_path / "run.dnn", epochs=3)
    assert seen == [(1, False, False), (2, False, False), (3, False, False)]
    out = capsys.readouterr().out
    assert out.count("WARNING") == 1 and "WARNING: epoch 2: something the losses do not show" in out
    unchecked = tiny_task.train(tmp_path / "unchecked.dnn", epochs=3)["model"].state_dict()
    assert_same(unchecked, weights(tmp_path / "run.dnn", "latest"))  # checking leaves training as it was


@pytest.mark.parametrize("processes", [1, 2])  # one process joins a gloo group of one
def test_torchrun_with_gloo_writes_a_checkpoint(tmp_path, processes):
    repo = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={processes}", "--standalone",
         str(repo / "tests" / "tiny_task.py"), str(tmp_path / "ddp.dnn")],
        capture_output=True, text=True, timeout=300, cwd=repo)
    assert result.returncode == 0, result.stderr[-3000:]
    info = checkpoint.load_training_state(tmp_path / "ddp.dnn")["info"]
    assert info["epoch"] == 4
    assert "epoch 4/4" in result.stdout + result.stderr


@pytest.mark.parametrize("flush", [True, False])
def test_training_on_cpu_flushes_denormal_floats_unless_told_not_to(flush):
    from speechkit.trainer import TrainConfig, prepare
    try:
        prepare(TrainConfig(device="cpu", flush_denormal=flush))
        denormal = torch.tensor([1e-40])  # below float32's smallest normal number, 1.2e-38
        assert ((denormal * 1.0).item() == 0.0) == flush
    finally:
        torch.set_flush_denormal(True)  # as training and inference leave it (one thread in tests)


def test_importing_configs_leaves_cuda_alone_and_training_sets_deterministic_cublas():
    code = ("import os\nimport awssdr.config, tdanet.config\nprint(os.environ.get('CUBLAS_WORKSPACE_CONFIG'))\n"
            "from speechkit.trainer import TrainConfig, training_run\n"
            "with training_run(TrainConfig(device='cpu')):\n    print(os.environ.get('CUBLAS_WORKSPACE_CONFIG'))\n")
    env = {k: v for k, v in os.environ.items() if k != "CUBLAS_WORKSPACE_CONFIG"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["None", ":4096:8"]


@pytest.mark.parametrize("asked, local_rank, cuda, expected", [
    ("auto", 1, True, "cuda:1"), ("auto", 1, False, "cpu"),
    ("cuda", 1, True, "cuda:1"),  # torch.cuda.set_device refuses a CUDA device without an index
    ("cuda:0", 1, True, "cuda:0"), ("cpu", 0, True, "cpu")])
def test_the_device_setting_names_this_processs_device(asked, local_rank, cuda, expected):
    from speechkit.distributed import pick_device
    assert pick_device(asked, local_rank, cuda) == torch.device(expected)
