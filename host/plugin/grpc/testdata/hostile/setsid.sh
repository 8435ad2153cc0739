#!/bin/sh
# setsid.sh PLUGIN ARGS...: runs the plugin with a child that left its
# process group (a session of its own) and keeps its pipes open.
setsid sleep 1000 &
exec "$@"
