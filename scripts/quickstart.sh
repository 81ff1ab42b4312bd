#!/usr/bin/env bash
# The README's first command: install everything, make the default corpus (speech, room and noise pools and
# fixed test sets), train each model briefly on items drawn on the fly (a demo of the training path, CPU;
# the two run side by side, one core each, TDANet's in the background with its log in
# checkpoints/tdanet_default.train.log), then test the demo models, the shipped models and (when found) the
# authors' released AWSSDR checkpoint on the same unseen test sets and print the results side by side.
# Re-running skips finished steps (the corpus is kept, training resumes from its checkpoint and stops at once
# when it is complete).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PYTHONUNBUFFERED=1
PY=.venv/bin/python

echo "== 1/4 default corpus (data/default): pools and fixed test sets"
$PY scripts/0_make_default_data.py --scale small

evaluate() {  # TEST_SCRIPT TASK NAME CHECKPOINT: test the checkpoint on the task's test set, print its summary path
    local out="checkpoints/quickstart_eval/$3/$2"
    $PY "scripts/$1" --checkpoint "$4" --out "$out" >&2 || return  # (set -e does not reach into $(...))
    echo "$3=$out/summary.json"
}

echo "== 2/4 AWSSDR: a demo training on drawn items, then the test split (TDANet's demo trains beside it)"
mkdir -p checkpoints/quickstart_eval
tdanet_log=checkpoints/tdanet_default.train.log
tdanet_summaries=checkpoints/quickstart_eval/separation_summaries.txt
(   # the TDANet demo, on the other core: train, then test the demo and the shipped model
    $PY scripts/2_train_default.py --set train.progress=false
    evaluate 2_test_default.py separation "demo" checkpoints/tdanet_default.dnn > "$tdanet_summaries"
    if [ -d checkpoints/shipped/tdanet.dnn ]; then
        evaluate 2_test_default.py separation "shipped" checkpoints/shipped/tdanet.dnn >> "$tdanet_summaries"
    fi
) > "$tdanet_log" 2>&1 &
tdanet_job=$!
trap 'kill $tdanet_job 2>/dev/null || true' EXIT  # never leave it running when this script stops
$PY scripts/1_train_default.py
t60=("$(evaluate 1_test_default.py t60 "demo" checkpoints/awssdr_default.dnn)")
if [ -d checkpoints/shipped/awssdr.dnn ]; then
    t60+=("$(evaluate 1_test_default.py t60 "shipped" checkpoints/shipped/awssdr.dnn)")
fi
released=${AWSSDR_RELEASED:-../shared/reference/awssdr/official/TrainSet2.dnn}
if [ -d "$released" ]; then
    t60+=("$(evaluate 1_test_default.py t60 "released TrainSet2" "$released")")
else
    echo "(the authors' released TrainSet2.dnn was not found at $released; set AWSSDR_RELEASED=PATH to compare)"
fi

echo "== 3/4 TDANet: a small demo model trained on drawn mixtures, then the test mixtures (its log: $tdanet_log)"
status=0
wait $tdanet_job || status=$?
cat "$tdanet_log"
if [ $status -ne 0 ]; then
    echo "error: the TDANet demo failed (exit $status); its log is above and in $tdanet_log" >&2
    exit $status
fi
mapfile -t separation < "$tdanet_summaries"

echo "== 4/4 results on the default corpus's test sets (speakers and rooms unseen in training)"
$PY scripts/show_results.py --t60 "${t60[@]}" --separation "${separation[@]}"
