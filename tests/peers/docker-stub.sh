#!/bin/sh
# A stand-in for the docker CLI, so `devcontainer read-configuration` (tests/peers.rs) runs
# without a Docker engine. read-configuration only asks `docker ps` whether a container for the
# workspace already exists: answer "none". Anything else is a use this stub was not written
# for, so it fails loudly instead of pretending.
case "$1" in
  ps) exit 0 ;;
  version | --version) echo "Docker version 0.0.0-agentbox-stub"; exit 0 ;;
  *) echo "docker-stub.sh: unexpected docker call: $*" >&2; exit 1 ;;
esac
