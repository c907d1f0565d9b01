#!/bin/sh
# The lock-holder-preemption benchmark, inside the test bed (2 CPUs): every
# figure pair is measured in this one boot, gang on against gang off.
#
# usage: bench.sh [MS]   (measurement time per run, default 3000 ms)
#
# - spinlock: 1, 2 or 3 VMs of 2 vCPUs run gang_spinlock at once on the
#   test bed's 2 CPUs (overcommit 1:1, 2:1, 3:1): gang off, gang off with
#   halt-after-spin (pv=1, what paravirtual spinlocks do), strict gang
#   alone, strict gang with scx_gang (vCPUs pinned, and not pinned);
#   acquisitions per second summed over the VMs, worst wait over all CPUs,
#   scx_gang's co-start skew; the VMs start paused and are let go
#   together; three interleaved repetitions.
# - hog: a busy loop on CPU 0 beside two strict gang VMs, without and with
#   scx_gang: its share of CPU 0, three interleaved repetitions.
# - skew: gang_skew with a hog on vCPU 0's CPU, gang on and off.
# - idle cost: gang_vmexit, gang_ipi and gang_rendezvous, nothing
#   preempted, on and off interleaved, 5 repetitions.
# - co-stop: gang_costop_perf_test, the IRQs-off time of one co-stop at 2,
#   8, 32 and 64 vCPUs, gang off and strict.
# Prints "DATA kind key=value..." lines that scripts/bench turns into the
# table and the plot.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../qemu-lib.sh"
ms=${1:-3000}
work=/tmp/bench
mkdir -p "$work"
kut=$here/x86

# field NAME FILE: the value of NAME=... in the guest's BENCH line
field() {
	sed -n "s/.*BENCH .* $1=\([0-9]*\).*/\1/p" "$2"
}

# vm N ACCEL ARGS PIN: start VM number N running gang_spinlock, paused
# (-S) so that every VM of a run starts its clock together; PIN=1 pins
# vCPU i's thread to CPU i.
vm() {
	qemu_start_with_qmp "$work/qmp$1" "$QEMU" -S -accel "$2" -smp 2 -m 64 -nodefaults \
		-no-reboot -display none -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-serial file:"$work/vm$1.log" -kernel "$kut/gang_spinlock.elf" -append "$3"
	eval "vm_pid$1=\$qemu_pid"
	[ "$4" = 1 ] && qemu_pin_vcpus "$work/qmp$1"
}

# run_vms VMS CONFIG: one spinlock run; prints its DATA line
run_vms() {
	accel=kvm args="cpus=2 ms=$ms warmup_ms=1000" pin=1
	case "$2" in
	on) accel=kvm,gang=on ;;
	pv) args="$args pv=1" ;;
	scx) accel=kvm,gang=on ;;
	scxu) accel=kvm,gang=on pin=0 ;;
	esac
	case "$2" in scx*) scx_start "$work/scx.log" --stats 0 ;; esac
	n=1
	while [ "$n" -le "$1" ]; do
		vm "$n" "$accel" "$args" "$pin"
		n=$((n + 1))
	done
	n=1
	while [ "$n" -le "$1" ]; do
		timeout 10 "$QMP" "$work/qmp$n" '{"execute": "cont"}' >/dev/null
		n=$((n + 1))
	done
	total=0 worst=0 ok=1 n=1
	while [ "$n" -le "$1" ]; do
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
	case "$2" in
	scx*)
		scx_stop
		# The scheduler's co-start skew over the run, the worst gang's.
		grep 'co-start skew' "$work/scx.log" |
			sed 's/.*p50 \([0-9]*\) us, p99 \([0-9]*\) us, max \([0-9]*\) us.*/\1 \2 \3/' |
			sort -n -k2 | tail -n 1 >"$work/skew.txt"
		read -r p50 p99 max <"$work/skew.txt" || p50=- p99=- max=-
		# How often the CPUs changed hands: the others' slots are what a
		# gang alone (1:1) pays for.
		slots=$(sed -n "s/^scx_gang: slots begun: \([0-9]*\) gangs', \([0-9]*\) the others'$/\1 \2/p" \
			"$work/scx.log" | tail -n 1)
		skew=" skew_p50_us=${p50:--} skew_p99_us=${p99:--} skew_max_us=${max:--} gang_slots=${slots% *} others_slots=${slots#* }"
		;;
	*) skew= ;;
	esac
	echo "DATA spinlock rep=$rep overcommit=$1 mode=$2 acq_per_s=$total worst_wait_us=$worst passed=$ok$skew"
}

# Spinlock: every configuration at 1:1, 2:1 and 3:1, three interleaved
# repetitions (TCG figures swing from run to run).
rep=1
while [ "$rep" -le 3 ]; do
	for vms in 1 2 3; do
		for mode in off pv on scx scxu; do
			run_vms "$vms" "$mode"
		done
	done
	rep=$((rep + 1))
done

# cpu_ticks PID: user + system clock ticks of PID so far
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# The fair share of a task that is not in a gang: a busy loop pinned to
# CPU 0 beside two strict gang VMs (pinned), without and with scx_gang;
# its share of CPU 0 over the VMs' run, three interleaved repetitions.
rep=1
while [ "$rep" -le 3 ]; do
	for mode in on scx; do
		[ "$mode" = scx ] && scx_start "$work/scx.log" --stats 0
		hog_start 0
		vm 1 kvm,gang=on "cpus=2 ms=$ms warmup_ms=1000" 1
		vm 2 kvm,gang=on "cpus=2 ms=$ms warmup_ms=1000" 1
		t0=$(awk '{ print $1 * 100 }' /proc/uptime)
		c0=$(cpu_ticks "$hog_pid")
		for n in 1 2; do
			timeout 10 "$QMP" "$work/qmp$n" '{"execute": "cont"}' >/dev/null
		done
		for n in 1 2; do
			eval "qemu_pid=\$vm_pid$n"
			qemu_wait 300
		done
		c1=$(cpu_ticks "$hog_pid")
		t1=$(awk '{ print $1 * 100 }' /proc/uptime)
		hog_stop
		[ "$mode" = scx ] && scx_stop
		echo "DATA hog rep=$rep mode=$mode share_pct=$(awk -v c=$((c1 - c0)) -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%d", 100 * c / (t1 - t0) }')"
	done
	rep=$((rep + 1))
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
done

# Idle cost: nothing preempted, gang on and off interleaved (idle-cost.sh).
"$here/idle-cost.sh" host

# What one co-stop costs with IRQs off, 2 to 64 vCPUs, gang off and strict
# (tests/selftests/kvm/gang_costop_perf_test.c, function_graph timings).
"$here/../gang_costop_perf_test" -r 3 -s 2 >"$work/costop.log" 2>&1 ||
	echo "DATA costop_failed status=$?"
grep '^DATA costop ' "$work/costop.log"
