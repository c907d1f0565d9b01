#!/bin/sh
# The Linux-guest benchmark, inside the test bed (2 CPUs): 1, 2 or 3 guests
# of 2 vCPUs (overcommit 1:1, 2:1, 3:1) run guest-init.c's workloads at once,
# in each configuration of guest-lib.sh, three interleaved repetitions, all
# in this one boot.  Prints "DATA guest rep=R overcommit=K config=C
# workload=W ops_per_s=N guests_done=G" (operations per second summed over
# the guests) that scripts/bench-guest turns into the matrix.
#
# usage: bench-guest.sh [MS]   (time per workload, default 2000 ms)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../qemu-lib.sh"
. "$here/guest-lib.sh"
ms=${1:-2000}
work=/tmp/bench-guest
mkdir -p "$work"

# run_guests K CONFIG: one run; its DATA lines
run_guests() {
	guest_config "$2" || exit 1
	if [ "$guest_scx" = 1 ] && ! scx_start "$work/scx.log" --stats 0; then
		echo "bench-guest: scx_gang did not attach:" >&2
		cat "$work/scx.log" >&2
		exit 1
	fi
	n=1
	while [ "$n" -le "$1" ]; do
		guest_start "$n" "$2" "$ms" || echo "bench-guest: guest $n of $1 in $2 did not start" >&2
		n=$((n + 1))
	done
	guests_ready "$1" 300 || echo "bench-guest: not every guest of $1 in $2 got ready" >&2
	guests_go "$1"
	done=0 n=1
	while [ "$n" -le "$1" ]; do
		guest_wait "$n" 300
		guest_log "$n" | grep -qx 'GUEST done' && done=$((done + 1))
		n=$((n + 1))
	done
	[ "$guest_scx" = 1 ] && scx_stop
	for w in $GUEST_WORKLOADS; do
		total=0 n=1
		while [ "$n" -le "$1" ]; do
			ops=$(guest_ops "$n" "$w")
			total=$((total + ${ops:-0}))
			n=$((n + 1))
		done
		echo "DATA guest rep=$rep overcommit=$1 config=$2 workload=$w ops_per_s=$total guests_done=$done"
	done
	# The first guest's view, once per configuration: what it was told.
	[ "$rep" = 1 ] && [ "$1" = 1 ] && guest_log 1 |
		grep -E '^GUEST cpuid|kvm-guest: (PV spinlocks|KVM setup pv remote TLB flush)' | sed "s/^/# $2: /"
}

rep=1
while [ "$rep" -le 3 ]; do
	for k in 1 2 3; do
		for config in $GUEST_CONFIGS; do
			run_guests "$k" "$config"
		done
	done
	rep=$((rep + 1))
done
