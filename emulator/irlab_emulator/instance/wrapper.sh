#!/bin/bash
# Runs one Run Command script inside the instance's sandbox (ssm_instance.py).
# The processes recorded in the instance's state are started again first (as
# real processes with the same command lines, see bin/_irlab_spawn), so ps, pgrep and /proc see them;
# afterwards every process still running is recorded for the next command.
# The script is killed (its process group, not the daemons it started with
# setsid) after IRLAB_TIMEOUT seconds, as the SSM Agent ends a script at its
# executionTimeout. Exits with the script's exit code (137 when killed).
state=/var/lib/irlab/processes
mkdir -p /var/lib/irlab
touch "$state"
while IFS= read -r args; do
    [ -n "$args" ] || continue
    /run/irlab/bin/_irlab_spawn "$args"
done < "$state"
cd "${IRLAB_WORKDIR:-/root}" 2>/dev/null || cd /
timeout -s KILL "${IRLAB_TIMEOUT:-3600}" bash /run/irlab/script.sh
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
