#!/usr/bin/env bash
# The README's first command: install everything, make the default corpus (speech, room and noise pools and
# fixed test sets), train each model briefly on items drawn on the fly (a demo of the training path, CPU),
# then test the demo models, the shipped models and (when found) the authors' released AWSSDR checkpoint
# on the same unseen test sets and print the results side by side. Re-running skips finished steps (the
# corpus is kept, training resumes from its checkpoint and stops at once when it is complete).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PYTHONUNBUFFERED=1
PY=.venv/bin/python

echo "== 1/4 default corpus (data/default): pools and fixed test sets"
$PY scripts/0_make_default_data.py --scale small

echo "== 2/4 AWSSDR: a demo training on drawn items, then the test split"
$PY scripts/1_train_default.py
evaluate() {  # SUMMARIES_ARRAY TEST_SCRIPT TASK NAME CHECKPOINT: test it, add NAME=summary to the array
    local -n summaries=$1
    local out="checkpoints/quickstart_eval/$4/$3"
    $PY "scripts/$2" --checkpoint "$5" --out "$out"
    summaries+=("$4=$out/summary.json")
}
t60=()
evaluate t60 1_test_default.py t60 "demo" checkpoints/awssdr_default.dnn
[ -d checkpoints/shipped/awssdr.dnn ] && evaluate t60 1_test_default.py t60 "shipped" checkpoints/shipped/awssdr.dnn
released=${AWSSDR_RELEASED:-../shared/reference/awssdr/official/TrainSet2.dnn}
if [ -d "$released" ]; then
    evaluate t60 1_test_default.py t60 "released TrainSet2" "$released"
else
    echo "(the authors' released TrainSet2.dnn was not found at $released; set AWSSDR_RELEASED=PATH to compare)"
fi

echo "== 3/4 TDANet: a small demo model trained on drawn mixtures, then the test mixtures"
$PY scripts/2_train_default.py
separation=()
evaluate separation 2_test_default.py separation "demo" checkpoints/tdanet_default.dnn
[ -d checkpoints/shipped/tdanet.dnn ] && evaluate separation 2_test_default.py separation "shipped" checkpoints/shipped/tdanet.dnn

echo "== 4/4 results on the default corpus's test sets (speakers and rooms unseen in training)"
$PY scripts/show_results.py --t60 "${t60[@]}" --separation "${separation[@]}"
