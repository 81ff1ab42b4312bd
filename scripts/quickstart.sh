#!/usr/bin/env bash
# The README's first command: install everything, synthesize the default corpus, then train and test
# each model at demo scale on the CPU and print the result tables. Re-running skips finished steps
# (the corpus is kept, training resumes from its checkpoint and stops at once when it is complete).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PYTHONUNBUFFERED=1
PY=.venv/bin/python

echo "== 1/4 default corpus (data/default)"
$PY scripts/0_make_default_data.py --scale small

echo "== 2/4 AWSSDR: train and test on the default corpus"
$PY scripts/1_train_default.py
$PY scripts/1_test_default.py
t60=("ours=checkpoints/awssdr_default.eval/test/summary.json")
released=${AWSSDR_RELEASED:-../shared/reference/awssdr/official/TrainSet2.dnn}
if [ -d "$released" ]; then
    echo "== AWSSDR: the authors' released checkpoint $released on the same test split"
    $PY scripts/1_test_default.py --checkpoint "$released" --out checkpoints/released_TrainSet2.eval/test
    t60+=("released TrainSet2.dnn=checkpoints/released_TrainSet2.eval/test/summary.json")
else
    echo "(the authors' released TrainSet2.dnn was not found at $released; set AWSSDR_RELEASED=PATH to compare)"
fi

echo "== 3/4 TDANet: train and test a small model on the default corpus's mixtures"
$PY scripts/2_train_default.py
$PY scripts/2_test_default.py

echo "== 4/4 results"
$PY scripts/show_results.py --t60 "${t60[@]}" --separation checkpoints/tdanet_default.eval/tt/summary.json
