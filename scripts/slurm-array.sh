#!/usr/bin/env bash
# Slurm: the nightly batch over N machines on shared storage.
#
#   sbatch --array=1-8 scripts/slurm-array.sh /shared/county/nightly.toml 2026-07-18
#
# Each array task runs its shard of the tiles' units (indices, per-plot statistics); a second
# job, started when every task has ended, runs the merge (stages, prescriptions, the report):
#
#   jid=$(sbatch --parsable --array=1-8 scripts/slurm-array.sh RUN.toml DATE)
#   sbatch --dependency=afterany:$jid --wrap "paddy merge RUN.toml --run-date DATE"
#
# afterany, not afterok: a shard whose tile failed exits 1, and the merge still reports the
# rest (and retries what the shards did not finish). The run date must be the same for all,
# so pass it rather than letting each task take its own "today".
#SBATCH --job-name=paddy-nightly
#SBATCH --cpus-per-task=8
#SBATCH --mem=8G
#SBATCH --time=04:00:00
#SBATCH --output=paddy-%A_%a.log
set -euo pipefail
run_file=${1:?usage: sbatch --array=1-N slurm-array.sh RUN.toml RUN_DATE}
run_date=${2:?usage: sbatch --array=1-N slurm-array.sh RUN.toml RUN_DATE}
: "${SLURM_ARRAY_TASK_ID:?run under sbatch --array}"
: "${SLURM_ARRAY_TASK_COUNT:?run under sbatch --array}"
paddy=${PADDY:-paddy}
exec "$paddy" run "$run_file" --run-date "$run_date" \
    --shard "${SLURM_ARRAY_TASK_ID}/${SLURM_ARRAY_TASK_COUNT}" --log-format json
