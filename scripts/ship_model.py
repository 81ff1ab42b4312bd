"""Copy a trained checkpoint's inference files (best weights, config.yaml, checkpoint.json; no optimizer
state) into checkpoints/shipped/, where estimate_t60.py and separate.py find their default models."""
import argparse
from pathlib import Path

from speechkit.checkpoint import export_for_inference
from speechkit.cli import run

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "shipped"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("checkpoint", help="a training checkpoint, e.g. checkpoints/awssdr_shipped.dnn")
    parser.add_argument("model", choices=["awssdr", "tdanet"], help="which default model it becomes")
    args = parser.parse_args()
    out = export_for_inference(args.checkpoint, SHIPPED / f"{args.model}.dnn")
    print(f"{args.checkpoint} -> {out} ({sum(f.stat().st_size for f in out.iterdir()) / 1e6:.1f} MB)")


if __name__ == "__main__":
    run(main)
