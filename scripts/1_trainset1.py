"""Train AWSSDR on training set 1 (TIMIT x measured RIRs x noise; the authors' TN.dnn)."""
from awssdr.recipe import train_main
from speechkit.cli import run

run(train_main, "configs/awssdr/trainset1.yaml")
