"""Train AWSSDR on training set 2 (set 1 plus short utterances; the authors' TrainSet2.dnn)."""
from awssdr.recipe import train_main
from speechkit.cli import run

run(train_main, "configs/awssdr/trainset2.yaml")
