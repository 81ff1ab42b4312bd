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

evaluate() {  # TEST_SCRIPT TASK NAME=CHECKPOINT...: test each checkpoint on the task's test set
    local script=$1 task=$2 model
    for model in "${@:3}"; do
        $PY "scripts/$script" --checkpoint "${model#*=}" --out "checkpoints/quickstart_eval/${model%%=*}/$task"
    done
}
summaries() {  # TASK NAME=CHECKPOINT...: show_results.py's NAME=SUMMARY arguments for those evaluations
    local task=$1 model
    for model in "${@:2}"; do echo "${model%%=*}=checkpoints/quickstart_eval/${model%%=*}/$task/summary.json"; done
}
t60_models=("demo=checkpoints/awssdr_default.dnn")
[ -d checkpoints/shipped/awssdr.dnn ] && t60_models+=("shipped=checkpoints/shipped/awssdr.dnn")
released=${AWSSDR_RELEASED:-../shared/reference/awssdr/official/TrainSet2.dnn}
if [ -d "$released" ]; then
    t60_models+=("released TrainSet2=$released")
else
    echo "(the authors' released TrainSet2.dnn was not found at $released; set AWSSDR_RELEASED=PATH to compare)"
fi
separation_models=("demo=checkpoints/tdanet_default.dnn")
[ -d checkpoints/shipped/tdanet.dnn ] && separation_models+=("shipped=checkpoints/shipped/tdanet.dnn")

echo "== 2/4 AWSSDR: a demo training on drawn items, then the test split (TDANet's demo trains beside it)"
mkdir -p checkpoints
tdanet_log=checkpoints/tdanet_default.train.log
(   # the TDANet demo, on the other core: train, then test the demo and the shipped model
    $PY scripts/2_train_default.py --set train.progress=false
    evaluate 2_test_default.py separation "${separation_models[@]}"
) > "$tdanet_log" 2>&1 &
tdanet_job=$!
trap 'kill $tdanet_job 2>/dev/null || true' EXIT  # never leave it running when this script stops
$PY scripts/1_train_default.py
evaluate 1_test_default.py t60 "${t60_models[@]}"

echo "== 3/4 TDANet: a small demo model trained on drawn mixtures, then the test mixtures (its log: $tdanet_log)"
status=0
wait $tdanet_job || status=$?
cat "$tdanet_log"
if [ $status -ne 0 ]; then
    echo "error: the TDANet demo failed (exit $status); its log is above and in $tdanet_log" >&2
    exit $status
fi

echo "== 4/4 results on the default corpus's test sets (speakers and rooms unseen in training)"
mapfile -t t60 < <(summaries t60 "${t60_models[@]}")
mapfile -t separation < <(summaries separation "${separation_models[@]}")
$PY scripts/show_results.py --t60 "${t60[@]}" --separation "${separation[@]}"
