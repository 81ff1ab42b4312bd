"""Flushing denormal floats reaches every thread torch computes with, not only the calling one."""
import subprocess
import sys
from pathlib import Path

# Run in a fresh process: the test session keeps one torch thread (conftest.py), and the check needs two
# threads whose OpenMP team already exists before the flush is set.
CHECK = """
import torch
from speechkit.denormals import set_flush_denormal
torch.set_num_threads(2)
denormal = torch.full((1 << 22,), 1e-40)
(denormal * 1.0).sum()  # a parallel operation: the OpenMP team now exists with the default flags
for on in (True, False, True):
    set_flush_denormal(on)
    kept = int((denormal * 1.0).count_nonzero())  # both threads' halves: denormal inputs read as 0 when flushed
    print(on, kept)
"""


def test_flushing_reaches_the_worker_threads_and_can_be_undone():
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "0", "False", str(1 << 22), "True", "0"]
