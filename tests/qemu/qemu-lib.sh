# shellcheck shell=sh
# Shell functions for driving the patched QEMU inside the test bed (busybox
# sh): start it with QMP on a pipe chardev (the test bed has no QMP
# tooling; FIFOs need none), pin its vCPU threads, run a CPU hog, wait
# with a bound.
# Sourced by tests/qemu/testbed-e2e and tests/kvm-unit-tests/run_tests.sh.

QEMU=/opt/kvm-gang/bin/qemu/bin/qemu-system-x86_64
QMP=/opt/kvm-gang/bin/qmp
SCX=/opt/kvm-gang/bin/scx_gang

# qemu_start_with_qmp BASE QEMU_ARGS...: start QEMU in the background
# ($qemu_pid) with its monitor on FIFOs BASE.in/BASE.out, capabilities
# negotiated.
qemu_start_with_qmp() {
	qmp_base=$1
	shift
	rm -f "$qmp_base.in" "$qmp_base.out"
	mkfifo "$qmp_base.in" "$qmp_base.out"
	"$@" -chardev pipe,id=qmp,path="$qmp_base" -mon chardev=qmp,mode=control </dev/null &
	qemu_pid=$!
	timeout 10 "$QMP" "$qmp_base" '{"execute": "qmp_capabilities"}' >/dev/null
}

# qemu_pin_vcpus BASE: pin vCPU i's thread to host CPU i, as an operator
# pins a gang; sets $vcpu_tids.  Fails unless every thread was pinned.
qemu_pin_vcpus() {
	# Each CPU's "props" carry a topology "thread-id" too: drop them first.
	vcpu_tids=$(timeout 10 "$QMP" "$1" '{"execute": "query-cpus-fast"}' |
		sed 's/"props": {[^}]*}//g' | grep -o '"thread-id": [0-9]*' | awk '{ print $NF }')
	cpu=0
	for tid in $vcpu_tids; do
		taskset -p $((1 << cpu)) "$tid" >/dev/null || return 1
		cpu=$((cpu + 1))
	done
	[ "$cpu" -gt 0 ]
}

# scx_start LOG [ARGS...]: load the gang scheduler scx_gang with ARGS
# ($scx_pid), its output into LOG; fails unless it attached within 20 s.
scx_start() {
	scx_log=$1
	shift
	"$SCX" "$@" >"$scx_log" 2>&1 &
	scx_pid=$!
	scx_tenths=200
	until grep -q '^scx_gang: attached' "$scx_log"; do
		scx_tenths=$((scx_tenths - 1))
		[ "$scx_tenths" -gt 0 ] || return 1
		sleep 0.1
	done
}

# scx_stop: unload it (SIGINT, as an operator's ^C); $scx_status is its exit status.
scx_stop() {
	kill -INT "$scx_pid" 2>/dev/null
	wait "$scx_pid"
	scx_status=$?
	scx_pid=
	return "$scx_status"
}

# hog_start CPU / hog_stop: a busy loop pinned to CPU ($hog_pid).
hog_start() {
	taskset $((1 << $1)) sh -c 'while :; do :; done' &
	hog_pid=$!
}

hog_stop() {
	kill "$hog_pid" 2>/dev/null
	wait "$hog_pid" 2>/dev/null
}

# qemu_wait LIMIT: wait up to LIMIT seconds for $qemu_pid; its exit status,
# or 124 after killing it at the limit.
qemu_wait() {
	tenths=$(($1 * 10))
	while [ "$tenths" -gt 0 ] && kill -0 "$qemu_pid" 2>/dev/null; do
		sleep 0.1
		tenths=$((tenths - 1))
	done
	if kill -0 "$qemu_pid" 2>/dev/null; then
		kill -9 "$qemu_pid"
		wait "$qemu_pid"
		return 124
	fi
	wait "$qemu_pid"
}
