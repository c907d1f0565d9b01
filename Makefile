# kvm-gang: the front door.  `make help` lists what each target does.

SHELL := /bin/bash

FLAVOUR ?= cloud-amd64
PREFIX ?= /opt/kvm-gang

.PHONY: help setup kernel kernel-debug kernel-vanilla kvm-modules deb qemu libvirt install uninstall testbed model bench bench-guest demo demo-scx check check-full clean

help:
	@echo "make demo           install, build, boot the TCG test bed: a 4-vCPU VM with the gang on and its stats, then two gang VMs on 2 CPUs without and with scx_gang"
	@echo "make demo-scx       only the second part of make demo: two gang VMs on 2 CPUs without and with scx_gang"
	@echo "make check          install, build and run every test; ends with 'N passed, N failed'"
	@echo "make check-full     make check and the slowest proofs: the modules without the gang for every Debian flavour against Debian's stock ones"
	@echo "make setup          install the Debian packages the project needs (root)"
	@echo "make kernel         build the patched kernel and its UAPI headers in build/kernel"
	@echo "make kernel-debug   same with lockdep (and its PREEMPT_RT lock-nesting check), atomic-sleep checks, kmemleak, lockup detectors, in build/kernel-debug"
	@echo "make kernel-vanilla the unpatched kernel from the same source, in build/kernel-vanilla"
	@echo "make kvm-modules    patched kvm.ko, kvm-amd.ko, kvm-intel.ko for Debian 12's own 6.12 kernel [FLAVOUR=amd64|cloud-amd64|rt-amd64] [RELEASE=\$$(uname -r)] in build/kvm-modules/RELEASE (docs/deploy.md)"
	@echo "make deb            the DKMS package of those modules, build/deb/kvm-gang-dkms_VERSION_all.deb: rebuilt for each installed Debian 6.12 kernel (docs/deploy.md)"
	@echo "make qemu           build Debian's QEMU 7.2 with qemu-patches/ (-accel kvm,gang=on) into build/bin/qemu-system-x86_64"
	@echo "make libvirt        build Debian's libvirt 9.0 with libvirt-patches/ into build/libvirt (sbin/libvirtd, bin/virsh), and gangctl (libvirt-hooks/) into build/libvirt-hooks"
	@echo "make install        the patched QEMU and libvirt (socket-activated systemd units), virsh, scx_gang and its unit, gangctl and the hook under [PREFIX=/opt/kvm-gang], beside Debian's packages (docs/deploy.md)"
	@echo "make uninstall      remove it again [PREFIX=...]; configuration and domains under PREFIX/etc and PREFIX/var stay unless [PURGE=1]"
	@echo "make testbed        build the selftests, gang_demo, scx_gang, guest tests and QEMU into build/vm-bin for scripts/vm-run"
	@echo "make bench          run the spinlock/skew/IPI benchmark in the test bed, print the table, plot docs/bench/spinlock.png"
	@echo "make bench-guest    Linux guests' lock-heavy workloads at 1:1, 2:1 and 3:1, gang off/on, pv/native spinlocks: the matrix, build/bench-guest/matrix.csv, docs/bench/guest.png; crashes the TCG test bed today (docs/guest-benchmark.md)"
	@echo "make model          check the SPIN model of the strict protocol (and that its mutants fail)"
	@echo "make clean          remove build/ (caches in /var/cache/kvm-gang stay)"

setup:
	scripts/setup-host

kernel: setup
	scripts/kernel-build

kernel-debug: setup
	scripts/kernel-build --debug

kernel-vanilla: setup
	scripts/kernel-build --vanilla

kvm-modules: setup
	scripts/kvm-modules $(if $(RELEASE),--release $(RELEASE)) $(FLAVOUR)

deb: setup
	scripts/kvm-gang-deb

# The kernel's UAPI header is checked against QEMU's copy of KVM_CAP_GANG.
qemu: setup kernel
	scripts/qemu-build

libvirt: setup
	scripts/libvirt-build
	$(MAKE) -C libvirt-hooks

install: qemu
	scripts/install --prefix $(PREFIX) $(if $(DESTDIR),--destdir $(DESTDIR))

uninstall:
	scripts/install --uninstall --prefix $(PREFIX) $(if $(PURGE),--purge)

testbed: qemu
	scripts/testbed-build

bench-guest: testbed
	scripts/bench-guest

model: setup
	scripts/model-check

bench: testbed
	scripts/bench

# The gang alone (KVM's mechanism), then co-scheduling (scx_gang, the policy).
demo: testbed
	scripts/vm-run --smp 4 --timeout 600 -- gang_demo --vcpus 4 --mode strict
	scripts/vm-run --smp 2 --timeout 900 -- scx-demo

demo-scx: testbed
	scripts/vm-run --smp 2 --timeout 900 -- scx-demo

check:
	scripts/check

check-full:
	scripts/check --full

clean:
	rm -rf build
