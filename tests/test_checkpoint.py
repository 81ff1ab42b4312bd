"""The .dnn checkpoint directory: round trip, atomic saves, and clear errors on missing files."""
import multiprocessing
import os
import time

import pytest
import torch

from speechkit import checkpoint
from speechkit.checkpoint import CheckpointError
from speechkit.machine import processor_generation, processor_name


def save(dnn_dir, value: float, epoch: int):
    model = torch.nn.Linear(3, 2)
    torch.nn.init.constant_(model.weight, value)
    optimizer = torch.optim.Adam(model.parameters())
    checkpoint.save_checkpoint(dnn_dir, weights=model.state_dict(), optim=optimizer.state_dict(),
                               trainer_state={"schedule": {}}, config={"train": {"epochs": 3}},
                               info={"epoch": epoch, "step": 10 * epoch, "best_valid": 0.5})
    return model


def test_round_trip(tmp_path):
    model = save(tmp_path / "m.dnn", 0.25, epoch=2)
    state = checkpoint.load_training_state(tmp_path / "m.dnn")
    assert torch.equal(state["weights"]["weight"], model.weight.detach())
    assert state["info"]["epoch"] == 2 and state["info"]["versions"]["torch"] == torch.__version__
    assert state["info"]["versions"]["processor"] == processor_name()  # float32 roundings differ across kinds
    assert state["info"]["versions"]["processor_generation"] == processor_generation()  # and across generations
    assert state["config"] == {"train": {"epochs": 3}}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.dnn"]  # no temporary leftovers


def _save_forever(dnn_dir, first_epoch: int, saved):
    """Save epochs first_epoch, first_epoch + 1, ... (weights = the epoch number), setting `saved` after each."""
    epoch = first_epoch
    while True:
        save(dnn_dir, float(epoch), epoch=epoch)
        saved.set()
        epoch += 1


def test_killed_write_leaves_a_loadable_checkpoint(tmp_path):
    dnn_dir = tmp_path / "m.dnn"
    save(dnn_dir, 1.0, epoch=1)
    context = multiprocessing.get_context("fork")
    for delay in (0.0, 0.05, 0.11, 0.23):
        previous = checkpoint.load_training_state(dnn_dir)["info"]["epoch"]
        saved = context.Event()
        writer = context.Process(target=_save_forever, args=(dnn_dir, previous + 1, saved))
        writer.start()
        assert saved.wait(timeout=60), "the writer finished no save within 60 s"
        time.sleep(delay)  # the writer is saving again: the kill lands in the middle of a save
        os.kill(writer.pid, 9)
        writer.join()
        state = checkpoint.load_training_state(dnn_dir)
        # the writer's saves reached the directory, and the weights and the info belong to the same save
        assert state["info"]["epoch"] > previous
        assert state["weights"]["weight"].flatten()[0].item() == float(state["info"]["epoch"])


def test_interrupted_swap_is_recovered(tmp_path):
    dnn_dir = tmp_path / "m.dnn"
    save(dnn_dir, 0.5, epoch=1)
    os.replace(dnn_dir, tmp_path / "m.dnn.old")  # a crash between the two renames of a save
    assert checkpoint.load_training_state(dnn_dir)["info"]["epoch"] == 1


def test_missing_or_incomplete_checkpoint_is_an_error(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        checkpoint.load_weights(tmp_path / "absent.dnn")
    dnn_dir = tmp_path / "m.dnn"
    save(dnn_dir, 0.5, epoch=1)
    (dnn_dir / "latest_optim.pyt").unlink()
    with pytest.raises(CheckpointError, match="missing latest_optim.pyt"):
        checkpoint.load_training_state(dnn_dir)
    assert not checkpoint.can_resume(dnn_dir)
    (dnn_dir / "latest_weights.pyt").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CheckpointError, match="cannot load .*latest_weights.pyt"):
        checkpoint.load_weights(dnn_dir)


def test_files_others_put_in_the_directory_survive_a_save(tmp_path):
    dnn_dir = tmp_path / "m.dnn"
    save(dnn_dir, 0.5, epoch=1)
    (dnn_dir / "notes.txt").write_text("keep me")
    save(dnn_dir, 0.7, epoch=2)
    assert (dnn_dir / "notes.txt").read_text() == "keep me"


def test_the_processor_generation_is_read_from_cpuinfo():
    """'family F model M stepping S' where /proc/cpuinfo numbers them (x86 Linux), not the 'model name' line;
    None where it does not."""
    lines = open("/proc/cpuinfo").read().splitlines() if os.path.exists("/proc/cpuinfo") else []
    pairs = [line.split(":", 1) for line in reversed(lines) if ":" in line]  # the first processor's win
    values = {key.strip(): value.strip() for key, value in pairs}
    wanted = [values.get(field) for field in ("cpu family", "model", "stepping")]
    expected = None if None in wanted else "family {} model {} stepping {}".format(*wanted)
    assert processor_generation() == expected
