#!/bin/sh
echo "nodejs/runtime.sh: node $(node --version)"
