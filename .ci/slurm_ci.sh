#!/usr/bin/env bash
# slurm_ci.sh -- run fairforget through a REAL single-node SLURM cluster (Debian 12, as root, no systemd,
# no cgroups) and check that the jobs went through SLURM and reproduce a local run bit for bit.
#
#   .ci/slurm_ci.sh            = all: start, selftest (GPUs as --gres), workflow (GPUs as --gpus), stop; the daemons
#                                are stopped even on failure or timeout; exit 0 only if every check passed
#   .ci/slurm_ci.sh start      install (apt) + configure + start munged, MariaDB, slurmdbd, slurmctld, slurmd
#   .ci/slurm_ci.sh selftest   trivial Snakefile with the project's rule names through slurm_profile + sacct checks
#   .ci/slurm_ci.sh workflow   config/micro.yaml through SLURM (whole workflow), the documented rerun after deleting
#                              products with Ctrl-C and scancel mid-finetune, and locally (--cores 2, up to the
#                              checkpoints); sacct checks; base + fine-tuned checkpoint hashes must be identical
#   .ci/slurm_ci.sh recovery   the documented reruns of `workflow` alone, on its finished SLURM run
#   .ci/slurm_ci.sh stop       stop the daemons this script started (by PID file)
#   .ci/slurm_ci.sh env        print the exports that point slurm commands (sinfo, sacct) and slurm_profile at
#                              this cluster (what a test that runs its own `snakemake --profile` needs)
#   .ci/slurm_ci.sh profile D  write the CI overlay profile (jobs, partition, account, short status checks) to D
#   .ci/slurm_ci.sh check LOG N [RULE...]  the sacct checks of `workflow` on a snakemake log of the slurm executor:
#                              at least N jobs, all COMPLETED, each RULE with a job holding a GPU
#
# State, logs and the slurm configuration live under $FAIRFORGET_SLURM_STATE (default /tmp/fairforget-slurm);
# /etc/slurm/slurm.conf becomes a symlink to it while the cluster runs (the job-step plugin needs the default
# path, see write_configs) and is removed by `stop`.  Safe to re-run: running daemons are reused and
# reconfigured, every run starts from empty result directories; daemons it did not start make it refuse.
#
# Knobs: FAIRFORGET_SLURM_STATE, FAIRFORGET_SLURM_CI_TIMEOUT (whole `all`, default 840 s),
#        FAIRFORGET_SLURM_RUN_TIMEOUT (one snakemake run, default 600 s), FAKE_GPUS (1-4, default 2),
#        FAIRFORGET_CI_CONFIG (default config/micro.yaml, overlaid with config/slurm_ci.yaml if present),
#        PYTHON (default .venv/bin/python of the repo).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${FAIRFORGET_SLURM_STATE:-/tmp/fairforget-slurm}
CI_TIMEOUT=${FAIRFORGET_SLURM_CI_TIMEOUT:-840}
RUN_TIMEOUT=${FAIRFORGET_SLURM_RUN_TIMEOUT:-600}
FAKE_GPUS=${FAKE_GPUS:-2}
CI_CONFIG=${FAIRFORGET_CI_CONFIG:-config/micro.yaml}
CFG=() # the config files of the CI study (workflow_configs)
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
CLUSTER=fairforgetci
PARTITION=ci
ACCOUNT=fairforget-ci
DB_PORT=3307 # not 3306: never collide with a MariaDB the machine may already run
ETC=$STATE/etc
RUN=$STATE/run
LOG=$STATE/log
export SLURM_CONF=$ETC/slurm.conf
# the rules call `python`/`accelerate` from PATH (as after `. .venv/bin/activate`); jobs inherit this PATH
PATH="$(dirname "$PYTHON"):$PATH"
export PATH
# the project's profile reads these (slurm_profile/config.yaml); CI = the local partition, 1 CPU per fake GPU
PROFILE_ENV=(FAIRFORGET_SLURM_PARTITION=$PARTITION FAIRFORGET_SLURM_ACCOUNT=$ACCOUNT FAIRFORGET_SLURM_CPUS_PER_GPU=1
  FAIRFORGET_SLURM_FINETUNE_GPUS=1 FAIRFORGET_SLURM_STATUS_COMMAND=sacct)
