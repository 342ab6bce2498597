#!/bin/sh
echo "hello-node/runtime.sh: ${BERTH_SERVICE:-hello-node} will listen on port ${PORT:-8080}"
