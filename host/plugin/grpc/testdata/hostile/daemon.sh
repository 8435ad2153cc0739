#!/bin/sh
# daemon.sh PLUGIN ARGS...: runs the plugin with a daemon child: forked
# twice, in a session of its own, its parent gone at once (so it is no
# longer the plugin's descendant), holding the plugin's stdout and stderr.
(setsid sleep 1000 &)
exec "$@"
