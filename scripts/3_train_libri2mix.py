"""Train TDANet on Libri2Mix (--config configs/tdanet/libri2mix_large.yaml for TDANet Large)."""
from tdanet.recipe import train_main
from speechkit.cli import run

run(train_main, "configs/tdanet/libri2mix.yaml")
