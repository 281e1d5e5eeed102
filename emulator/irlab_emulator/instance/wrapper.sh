#!/bin/bash
# Runs one Run Command script inside the instance's sandbox (ssm_instance.py).
# The processes recorded in the instance's state are started again first (as
# real processes with the same command lines, see bin/_irlab_spawn), so ps, pgrep and /proc see them;
# afterwards every process still running is recorded for the next command.
# The script is killed (its process group, not the daemons it started with
# setsid) after IRLAB_TIMEOUT seconds of the instance's clock, as the SSM Agent
# ends a script at its executionTimeout. Exits with the script's exit code (137 when killed).
state=/var/lib/irlab/processes
mkdir -p /var/lib/irlab
touch "$state"
while IFS= read -r args; do
    [ -n "$args" ] || continue
    /run/irlab/bin/_irlab_spawn "$args"
done < "$state"
cd "${IRLAB_WORKDIR:-/root}" 2>/dev/null || cd /
# executionTimeout (IRLAB_TIMEOUT seconds) on the instance's clock: real time while
# the script works, the requested time while it sleeps (bin/sleep sleeps scaled and
# leaves a record in /run/irlab-sleeps), so a script's sleeps pass fast in tests but
# its real work is never given less time than it needs.
rm -rf /run/irlab-sleeps && mkdir -p /run/irlab-sleeps
started=$(date +%s.%N)
setsid bash /run/irlab/script.sh &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
    clock=$(cat /run/irlab-sleeps/* 2>/dev/null | awk -v started="$started" -v now="$(date +%s.%N)" '
        { s = $3; if (s <= 0 || s >= 1) next
          if ($4 == "done") ahead += $2 * (1 - s)
          else { d = now - $1; if (d > $2 * s) d = $2 * s; ahead += d * (1 / s - 1) } }
        END { printf "%.3f", now - started + ahead }')
    if awk -v c="$clock" -v l="${IRLAB_TIMEOUT:-3600}" 'BEGIN { exit !(c >= l) }'; then
        kill -KILL -- "-$pid" 2>/dev/null
        break
    fi
    /usr/bin/sleep 0.1
done
wait "$pid"
rc=$?
cd /
: > "$state.new"
for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    [ "$pid" = 1 ] || [ "$pid" = "$$" ] || [ "$pid" = "$BASHPID" ] && continue
    args=$(tr '\0' ' ' < "$dir/cmdline" 2>/dev/null) || continue
    args=${args% }
    [ -n "$args" ] && printf '%s\n' "$args" >> "$state.new"
done
mv "$state.new" "$state"
exit "$rc"
