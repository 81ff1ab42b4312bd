"""CSV manifests with relative paths, and the length-bucketed batch sampler."""
import numpy as np
import pytest

from speechkit.manifest import ManifestError, read_manifest, write_manifest
from speechkit.sampler import LengthBucketSampler


def test_manifest_round_trip_with_relative_paths(tmp_path):
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "a.wav").write_bytes(b"x")
    write_manifest(tmp_path / "set.csv", [{"path": tmp_path / "audio" / "a.wav", "t60_s": 0.5, "snr_db": None}])
    assert (tmp_path / "set.csv").read_text() == "path,t60_s,snr_db\naudio/a.wav,0.5,\n"
    moved = tmp_path.with_name(tmp_path.name + "_moved")
    tmp_path.rename(moved)  # paths are relative, so the whole folder can move
    rows = read_manifest(moved / "set.csv")
    assert rows == [{"path": moved / "audio" / "a.wav", "t60_s": "0.5", "snr_db": ""}]


def test_manifest_errors_name_file_and_row(tmp_path):
    (tmp_path / "set.csv").write_text("path,t60_s\nmissing.wav,0.4\n")
    with pytest.raises(ManifestError, match=r"set.csv: line 2: file not found: .*missing.wav"):
        read_manifest(tmp_path / "set.csv")
    with pytest.raises(ManifestError, match="missing column.*snr_db"):
        read_manifest(tmp_path / "set.csv", required=("path", "snr_db"), check_files=False)
    (tmp_path / "empty.csv").write_text("path\n")
    with pytest.raises(ManifestError, match="no rows"):
        read_manifest(tmp_path / "empty.csv")


def test_batches_group_similar_lengths_and_cover_everything():
    lengths = np.random.default_rng(0).integers(10, 1000, size=103)
    sampler = LengthBucketSampler(lengths, batch_size=8, seed=1)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 13
    assert sorted(i for b in batches for i in b) == list(range(103))
    by_length = sorted(batches, key=lambda b: lengths[b].min())
    for shorter, longer in zip(by_length, by_length[1:]):  # batches are consecutive runs of sorted lengths
        assert lengths[shorter].max() <= lengths[longer].min()


def test_batch_order_is_shuffled_per_epoch_and_reproducible():
    sampler = LengthBucketSampler(np.arange(64), batch_size=4, seed=3)
    first = list(sampler)
    assert first == list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first
    assert list(LengthBucketSampler(np.arange(64), 4, shuffle=False)) == [list(range(i, i + 4)) for i in range(0, 64, 4)]


def test_equal_lengths_are_regrouped_each_epoch():
    sampler = LengthBucketSampler(np.full(32, 100), batch_size=4)
    groups = {frozenset(b) for b in sampler}
    sampler.set_epoch(1)
    assert groups != {frozenset(b) for b in sampler}


@pytest.mark.parametrize("pad", [True, False])
def test_distributed_ranks_split_the_batches(pad):
    lengths = np.arange(36)
    ranks = [LengthBucketSampler(lengths, 4, seed=0, rank=r, world_size=2, pad=pad) for r in range(2)]
    shares = [list(s) for s in ranks]
    assert [len(s) for s in shares] == [len(s) for s in ranks]
    if pad:
        assert len(shares[0]) == len(shares[1]) == 5
    else:  # evaluation: every example exactly once over all ranks
        assert sorted(i for share in shares for b in share for i in b) == list(range(36))
