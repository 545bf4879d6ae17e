#!/bin/sh
# Unloads in-tree ip_vs: first the scheduler modules that services autoloaded, then ip_vs itself.
# A scheduler module stays in use while a service has it, so the services of every namespace go
# first (rvs unloads with services in place).
ipvsadm -C 2>/dev/null
for ns in $(ip netns list | awk '{ print $1 }'); do
	ip netns exec "$ns" ipvsadm -C 2>/dev/null
done
for m in $(awk '/^ip_vs_/ { print $1 }' /proc/modules); do
	rmmod "$m" || exit 1
done
exec rmmod ip_vs
