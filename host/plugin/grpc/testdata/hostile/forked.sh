#!/bin/sh
# forked.sh PLUGIN ARGS...: runs the plugin beside a process that holds
# 96 MiB (touched) and then forks 3 workers sharing it, as a plugin with a
# pre-fork worker pool does: 4 x 96 MiB of resident memory, 96 MiB of memory
# in fact (copy-on-write).
python3 -c '
import os, time
b = bytearray(96 << 20)
for i in range(0, len(b), 4096):
    b[i] = 1
for _ in range(3):
    if os.fork() == 0:
        break
print("forked", flush=True)
time.sleep(30)
' >&2 &
exec "$@"
