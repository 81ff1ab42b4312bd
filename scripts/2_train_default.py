"""Train TDANet on the default corpus's two-speaker mixtures (LRS2-2Mix layout), demo scale."""
from tdanet.recipe import train_main
from speechkit.cli import run

run(train_main, "configs/tdanet/default.yaml")
