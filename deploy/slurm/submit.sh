#!/bin/bash
# Submits a sharded valuescope run to Slurm: the shards as a job array
# (shards.sbatch), then the merge (merge.sbatch), which starts once every
# shard task has succeeded and is cancelled if one fails for good.
#
#   SHARDS=8 VALUESCOPE_CONFIG=configs/paper-replication.toml \
#     VALUESCOPE_RUNS=/scratch/$USER/paper deploy/slurm/submit.sh -p long -A myproject
#
# Arguments go to both sbatch calls (partition, account, QOS...).
# From the environment:
#   SHARDS             the number of shards (default 3)
#   VALUESCOPE_BIN     the valuescope binary (default: valuescope on PATH)
#   VALUESCOPE_CONFIG  the run's config (default configs/quickstart.toml)
#   VALUESCOPE_RUNS    where the shard folders and the merge go (default
#                      runs/quickstart-shards); on a file system every node sees
# Paths are made absolute here, so the jobs find them wherever they start.
# Prints the two job IDs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

SHARDS=${SHARDS:-3}
case $SHARDS in
'' | *[!0-9]* | 0)
	echo "submit.sh: SHARDS must be a positive integer, is '$SHARDS'" >&2
	exit 2
	;;
esac
VALUESCOPE_BIN=${VALUESCOPE_BIN:-valuescope}
case $VALUESCOPE_BIN in
*/*) VALUESCOPE_BIN=$(realpath -m "$VALUESCOPE_BIN") ;;
esac
VALUESCOPE_CONFIG=$(realpath -m "${VALUESCOPE_CONFIG:-configs/quickstart.toml}")
VALUESCOPE_RUNS=$(realpath -m "${VALUESCOPE_RUNS:-runs/quickstart-shards}")
if [ ! -f "$VALUESCOPE_CONFIG" ]; then
	echo "submit.sh: no config at $VALUESCOPE_CONFIG (set VALUESCOPE_CONFIG)" >&2
	exit 2
fi
export VALUESCOPE_BIN VALUESCOPE_CONFIG VALUESCOPE_RUNS
mkdir -p "$VALUESCOPE_RUNS"

# --parsable prints "jobid" or "jobid;cluster".
array=$(sbatch --parsable --array="0-$((SHARDS - 1))" "$@" "$here/shards.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes "$@" "$here/merge.sbatch")
merge=${merge%%;*}
echo "shards: job $array (array 0-$((SHARDS - 1))) into $VALUESCOPE_RUNS/shard-*"
echo "merge:  job $merge into $VALUESCOPE_RUNS/merged, once every shard succeeded"
