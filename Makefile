# SPDX-License-Identifier: GPL-2.0
#
# rvs: every target is one call into the xtask crate (`cargo xtask --help`), which owns the host
# side: dependencies, test kernels, rvs.ko, the VM runner, the demo, the tests and the benchmark.
#
#   make demo                      the main job: boot the VM and show rvs at work
#   make check                     every test: host tests, lint, then the selftests in VMs (rvs and ip_vs)
#   make bench [BENCH=nat|scale|director|sync]  rvs vs ip_vs (vs plain forwarding): NAT throughput and
#                                  rates; thousands of services; the director's packet and connection
#                                  rates; connections synced per second
#   make vm CMD='ipvsadm -Ln'      run a command in the VM   [MODULE=rvs|ipvs|none] [KERNEL=release|debug]
#                                   [PEER=1: with a peer VM running ip_vs on its link, for `# peer:` tests]
#   make module [KDIR=...]         build rvs.ko (default: for the cached release test kernel); prints its path
#   make rvsadm                    build target/release/rvsadm
#   make deps | kernel             install dependencies | build the test kernel [KERNEL=debug]
#   make host-test | lint          cargo tests | rustfmt and clippy (module and host crates)
#   make check ARGS='--full'       arguments for check (--full, --repeat N, test names...)

SHELL := /bin/bash
KERNEL ?= release
MODULE ?= rvs
PEER ?=
CMD ?= ipvsadm -Ln
CARGO ?= $(shell command -v cargo || echo $(HOME)/.cargo/bin/cargo)
XTASK = $(CARGO) xtask

.PHONY: all module rvsadm deps kernel vm demo bench check soak host-test lint clean

all: module rvsadm

deps:
	@$(XTASK) deps
kernel:
	@$(XTASK) kernel $(KERNEL)
module:
	@$(XTASK) module $(KERNEL) --kdir "$(KDIR)"
rvsadm:
	@$(CARGO) build --release --quiet --package rvsadm
# CMD reaches the guest as one argument, untouched by make ($(value)) and by the host's shell
# (single quotes, with embedded ones escaped).
vm:
	@$(XTASK) vm --kernel $(KERNEL) --module $(MODULE) $(if $(PEER),--peer) -- '$(subst ','\'',$(value CMD))'
demo:
	@$(XTASK) demo
bench:
	@$(XTASK) bench $(BENCH)
check:
	@$(XTASK) check $(ARGS)
soak:
	@$(XTASK) soak $(ARGS)
host-test:
	@$(XTASK) host-test
lint:
	@$(XTASK) lint
clean:
	@$(CARGO) clean --quiet
