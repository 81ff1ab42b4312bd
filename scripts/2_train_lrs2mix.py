"""Train TDANet on LRS2-2Mix (--config configs/tdanet/lrs2mix_large.yaml for TDANet Large)."""
from tdanet.recipe import train_main
from speechkit.cli import run

run(train_main, "configs/tdanet/lrs2mix.yaml")
