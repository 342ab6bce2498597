#!/bin/sh
# No init system in an image: packages must not try to start their daemons at install time.
exit 101
