#!/bin/sh
# Idle cost of the gang, inside the test bed: gang_vmexit, gang_ipi and
# gang_rendezvous, nothing preempted, gang on (strict, idle) and off
# interleaved, 5 repetitions; prints "DATA TEST clock=CLOCK mode=on|off
# rep=N mean_ns=... worst_us=... passed=..." lines (scripts/bench takes the
# medians).  Run by bench.sh in the normal test bed, and by scripts/bench
# once more in a test bed booted with --icount, where the guests' clock
# counts instructions: there the figures are the instructions a round trip
# executes, free of the host's noise.
#
# usage: idle-cost.sh CLOCK   (host or icount: which clock the test bed has)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../qemu-lib.sh"
kut=$here/x86
work=/tmp/idle-cost
mkdir -p "$work"
clock=${1:?usage: idle-cost.sh host|icount}

# field NAME FILE: the value of NAME=... in the guest's BENCH line
field() {
	sed -n "s/.*BENCH .* $1=\([0-9]*\).*/\1/p" "$2"
}

rep=1
while [ "$rep" -le 5 ]; do
	for mode in on off; do
		accel=kvm
		[ "$mode" = on ] && accel=kvm,gang=on
		for test in vmexit ipi rendezvous; do
			n=2000
			[ "$test" = vmexit ] && n=20000
			timeout 600 "$QEMU" -accel "$accel" -smp 2 -m 64 -nodefaults -no-reboot -display none \
				-device isa-debug-exit,iobase=0xf4,iosize=4 -serial stdio \
				-kernel "$kut/gang_$test.elf" -append "cpus=2 n=$n" </dev/null >"$work/$test.log" 2>&1
			ok=$(( $? == 1 ))
			echo "DATA $test clock=$clock mode=$mode rep=$rep mean_ns=$(field mean_ns "$work/$test.log") worst_us=$(field worst_us "$work/$test.log") passed=$ok"
		done
	done
	rep=$((rep + 1))
done
