#!/bin/sh
# startonce.sh MARKER PLUGIN ARGS...: runs the plugin the first time, and
# fails to start every later time (MARKER exists).
marker=$1
shift
if [ -e "$marker" ]; then
	echo "startonce: broken for good" >&2
	exit 1
fi
: > "$marker"
exec "$@"
