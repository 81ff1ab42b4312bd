"""Separate two-speaker recordings of any length with a TDANet checkpoint.

Writes DIR/NAME_s1.wav and DIR/NAME_s2.wav for each input, at the input's sample rate. Long recordings
are processed in overlapping chunks in bounded memory, keeping each speaker in the same output file.
PATH is one of our .dnn directories or an authors' checkpoint file; an authors' bare state_dict carries
no architecture, so give its --sample-rate (and --variant, --enc-kernel-size-ms if they cannot be inferred).
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from speechkit.audio import AudioError  # noqa: E402
from tdanet.inference import load_separator, separate_file  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, metavar="PATH")
    parser.add_argument("inputs", nargs="+", metavar="INPUT")
    parser.add_argument("--out", required=True, metavar="DIR")
    parser.add_argument("--variant", choices=["paper", "official-release"])
    parser.add_argument("--sample-rate", type=int, help="rate the authors' model was trained at")
    parser.add_argument("--enc-kernel-size-ms", type=int)
    parser.add_argument("--chunk-s", type=float, default=10.0, help="chunk length for long inputs (default 10)")
    parser.add_argument("--overlap-s", type=float, default=1.0, help="overlap of neighbouring chunks (default 1)")
    parser.add_argument("--channel", type=int, help="channel of multi-channel inputs (0-based)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    model = load_separator(args.checkpoint, args.variant, args.sample_rate, args.enc_kernel_size_ms, args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failures = 0
    for path in map(Path, args.inputs):
        targets = [out / f"{path.stem}_s{i + 1}.wav" for i in range(model.num_sources)]
        try:
            separate_file(model, path, targets, args.chunk_s, args.overlap_s, args.channel)
        except (AudioError, OSError) as err:
            failures += 1
            print(f"error: {err}", file=sys.stderr)
            continue
        print("\t".join(map(str, [path, *targets])), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
