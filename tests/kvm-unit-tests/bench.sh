#!/bin/sh
# The lock-holder-preemption benchmark, inside the test bed (2 CPUs): every
# figure pair is measured in this one boot, gang on against gang off.
#
# usage: bench.sh [MS]   (measurement time per run, default 3000 ms)
#
# - spinlock: 1, 2 or 3 VMs of 2 vCPUs run gang_spinlock at once on the
#   test bed's 2 CPUs (overcommit 1:1, 2:1, 3:1), with gang=on, gang off,
#   and gang off with halt-after-spin (pv=1, what paravirtual spinlocks do);
#   acquisitions per second summed over the VMs, worst wait over all CPUs.
# - skew: gang_skew with a hog on vCPU 0's CPU, gang on and off.
# - idle cost: gang_ipi and gang_rendezvous, nothing preempted, on and off.
# Prints "DATA kind key=value..." lines that scripts/bench turns into the
# table and the plot.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../qemu-lib.sh"
ms=${1:-3000}
work=/tmp/bench
mkdir -p "$work"
kut=$here/x86

# vm N ACCEL ARGS: start VM number N running gang_spinlock in the background
vm() {
	"$QEMU" -accel "$2" -smp 2 -m 64 -nodefaults -no-reboot -display none \
		-device isa-debug-exit,iobase=0xf4,iosize=4 -serial file:"$work/vm$1.log" \
		-kernel "$kut/gang_spinlock.elf" -append "$3" </dev/null &
	eval "vm_pid$1=$!"
}

# field NAME FILE: the value of NAME=... in the guest's BENCH line
field() {
	sed -n "s/.*BENCH .* $1=\([0-9]*\).*/\1/p" "$2"
}

for vms in 1 2 3; do
	for mode in on off pv; do
		# A long warm-up: the VMs boot one after the other, and their
		# measurement windows should overlap as much as possible.
		accel=kvm args="cpus=2 ms=$ms warmup_ms=2000"
		case "$mode" in
		on) accel=kvm,gang=on ;;
		pv) args="$args pv=1" ;;
		esac
		n=1
		while [ "$n" -le "$vms" ]; do
			vm "$n" "$accel" "$args"
			n=$((n + 1))
		done
		total=0 worst=0 ok=1 n=1
		while [ "$n" -le "$vms" ]; do
			eval "qemu_pid=\$vm_pid$n"
			# Bounded: a guest that crashes leaves QEMU paused, not exited.
			qemu_wait 300
			[ $? -eq 1 ] || ok=0
			acq=$(field acq_per_s "$work/vm$n.log")
			wait_us=$(field worst_wait_us "$work/vm$n.log")
			total=$((total + ${acq:-0}))
			[ "${wait_us:-0}" -gt "$worst" ] && worst=$wait_us
			n=$((n + 1))
		done
		echo "DATA spinlock overcommit=$vms mode=$mode acq_per_s=$total worst_wait_us=$worst passed=$ok"
	done
done

for mode in on off; do
	accel=kvm
	[ "$mode" = on ] && accel=kvm,gang=on
	qemu_start_with_qmp "$work/qmp" "$QEMU" -accel "$accel" -smp 2 -m 64 -nodefaults \
		-no-reboot -display none -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-serial file:"$work/skew.log" -kernel "$kut/gang_skew.elf" \
		-append "cpus=2 ms=$ms warmup_ms=1000"
	qemu_pin_vcpus "$work/qmp"
	hog_start 0
	qemu_wait 300
	ok=$(( $? == 1 ))
	hog_stop
	echo "DATA skew mode=$mode max_skew_us=$(field max_skew_us "$work/skew.log") long_stall_us=$(field long_stall_us "$work/skew.log") passed=$ok"

	for test in ipi rendezvous; do
		timeout 300 "$QEMU" -accel "$accel" -smp 2 -m 64 -nodefaults -no-reboot -display none \
			-device isa-debug-exit,iobase=0xf4,iosize=4 -serial stdio \
			-kernel "$kut/gang_$test.elf" -append "cpus=2 n=2000" </dev/null >"$work/$test.log" 2>&1
		ok=$(( $? == 1 ))
		echo "DATA $test mode=$mode mean_ns=$(field mean_ns "$work/$test.log") worst_us=$(field worst_us "$work/$test.log") passed=$ok"
	done
done
