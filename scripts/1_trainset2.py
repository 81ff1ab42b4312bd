"""Train AWSSDR on training set 2 (set 1 plus short utterances; the authors' TrainSet2.dnn)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from awssdr.recipe import train_main  # noqa: E402
from speechkit.cli import run  # noqa: E402

run(train_main, "configs/awssdr/trainset2.yaml")
