#!/usr/bin/env bash
# A throw-away single-node Slurm cluster on loopback, for taskrun's tests of
# `--executor slurm` (adapted from the team's slurm-local.sh). As root:
#
#   .ci/slurm.sh install   # Debian's slurmctld, slurmd, slurm-client, munge
#   .ci/slurm.sh start     # munged + slurmctld + slurmd; prints SLURM_CONF
#                          # (SLURM_CPUS=8: the node advertises 8 CPUs)
#   .ci/slurm.sh stop      # cancels jobs, stops the three daemons
#   .ci/slurm.sh status
#
# Or `source .ci/slurm.sh` and call slurm_start / slurm_stop. Clients then
# need `export SLURM_CONF=$SLURM_DIR/slurm.conf`. The node is `localhost`,
# the partition `debug`. Gotchas: no slurmdbd, so no sacct; --time counts
# whole minutes; srun writes its own `srun: ...` lines to stderr.
SLURM_DIR=${SLURM_DIR:-/tmp/taskrun-slurm}
SLURM_CTLD_PORT=${SLURM_CTLD_PORT:-16827}
SLURM_SLURMD_PORT=${SLURM_SLURMD_PORT:-16828}

_log() { printf '[slurm] %s\n' "$*" >&2; }

slurm_install() {
    [ "$(id -u)" = 0 ] || { _log "install needs root"; return 1; }
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq &&
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
}

_have() {
    local b
    for b in munged munge slurmctld slurmd srun scontrol scancel sinfo squeue; do
        PATH=$PATH:/usr/sbin:/sbin command -v "$b" >/dev/null 2>&1 || return 1
    done
}

# The pid in a pid file, if that process is alive and is the named program.
_pid() {
    local pid
    [ -s "$1" ] || return 1
    pid=$(cat "$1" 2>/dev/null) && [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
    case "$(cat "/proc/$pid/comm" 2>/dev/null)" in "$2"*) echo "$pid" ;; *) return 1 ;; esac
}

_stop() { # pidfile comm
    local pid i
    pid=$(_pid "$1" "$2") || return 0
    kill "$pid" 2>/dev/null
    for i in $(seq 50); do [ -d "/proc/$pid" ] || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
}

_conf() {
    local d=$SLURM_DIR hw
    hw=$(slurmd -C | head -1 | sed -e 's/^NodeName=[^ ]* //')
    if [ -n "${SLURM_CPUS:-}" ]; then
        # Advertise SLURM_CPUS CPUs, however many the machine has
        # (config_overrides below lets slurmd accept it): for benchmarks
        # of many tasks at once on a small machine.
        hw="CPUs=$SLURM_CPUS Boards=1 SocketsPerBoard=1 CoresPerSocket=$SLURM_CPUS ThreadsPerCore=1 $(tr ' ' '\n' <<<"$hw" | grep '^RealMemory=')"
    fi
    cat > "$d/slurm.conf" <<CONF
ClusterName=taskruntest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$SLURM_CTLD_PORT
SlurmdPort=$SLURM_SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge-run/munge.sock
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
EnforcePartLimits=ALL
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=300
SlurmdParameters=config_overrides
NodeName=localhost NodeAddr=127.0.0.1 $hw State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
}

_munge() {
    local d=$SLURM_DIR i
    mkdir -p "$d/munge" "$d/munge-run"
    chown munge:munge "$d/munge" "$d/munge-run"
    chmod 0700 "$d/munge"; chmod 0755 "$d/munge-run"
    dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 status=none
    chown munge:munge "$d/munge/munge.key"; chmod 0400 "$d/munge/munge.key"
    runuser -u munge -- munged --key-file="$d/munge/munge.key" \
        --socket="$d/munge-run/munge.sock" --pid-file="$d/munge-run/munged.pid" \
        --log-file="$d/munge/munged.log" --seed-file="$d/munge/munged.seed" ||
        { _log "munged failed"; return 1; }
    for i in $(seq 50); do
        munge -S "$d/munge-run/munge.sock" -n 2>/dev/null |
            unmunge -S "$d/munge-run/munge.sock" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    _log "munge round trip failed"; return 1
}

slurm_start() {
    local d=$SLURM_DIR i st=""
    export PATH=$PATH:/usr/sbin:/sbin
    [ "$(id -u)" = 0 ] || { _log "start needs root"; return 1; }
    _have || { _log "Slurm is not installed: run '$0 install'"; return 1; }
    if _pid "$d/slurmctld.pid" slurmctld >/dev/null; then
        _log "already running in $d"; echo "export SLURM_CONF=$d/slurm.conf"; return 0
    fi
    rm -rf "$d"; mkdir -p "$d/state" "$d/spool" "$d/log"
    _munge || return 1
    _conf
    export SLURM_CONF=$d/slurm.conf
    slurmctld -f "$SLURM_CONF" || { tail -20 "$d/log/slurmctld.log" >&2; return 1; }
    for i in $(seq 100); do scontrol ping 2>/dev/null | grep -q 'is UP' && break; sleep 0.1; done
    slurmd -f "$SLURM_CONF" -N localhost || { tail -20 "$d/log/slurmd.log" >&2; return 1; }
    for i in $(seq 200); do
        st=$(sinfo -h -n localhost -o %T 2>/dev/null) || true
        [ "$st" = idle ] && break
        sleep 0.1
    done
    [ "$st" = idle ] || { _log "node is '$st', not idle"; tail -20 "$d/log/slurmd.log" >&2; return 1; }
    echo "export SLURM_CONF=$SLURM_CONF"
}

slurm_stop() {
    local d=$SLURM_DIR ids i
    export PATH=$PATH:/usr/sbin:/sbin SLURM_CONF=$d/slurm.conf
    if _pid "$d/slurmctld.pid" slurmctld >/dev/null; then
        ids=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ') || true
        if [ -n "${ids// /}" ]; then
            # shellcheck disable=SC2086
            scancel $ids 2>/dev/null
            for i in $(seq 100); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.1; done
        fi
    fi
    _stop "$d/slurmd.pid" slurmd
    _stop "$d/slurmctld.pid" slurmctld
    _stop "$d/munge-run/munged.pid" munged
}

slurm_status() {
    local d=$SLURM_DIR p pid
    for p in "munged:$d/munge-run/munged.pid" "slurmctld:$d/slurmctld.pid" "slurmd:$d/slurmd.pid"; do
        if pid=$(_pid "${p#*:}" "${p%%:*}"); then echo "${p%%:*}: running, pid $pid"; else echo "${p%%:*}: not running"; fi
    done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    case "${1:-}" in
        install) slurm_install ;;
        start) slurm_start ;;
        stop) slurm_stop ;;
        status) slurm_status ;;
        *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
    esac
fi
