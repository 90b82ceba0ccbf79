#!/bin/sh
# `bazel test` runs the labs' reference tests side by side on one machine,
# and their leak checks compare snapshots of /dev/shm and /dev/mqueue: one
# lab's objects would be seen as another's leak. Each runs here with an IPC
# namespace, a /dev/shm and a /dev/mqueue of its own, as every test does
# when the grader runs it (grader/grading/sandbox.py).
set -eu
exec bwrap --dev-bind / / --unshare-ipc --tmpfs /dev/shm --mqueue /dev/mqueue --die-with-parent -- "$@"
