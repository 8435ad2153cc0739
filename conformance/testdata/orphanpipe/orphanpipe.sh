#!/bin/sh
# orphanpipe is a broken gRPC plugin of the conformance gallery, a shell
# script so that the gallery is not Go-only: it starts a child in a session
# (and process group) of its own, which keeps the plugin's stdout and stderr
# open, and then becomes the plugin its arguments name (the Python example,
# in the kit's tests):
#
#	grpc:/bin/sh orphanpipe.sh /usr/bin/python3 keyword_values.py
#
# A host that waits for the end of a plugin's output (go-plugin does) used
# to hang at close, and a host that kills the plugin's process group leaves
# the child running. It fails the shutdown check.
setsid sleep 30 &
exec "$@"
