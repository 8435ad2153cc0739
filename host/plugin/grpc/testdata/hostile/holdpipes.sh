#!/bin/sh
# holdpipes.sh PLUGIN ARGS...: runs the plugin with a child that keeps the
# plugin's stdout and stderr open (inherited) long after the plugin ended.
sleep 1000 &
exec "$@"