export "${PROFILE_ENV[@]}"

log() { echo "[slurm_ci $(date -u +%H:%M:%S)] $*" >&2; }
die() { log "FAIL: $*"; exit 1; }
pid_alive() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_packages() {
  local pkgs=(slurmctld slurmd slurm-client slurmdbd munge mariadb-server) missing=() p
  for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if ((${#missing[@]})); then
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    # postinst scripts cannot start services without systemd ("policy-rc.d denied"); we start them below.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

refuse_foreign_daemons() {
  # Another slurmctld/slurmdbd (e.g. a real cluster's, or someone else's test) would answer on our ports.
  local d pid
  for d in slurmctld slurmd slurmdbd; do
    for pid in $(pgrep -x "$d" || true); do
      pid_alive "$RUN/$d.pid" && [[ "$(cat "$RUN/$d.pid")" == "$pid" ]] && continue
      die "a $d (pid $pid) that this script did not start is running; stop it or run on a clean CI machine"
    done
  done
}

write_configs() {
  mkdir -p "$ETC" "$RUN" "$LOG" "$STATE/ctld" "$STATE/spool"
  chmod 755 "$STATE" "$RUN"
  local cpus mem
  cpus=$(nproc)
  # RealMemory above what slurmd detects would DRAIN the node; 80 % leaves room for the daemons.
  mem=$(awk '/MemTotal/ {print int($2/1024*0.8)}' /proc/meminfo)
  # Fake GPUs: GRES backed by /dev/null, so that --gpus/--gres requests are scheduled (and recorded in
  # AllocTRES) exactly as on a GPU node; the jobs themselves run on CPU.
  # One device file per GPU (a File line stands for exactly one device): /dev/null, /dev/zero, ...
  local devs=(/dev/null /dev/zero /dev/full /dev/random) i
  ((FAKE_GPUS >= 1 && FAKE_GPUS <= ${#devs[@]})) || die "FAKE_GPUS must be 1..${#devs[@]}"
  : >"$ETC/gres.conf"
  for ((i = 0; i < FAKE_GPUS; i++)); do
    echo "NodeName=localhost Name=gpu Type=fake File=${devs[i]}" >>"$ETC/gres.conf"
  done
  cat >"$ETC/slurm.conf" <<EOF
# generated by fairforget .ci/slurm_ci.sh: single node, no systemd, no cgroups
ClusterName=$CLUSTER
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
# finished jobs stay visible to squeue for 10 min (squeue fallback needs >= 3 x the first status delay)
MinJobAge=600
GresTypes=gpu
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
AccountingStorageTRES=gres/gpu
AccountingStorageEnforce=associations
# keep --comment in the database: the plugin writes rule_<name>_wildcards_<...> there (checked below)
AccountingStoreFlags=job_comment
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=localhost CPUs=$cpus RealMemory=$mem Gres=gpu:fake:$FAKE_GPUS State=UNKNOWN
PartitionName=$PARTITION Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  cat >"$ETC/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=root
LogFile=$LOG/slurmdbd.log
PidFile=$RUN/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=fairforget-ci
EOF
  chmod 600 "$ETC/slurmdbd.conf" # slurmdbd refuses a world-readable config
  # The slurm-jobstep plugin (0.6.1) strips SLURM_* (SLURM_CONF too) from the environment of the `srun` it runs
  # inside each job, so srun only finds the config at the compiled-in default: link it there.
  mkdir -p /etc/slurm
  if [[ -e /etc/slurm/slurm.conf && "$(readlink /etc/slurm/slurm.conf)" != "$ETC/slurm.conf" ]]; then
    die "/etc/slurm/slurm.conf exists and is not ours; refusing to replace it (use a clean CI machine)"
  fi
  ln -sfn "$ETC/slurm.conf" /etc/slurm/slurm.conf
}

start_munge() {
  if pid_alive "$RUN/munged.pid"; then return 0; fi
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "munged already running (not started here: left alone)"
    return 0
  fi
  if [[ ! -s /etc/munge/munge.key ]]; then
    log "creating munge key"
    mungekey --create --force 2>/dev/null || /usr/sbin/create-munge-key -f
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
  fi
  mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge
  log "starting munged"
  runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
  cp /run/munge/munged.pid "$RUN/munged.pid" # ours: stop it later
  local _
  for _ in $(seq 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return 0; sleep 0.5; done
  die "munge does not work"
}

mysql_cli() { mariadb --socket="$RUN/mysqld.sock" "$@"; }

start_mariadb() {
  local datadir=$STATE/mysql _
  if ! pid_alive "$RUN/mysqld.pid"; then
    mkdir -p "$datadir" && chown mysql:mysql "$datadir" "$RUN"
    [[ -d $datadir/mysql ]] || mariadb-install-db --user=mysql --datadir="$datadir" >"$LOG/mariadb-install.log" 2>&1
    log "starting mariadbd (127.0.0.1:$DB_PORT, datadir $datadir)"
    nohup /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$datadir" --bind-address=127.0.0.1 \
      --port=$DB_PORT --socket="$RUN/mysqld.sock" --pid-file="$RUN/mysqld.pid" >"$LOG/mariadb.log" 2>&1 &
  fi
  for _ in $(seq 60); do mysql_cli -e 'select 1' >/dev/null 2>&1 && break; sleep 0.5; done
  mysql_cli -e 'select 1' >/dev/null || die "MariaDB did not come up, see $LOG/mariadb.log"
  mysql_cli -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'fairforget-ci';
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'fairforget-ci';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
    FLUSH PRIVILEGES;"
}

start_slurmdbd() {
  local _
  if ! pid_alive "$RUN/slurmdbd.pid"; then
    log "starting slurmdbd"
    /usr/sbin/slurmdbd || die "slurmdbd failed, see $LOG/slurmdbd.log" # reads slurmdbd.conf beside $SLURM_CONF
  fi
  for _ in $(seq 30); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 1; done
  sacctmgr -n list cluster >/dev/null 2>&1 || die "slurmdbd does not answer, see $LOG/slurmdbd.log"
  sacctmgr -i add cluster "$CLUSTER" >/dev/null 2>&1 || true
  sacctmgr -i add account "$ACCOUNT" Description=ci Organization=ci >/dev/null 2>&1 || true
  sacctmgr -i add user root Account="$ACCOUNT" DefaultAccount="$ACCOUNT" >/dev/null 2>&1 || true
}

start_slurm() {
  local _
  if ! pid_alive "$RUN/slurmctld.pid"; then log "starting slurmctld"; /usr/sbin/slurmctld -f "$SLURM_CONF" || die "slurmctld failed, see $LOG/slurmctld.log"; fi
  for _ in $(seq 30); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 1; done
  if ! pid_alive "$RUN/slurmd.pid"; then log "starting slurmd"; /usr/sbin/slurmd -f "$SLURM_CONF" -N localhost || die "slurmd failed, see $LOG/slurmd.log"; fi
  for _ in $(seq 30); do sinfo -h -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)' && break; sleep 1; done
  sinfo -h -o %T | grep -Eq '^(idle|mixed|allocated)' ||
    die "node not usable: $(sinfo -N -o '%N %T %E' 2>&1), see $LOG/slurmd.log"
  sinfo -o '%P %N %T %c %m %G' >&2
}

cmd_start() {
  [[ $EUID -eq 0 ]] || die "run as root (installs packages, starts daemons)"
  install_packages
  refuse_foreign_daemons
  write_configs
  start_munge
  start_mariadb
  start_slurmdbd
  start_slurm
  # daemons reused from an earlier start: make them read the configuration just written
  scontrol reconfigure >/dev/null || die "scontrol reconfigure failed"
  log "SLURM is up: SLURM_CONF=$SLURM_CONF partition=$PARTITION account=$ACCOUNT fake GPUs=$FAKE_GPUS"
}

# stop_pidfile FILE NAME [GRACE_SECONDS [GROUP]]: TERM, then KILL after the grace period (GROUP=1: the whole
# process group led by that PID, e.g. a `timeout` and the snakemake under it).
stop_pidfile() {
  local f=$1 name=$2 grace=${3:-20} group=${4:-0} pid _
  if pid_alive "$f"; then
    pid=$(cat "$f")
    log "stopping $name (pid $pid)"
    kill "$pid" || true
    for _ in $(seq $((grace * 2))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
      if [[ $group == 1 ]]; then kill -9 -- "-$pid" || true; else kill -9 "$pid" || true; fi
    fi
  fi
  rm -f "$f"
}

cmd_stop() {
  # a snakemake run cut off by the overall timeout (it runs in its own process group)
  stop_pidfile "$RUN/snakemake.pid" "bounded snakemake run" 40 1
  # jobs still running would keep slurmstepd alive; cancel ours first (only if slurmctld answers)
  if pid_alive "$RUN/slurmctld.pid"; then scancel --user=root >/dev/null 2>&1 || true; sleep 1; fi
  stop_pidfile "$RUN/slurmd.pid" slurmd
  stop_pidfile "$RUN/slurmctld.pid" slurmctld
  stop_pidfile "$RUN/slurmdbd.pid" slurmdbd
  stop_pidfile "$RUN/mysqld.pid" mariadbd
  stop_pidfile "$RUN/munged.pid" munged
  if [[ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" == "$ETC/slurm.conf" ]]; then rm -f /etc/slurm/slurm.conf; fi
}

# run_bounded LOGFILE CMD...: CMD under `timeout -k 30 $RUN_TIMEOUT` (a hung status poller cannot hang CI;
# snakemake may ignore SIGTERM, hence -k), its PID on file so that `stop` ends it too if the whole run is cut off.
run_bounded() {
  local logfile=$1 pid rc=0
  shift
  timeout -k 30 "$RUN_TIMEOUT" "$@" >"$logfile" 2>&1 &
  pid=$!
  echo "$pid" >"$RUN/snakemake.pid"
  wait "$pid" || rc=$?
  rm -f "$RUN/snakemake.pid"
  return "$rc"
}

# start_driver LOGFILE CMD...: CMD in the background as a user's snakemake, with SIGINT at its default (a script's
# background job ignores it: docs/slurm.md), so that Ctrl-C can be sent to it; its PID in $DRIVER.
start_driver() {
  local logfile=$1
  shift
  "$PYTHON" -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])' \
    "$@" >"$logfile" 2>&1 &
  DRIVER=$!
  echo "$DRIVER" >"$RUN/snakemake.pid"
}

# wait_driver SECONDS: the driver's exit status; 124 (after killing it) when it outlives SECONDS.
wait_driver() {
  local deadline=$((SECONDS + $1)) rc=0
  while kill -0 "$DRIVER" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      kill -9 "$DRIVER" 2>/dev/null || true
      wait "$DRIVER" 2>/dev/null || true
      return 124
    fi
    sleep 1
  done
  wait "$DRIVER" || rc=$?
  rm -f "$RUN/snakemake.pid"
  return "$rc"
}

# running_finetune LOG: the SLURM job ID of a running finetune job once its script has started (its log LOG has
# an attempt header); fails when the driver ends or RUN_TIMEOUT passes first.
running_finetune() {
  local deadline=$((SECONDS + RUN_TIMEOUT)) id
  while ((SECONDS < deadline)) && kill -0 "$DRIVER" 2>/dev/null; do
    id=$(squeue --me -h -t RUNNING -o '%i|%k' | awk -F'|' '$2 ~ /^rule_finetune/ {print $1; exit}')
    if [[ -n $id ]] && grep -q "===== attempt" "$1" 2>/dev/null; then
      echo "$id"
      return 0
    fi
    sleep 1
  done
  return 1
}

# --- checks -------------------------------------------------------------------------------------------------

# The plugin names every job of one snakemake invocation after its run UUID ("SLURM run ID: <uuid>").
run_uuid_of() { grep -oE 'SLURM run ID: [0-9a-f-]{36}' "$1" | head -1 | awk '{print $4}'; }

# check_sacct LOGFILE MIN_JOBS [RULE_THAT_MUST_HAVE_A_GPU ...]
check_sacct() {
  local logfile=$1 min_jobs=$2 uuid out n bad submitted r
  shift 2
  uuid=$(run_uuid_of "$logfile")
  [[ -n $uuid ]] || die "no 'SLURM run ID' in $logfile: did snakemake use the slurm executor?"
  submitted=$(grep -c 'has been submitted with SLURM jobid' "$logfile" || true)
  # slurmdbd may lag a moment behind the controller
  for _ in $(seq 20); do
    out=$(sacct -X -n -P --name="$uuid" -S now-1days -o JobID,State,ExitCode,AllocTRES,Comment)
    n=$(grep -c . <<<"$out" || true)
    bad=$(awk -F'|' '$2 != "COMPLETED"' <<<"$out")
    [[ $n -ge $submitted && -z $bad ]] && break
    sleep 1
  done
  log "sacct for run $uuid: $n jobs (snakemake submitted $submitted)"
  sacct -X --name="$uuid" -S now-1days -o JobID,State,ExitCode,Elapsed,AllocTRES%45,Comment%70 >&2
  [[ $n -ge $min_jobs ]] || die "sacct lists $n SLURM jobs for run $uuid, expected at least $min_jobs"
  [[ $n -ge $submitted ]] || die "sacct lists $n jobs but snakemake submitted $submitted"
  [[ -z $bad ]] || die "jobs not COMPLETED:"$'\n'"$bad"
  for r in "$@"; do
    grep -E "rule_${r}_" <<<"$out" | grep -q 'gres/gpu' ||
      die "no sacct job of rule $r holds a GPU (AllocTRES lacks gres/gpu)"
  done
}

# ci_profile DIR: overrides on top of slurm_profile (later --profile replaces whole top-level keys only,
# so the main profile's set-resources/groups stay in force).
ci_profile() {
  mkdir -p "$1"
  cat >"$1/config.yaml" <<EOF
jobs: 4
# bounds the CPUs of one group job (Snakemake layers the bundled prepare_* jobs to fit): the node has $(nproc)
cores: $(nproc)
retries: 0
latency-wait: 5
keep-going: false
slurm-init-seconds-before-status-checks: 2
slurm-keep-successful-logs: true
default-resources:
  slurm_partition: $PARTITION
  slurm_account: $ACCOUNT
  runtime: 15
  mem_mb: 1500
  attempt: "attempt"  # the rule scripts keep one log per attempt (fairforget.workflow.logs)
EOF
}

cmd_selftest() {
  local wd=$STATE/selftest rc=0
  rm -rf "$wd" && mkdir -p "$wd"
  ci_profile "$STATE/profile-ci"
  echo "{}" >"$wd/empty.yaml" # replaces the profile's config/paper.yaml
  # The project's rule names, so the real profile's set-resources (GPU request, partitions, attempt-scaled
  # memory/runtime, groups) are what gets submitted.
  cat >"$wd/Snakefile" <<'EOF'
rule all:
    input:
        "out/analysis.txt",


rule prepare_general:
    output:
        "out/data/general.txt",
    shell:
        "echo $SLURM_JOB_ID > {output}"


rule prepare_probes:
    output:
        "out/data/probes.txt",
    shell:
        "echo $SLURM_JOB_ID > {output}"


rule build_base_model:
    input:
        "out/data/general.txt",
    output:
        "out/base/{model}.txt",
    shell:
        "echo $SLURM_JOB_ID > {output}"


rule finetune:
    input:
        "out/base/{model}.txt",
        "out/data/probes.txt",
    output:
        "out/ft/{model}.txt",
    shell:
        # a GPU job must see the GPU SLURM bound to it (the fake GRES sets CUDA_VISIBLE_DEVICES like a real one)
        "test -n \"$CUDA_VISIBLE_DEVICES\" && echo $SLURM_JOB_ID gpus=$CUDA_VISIBLE_DEVICES > {output}"


rule aggregate_table:
    input:
        expand("out/ft/{model}.txt", model=["bert-tiny", "llama-tiny"]),
    output:
        "out/table.txt",
    shell:
        "cat {input} > {output}"


rule findings:
    input:
        "out/table.txt",
    output:
        "out/analysis.txt",
    shell:
        "cat {input} > {output}"
EOF
  log "selftest: trivial workflow through slurm_profile"
  cd "$wd"
  run_bounded "$wd/snakemake.log" "$PYTHON" -m snakemake --profile "$REPO/slurm_profile" \
    --profile "$STATE/profile-ci" --configfile empty.yaml || rc=$?
  cd "$REPO"
  tail -n 15 "$wd/snakemake.log" >&2
  [[ $rc -eq 0 ]] || die "selftest snakemake exited $rc (124/137 = timeout), log: $wd/snakemake.log"
  # 2 finetune (GPU) + 2 base models + 1 prep group + 1 analysis group = 6 SLURM jobs
  check_sacct "$wd/snakemake.log" 6 finetune
  log "selftest OK"
}

# workflow_configs: the config files of the CI's micro study (in $CFG)
workflow_configs() {
  [[ -f $REPO/$CI_CONFIG ]] || die "$CI_CONFIG does not exist (the micro config is written by the lead)"
  CFG=("$CI_CONFIG")
  [[ -f $REPO/config/slurm_ci.yaml ]] && CFG+=(config/slurm_ci.yaml)
  ci_profile "$STATE/profile-ci"
}

cmd_workflow() {
  local base=$STATE/workflow rc=0 d f
  workflow_configs
  rm -rf "$base" && mkdir -p "$base"
  cd "$REPO"
  # Two separate result trees (and stores: a shared store would turn the second run into cache hits).
  # --nolock: the trees are private to this script, and a killed earlier run must not leave a stale lock.
  log "workflow: ${CFG[*]} through SLURM"
  run_bounded "$base/slurm.log" "$PYTHON" -m snakemake --profile slurm_profile --profile "$STATE/profile-ci" \
    --nolock --configfile "${CFG[@]}" --config results_dir="$base/slurm" store_dir="$base/slurm/store" || rc=$?
  tail -n 20 "$base/slurm.log" >&2
  [[ $rc -eq 0 ]] || die "SLURM run exited $rc (124/137 = timeout), log: $base/slurm.log"
  check_sacct "$base/slurm.log" 3 finetune
  cmd_recovery
  log "workflow: ${CFG[*]} locally (--cores 2), up to the checkpoints"
  rc=0
  # --until finetune: the comparison needs the checkpoints only; the SLURM run above did the whole workflow
  run_bounded "$base/local.log" "$PYTHON" -m snakemake --cores 2 --nolock --until finetune --configfile "${CFG[@]}" \
    --config results_dir="$base/local" store_dir="$base/local/store" || rc=$?
  [[ $rc -eq 0 ]] || { tail -n 20 "$base/local.log" >&2; die "local run exited $rc, log: $base/local.log"; }
  # Same checkpoints bit for bit: every base and fine-tuned sidecar, same set of paths, same content.
  for d in slurm local; do
    (cd "$base/$d" && find models -name '*.sha256' | sort | while read -r f; do echo "$f $(cat "$f")"; done) \
      >"$base/$d.hashes"
  done
  [[ -s $base/slurm.hashes ]] || die "the SLURM run produced no models/**/*.sha256"
  grep -q '^models/finetuned/' "$base/slurm.hashes" || die "no fine-tuned checkpoint sidecar in the SLURM run"
  diff "$base/slurm.hashes" "$base/local.hashes" >&2 || die "checkpoint hashes differ between SLURM and local runs"
  log "workflow OK: $(wc -l <"$base/slurm.hashes") checkpoint hashes identical (SLURM vs local)"
}

# The documented recovery (docs/slurm.md: rerun the same command), on the finished SLURM run of `workflow`, after
# it lost products (the findings and one fine-tuned checkpoint with its sidecar), after Ctrl-C while that
# checkpoint's finetune job runs, and after `scancel` of the rerun's running finetune job (issue 29: the pre-flight
# once raised KeyError on the finished, grouped jobs). The checkpoint must come back bit-identical (here: to its
# hash before it was deleted; in `workflow` also to the local run's).
cmd_recovery() {
  local base=$STATE/workflow rc=0 f job hash run_log started
  [[ ${#CFG[@]} -gt 0 ]] || workflow_configs
  cd "$REPO"
  f=$(cd "$base/slurm" 2>/dev/null && find models/finetuned -name '*.sha256' | sort | head -n 1)
  [[ -n $f ]] || die "no finished SLURM run with models/finetuned/**/*.sha256 under $base/slurm (run 'workflow')"
  hash=$(cat "$base/slurm/$f")
  run_log=$base/slurm/logs/finetune/${f#models/finetuned/}
  run_log=${run_log%.sha256}.log
  rm -rf "$base/slurm/findings.md" "$base/slurm/${f%.sha256}" "$base/slurm/$f"
  local command=("$PYTHON" -m snakemake --profile slurm_profile --profile "$STATE/profile-ci" --nolock
    --configfile "${CFG[@]}" --config results_dir="$base/slurm" store_dir="$base/slurm/store")
  log "recovery: the same command again after deleting findings.md and $f; Ctrl-C while its finetune job runs"
  rm -f "$run_log" # running_finetune waits for this run's job to write it
  start_driver "$base/interrupted.log" "${command[@]}"
  job=$(running_finetune "$run_log") || { tail -n 20 "$base/interrupted.log" >&2; die "no finetune job ran"; }
  started=$SECONDS
  kill -INT "$DRIVER"
  rc=0 && wait_driver 180 || rc=$?
  tail -n 8 "$base/interrupted.log" >&2
  [[ $rc -ne 124 ]] || die "snakemake did not stop within 180 s of Ctrl-C, log: $base/interrupted.log"
  [[ -z $(squeue -h -j "$job" -t PENDING,RUNNING 2>/dev/null) ]] || die "Ctrl-C left SLURM job $job running"
  log "recovery: Ctrl-C stopped snakemake (exit $rc) $((SECONDS - started)) s after the signal and cancelled finetune job $job"
  # rule finetune has its own `retries: 2` (the CI profile's `retries: 0` is for the other rules)
  log "recovery: the same command again; scancel of its running finetune job"
  started=$SECONDS
  rm -f "$run_log"
  start_driver "$base/rerun.log" "${command[@]}"
  job=$(running_finetune "$run_log") || { tail -n 20 "$base/rerun.log" >&2; die "no finetune job ran"; }
  scancel "$job"
  rc=0 && wait_driver "$RUN_TIMEOUT" || rc=$?
  tail -n 20 "$base/rerun.log" >&2
  [[ $rc -eq 0 ]] || die "the rerun after Ctrl-C and scancel exited $rc, log: $base/rerun.log"
  [[ -f $base/slurm/findings.md && -f $base/slurm/$f ]] || die "the rerun did not rebuild findings.md and $f"
  grep -q "will run again" "$base/rerun.log" || die "the rerun did not say why the checkpoint is rebuilt"
  grep -q "Trying to restart job" "$base/rerun.log" || die "the cancelled finetune job $job was not retried"
  [[ $(cat "$base/slurm/$f") == "$hash" ]] || die "the rebuilt $f differs from the one deleted"
  log "recovery OK: the rerun rebuilt findings.md and $f (same hash) in $((SECONDS - started)) s, retrying finetune job $job after scancel"
}

cmd_all() {
  local rc=0 t0=$SECONDS
  # the whole run is bounded; the daemons are stopped afterwards even if it timed out or failed
  timeout -k 30 "$CI_TIMEOUT" "$0" _inner || rc=$?
  cmd_stop
  log "all: exit $rc after $((SECONDS - t0)) s"
  return "$rc"
}

main() {
  case "${1:-all}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    selftest) cmd_selftest ;;
    workflow) cmd_workflow ;;
    recovery) cmd_recovery ;;
    env) echo "export SLURM_CONF=$SLURM_CONF ${PROFILE_ENV[*]}" ;;
    profile) ci_profile "${2:?usage: $0 profile DIR}" ;;
    check) shift && check_sacct "$@" ;;
    # the selftest asks for GPUs as --gres, the micro workflow as --gpus: both request styles meet real SLURM
    _inner) cmd_start && (export FAIRFORGET_SLURM_GPU_FLAG=gres && cmd_selftest) &&
      (export FAIRFORGET_SLURM_GPU_FLAG=gpus && cmd_workflow) ;;
    all) cmd_all ;;
    *) echo "usage: $0 {all|start|selftest|workflow|recovery|stop|env|profile DIR|check LOG N [RULE...]}" >&2; exit 2 ;;
  esac
}

# one line, read whole before it runs: editing this file during a run cannot feed bash half a command
main "$@"; exit $?
