"""Train TDANet on WHAM! (--config configs/tdanet/wham_large.yaml for TDANet Large)."""
from tdanet.recipe import train_main
from speechkit.cli import run

run(train_main, "configs/tdanet/wham.yaml")
