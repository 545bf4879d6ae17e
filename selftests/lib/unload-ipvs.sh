#!/bin/sh
# Unloads in-tree ip_vs: first the scheduler modules that services autoloaded, then ip_vs itself.
for m in $(awk '/^ip_vs_/ { print $1 }' /proc/modules); do
	rmmod "$m" || exit 1
done
exec rmmod ip_vs
