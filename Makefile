# SPDX-License-Identifier: GPL-2.0
#
# rvs: build the module and the admin tool, run the VM, the demo and the tests.
#
#   make demo                      the main job: boot the VM and show rvs at work
#   make check                     every test: host unit tests, then the selftests in the VM
#   make bench                     NAT throughput, packet and connection rates: rvs vs ip_vs vs plain forwarding
#   make vm CMD='ipvsadm -Ln'      run a command in the VM   [MODULE=rvs|ipvs|none] [KERNEL=release|debug]
#   make module [KDIR=...]         build rvs.ko (default KDIR: the cached release test kernel)
#   make rvsadm                    build target/release/rvsadm
#   make deps | kernel             install dependencies | build the test kernel [KERNEL=debug]
#   make host-test | lint          cargo tests | rustfmt and clippy (module and host crates)

SHELL := /bin/bash
KERNEL ?= release
MODULE ?= rvs
CMD ?= ipvsadm -Ln
KMAKE_VARS = LLVM=-19 RUSTC=/usr/bin/rustc HOSTRUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc \
	BINDGEN=$(HOME)/.cargo/bin/bindgen $(KMAKE_EXTRA)
CARGO ?= $(HOME)/.cargo/bin/cargo

.PHONY: all module rvsadm deps kernel vm demo bench check host-test lint clean

all: module rvsadm

deps:
	@qemu/deps.sh

kernel: deps
	@qemu/kernel.sh $(KERNEL) >/dev/null

# rvs.ko is built in this directory for one kernel at a time: when KDIR changes, the objects of
# the previous kernel (and its generated bindings) are cleaned first.
module:
	@set -e; kdir="$(KDIR)"; [ -n "$$kdir" ] || kdir=$$(qemu/kernel.sh $(KERNEL)); \
	if [ "$$(cat .kdir 2>/dev/null)" != "$$kdir" ]; then \
		$(MAKE) -s -C "$$kdir" M=$(CURDIR) $(KMAKE_VARS) clean >/dev/null; echo "$$kdir" > .kdir; fi; \
	$(MAKE) -C "$$kdir" M=$(CURDIR) $(KMAKE_VARS) modules

rvsadm:
	@cd userspace-tool && $(CARGO) build --release --quiet

# CMD reaches the guest as one argument, untouched by make ($(value)) and by the host's shell
# (single quotes, with embedded ones escaped).
vm:
	@qemu/run-vm.sh --kernel $(KERNEL) --module $(MODULE) -- '$(subst ','\'',$(value CMD))'

demo: deps
	@qemu/run-vm.sh --kernel release --module rvs -- qemu/demo.sh

bench: deps
	@qemu/run-vm.sh --kernel release --module none -- bench/nat.sh

host-test:
	@selftests/lib/host-test.sh

lint:
	@selftests/lib/lint.sh

check: deps
	@selftests/lib/check.sh

clean:
	@kdir=$$(cat .kdir 2>/dev/null); [ -z "$$kdir" ] || $(MAKE) -s -C "$$kdir" M=$(CURDIR) $(KMAKE_VARS) clean
	@rm -f .kdir
	@cd userspace-tool && $(CARGO) clean --quiet
