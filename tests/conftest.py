"""Shared pytest fixtures."""
from pathlib import Path

import pytest
import torch

from .script_runner import run_script

# One thread for the whole session, set once: tiny models on a machine shared with other jobs can be 30x
# slower with two OpenMP threads, and with torch 2.13's CPU wheel any later torch.set_num_threads(n > 1)
# breaks MKL's batched float64 solve (DLASWP errors, then a hang in the BSS-eval SDR): never raise it again.
torch.set_num_threads(1)

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = REPO_ROOT.parent / "shared" / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """`../shared/reference`, the parity material kept beside (never inside) the checkout."""
    if not REFERENCE_DIR.is_dir():
        pytest.skip(f"reference material not found at {REFERENCE_DIR} (only present on the project's machines)")
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """The default corpus at tiny scale (seed 0, two workers), made once per test session by its script."""
    from speechkit.corpus.synthesis import SynthesisError, require_engines

    try:
        require_engines()
    except SynthesisError as err:
        pytest.skip(f"speech synthesis engines missing: {err}")
    out_dir = tmp_path_factory.mktemp("corpus") / "seed0_workers2"
    run_script("0_make_default_data.py", "--out", out_dir, "--scale", "tiny", "--seed", 0, "--workers", 2)
    return out_dir
