#!/bin/sh
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends openjdk-17-jre-headless
apt-get clean
rm -rf /var/lib/apt/lists/*
# JAVA_HOME comes from berth.yaml and is architecture-specific: fail the build, not the first start, if it is wrong.
"$JAVA_HOME/bin/java" -version
