"""Train AWSSDR on the built-in default corpus (scripts/0_make_default_data.py makes it)."""
from awssdr.recipe import train_main
from speechkit.cli import run

run(train_main, "configs/awssdr/default.yaml")
