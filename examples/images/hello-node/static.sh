#!/bin/sh
# A syntax error should fail the build, not every container start.
node --check /srv/app/server.js
