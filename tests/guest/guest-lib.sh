# shellcheck shell=sh
# Shell functions for the Linux guest inside the test bed (busybox sh):
# the test-bed kernel booted as a 2-vCPU KVM guest by the patched QEMU, with
# tests/guest/guest-init.c as its whole userspace, in one of the
# configurations of make bench-guest, its vCPUs pinned 1:1 as operators pin.
# Sourced, after qemu-lib.sh, by tests/guest/bench-guest.sh and
# tests/guest/testbed-guest; both set $work, a directory for logs and FIFOs.

GUEST_DIR=/opt/kvm-gang/bin/guest

# The configurations (docs/guest-benchmark.md says what each is for) and
# the workloads of guest-init.c, in its order.
GUEST_CONFIGS="a b c d e"
GUEST_WORKLOADS="hackbench mmap futex flock"

# guest_config CONFIG: $guest_accel, $guest_cpu and $guest_scx (1: load
# scx_gang for the run) of configuration a, b, c, d or e.
guest_config() {
	case "$1" in
	a) guest_accel=kvm guest_cpu=host guest_scx=0 ;;
	b) guest_accel=kvm guest_cpu=host,kvm-hint-dedicated=on guest_scx=0 ;;
	c) guest_accel=kvm,gang=strict guest_cpu=host,kvm-hint-dedicated=on guest_scx=1 ;;
	d) guest_accel=kvm,gang=relaxed guest_cpu=host guest_scx=1 ;;
	e) guest_accel=kvm,gang=strict guest_cpu=host guest_scx=1 ;;
	*) echo "guest-lib: unknown configuration '$1'" >&2; return 1 ;;
	esac
}

# guest_start N CONFIG MS: boot guest N in CONFIG, MS ms per workload; its
# serial output goes to $work/guestN.log, its input comes from the FIFO
# $work/conN.in; vCPU i pinned to host CPU i.  Sets guest_pidN.
guest_start() {
	guest_config "$2" || return 1
	rm -f "$work/con$1.in" "$work/con$1.out"
	mkfifo "$work/con$1.in" "$work/con$1.out"
	qemu_start_with_qmp "$work/qmp$1" "$QEMU" -accel "$guest_accel" -cpu "$guest_cpu" \
		-smp 2 -m 256 -nodefaults -no-reboot -display none \
		-device isa-debug-exit,iobase=0xf4,iosize=4 \
		-chardev pipe,id=con,path="$work/con$1" -serial chardev:con \
		-kernel "$GUEST_DIR/bzImage" -initrd "$GUEST_DIR/initramfs.cpio" \
		-append "console=ttyS0 panic=-1 gangbench.ms=$3"
	eval "guest_pid$1=\$qemu_pid"
	# QEMU holds both FIFOs open read-write: cat ends when QEMU does.
	cat "$work/con$1.out" >"$work/guest$1.log" &
	qemu_pin_vcpus "$work/qmp$1"
}

# guest_log N: guest N's serial output so far, without the CRs
guest_log() {
	tr -d '\r' <"$work/guest$1.log"
}

# guests_ready COUNT LIMIT: wait up to LIMIT s until guests 1..COUNT have
# all booted and wait for "go"; fails if one is not ready in time.
guests_ready() {
	tenths=$(($2 * 10))
	n=1
	while [ "$n" -le "$1" ]; do
		if guest_log "$n" | grep -qx 'GUEST ready'; then
			n=$((n + 1))
		elif [ "$tenths" -le 0 ]; then
			return 1
		else
			sleep 0.1
			tenths=$((tenths - 1))
		fi
	done
}

# guests_go COUNT: send guests 1..COUNT "go", one after the other.
guests_go() {
	n=1
	while [ "$n" -le "$1" ]; do
		timeout 10 sh -c "echo go >'$work/con$n.in'" || return 1
		n=$((n + 1))
	done
}

# guest_wait N LIMIT: wait up to LIMIT s for guest N's QEMU to exit; its
# exit status (0 after the guest's ACPI power-off), 124 when killed.
guest_wait() {
	eval "qemu_pid=\$guest_pid$1"
	qemu_wait "$2"
}

# guest_ops N WORKLOAD: guest N's operations per second in WORKLOAD, else
# nothing
guest_ops() {
	guest_log "$1" | sed -n "s/^GUEST result workload=$2 ops=[0-9]* ms=[0-9]* ops_per_s=\([0-9]*\) .*/\1/p"
}
