"""Separate two-speaker recordings of any length with a TDANet checkpoint.

Writes DIR/NAME_s1.wav and DIR/NAME_s2.wav for each input file (and each audio file under an input folder),
at the input's sample rate. Inputs whose names clash (a/x.wav, b/x.wav) keep their folders below DIR
(DIR/a/x_s1.wav, DIR/b/x_s1.wav); names that would still clash are refused before anything is written.
Long recordings are processed in overlapping chunks in bounded memory, keeping each speaker in the same
output file, with a progress bar when run in a terminal. A file that fails leaves nothing in DIR, the
other files are still separated, and the exit code is 1 at the end. Multi-channel files: channel 0 unless
--channel N (said once on stderr).
PATH is one of our .dnn directories or an authors' checkpoint file (default: the shipped model); an
authors' bare state_dict carries no architecture, so give its --sample-rate (and --variant,
--enc-kernel-size-ms if they cannot be inferred).
"""
import argparse
import os
import sys
from collections import Counter
from pathlib import Path

from speechkit.audio import input_audio_files
from speechkit.cli import ChannelChoice, run
from speechkit.errors import UserError
from tdanet.inference import load_separator, separate_file


def output_names(files: list[Path]) -> list[Path]:
    """Each file's output name below DIR: its stem, or its path below the inputs' common folder when stems clash."""
    stems = Counter(path.stem for path in files)
    root = Path(os.path.commonpath([path.resolve().parent for path in files]))
    names = [path.resolve().relative_to(root).with_suffix("") if stems[path.stem] > 1 else Path(path.stem)
             for path in files]
    taken = {}
    for path, name in zip(files, names):
        if name in taken:
            raise FileExistsError(f"{taken[name]} and {path} would both be written as {name}_s1.wav; "
                                  "rename one of them or separate them in two runs")
        taken[name] = path
    return names


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", metavar="PATH", help="default: the shipped model")
    parser.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR")
    parser.add_argument("--out", required=True, metavar="DIR")
    parser.add_argument("--variant", choices=["paper", "official-release"])
    parser.add_argument("--sample-rate", type=int, help="rate the authors' model was trained at")
    parser.add_argument("--enc-kernel-size-ms", type=int)
    parser.add_argument("--chunk-s", type=float, default=10.0, help="chunk length for long inputs (default 10)")
    parser.add_argument("--overlap-s", type=float, default=1.0, help="overlap of neighbouring chunks (default 1)")
    parser.add_argument("--channel", type=int, metavar="N", help="channel of multi-channel files (0-based; default 0)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    files = input_audio_files(args.inputs)
    names = output_names(files)
    model = load_separator(args.checkpoint, args.variant, args.sample_rate, args.enc_kernel_size_ms, args.device)
    out = Path(args.out)
    channel = ChannelChoice(args.channel)
    failures = 0
    for path, name in zip(files, names):
        targets = [out / name.parent / f"{name.name}_s{i + 1}.wav" for i in range(model.num_sources)]
        targets[0].parent.mkdir(parents=True, exist_ok=True)
        try:
            separate_file(model, path, targets, args.chunk_s, args.overlap_s, channel(path))
        except (UserError, OSError) as err:  # this file's problem: go on with the others
            failures += 1
            print(f"error: {err}", file=sys.stderr)
            continue
        print("\t".join(map(str, [path, *targets])), flush=True)
    if failures:
        print(f"{failures} file(s) could not be separated", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    run(main)
