#!/bin/sh
# Run the guest-side tests of x86/unittests.cfg through the patched QEMU with
# KVM, inside the test bed, with the gang on and off.
#
# usage: run_tests.sh [-g GROUP] [TEST...]
#
# Each run prints "PASS NAME (gang=MODE)" or "FAIL NAME (gang=MODE): why",
# after the guest's own output (indented; its BENCH lines carry figures,
# tagged here with the mode); the last line is "N passed, N failed" and the
# exit status is 1 if any run failed.  A run passes when QEMU exits with
# status 1: the guest wrote 0 to isa-debug-exit, i.e. every report passed.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../qemu-lib.sh"
group=gang
while getopts g: opt; do
	case "$opt" in
	g) group=$OPTARG ;;
	*) echo "usage: run_tests.sh [-g GROUP] [TEST...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
only=" $* "

passed=0
failed=0
work=/tmp/kut
mkdir -p "$work"

# run_one NAME FILE SMP ARGS QEMU_PARAMS MODE HOG TIMEOUT
run_one() {
	name=$1 file=$2 smp=$3 args=$4 params=$5 mode=$6 hog=$7 limit=$8
	accel=kvm,gang=$mode
	log="$work/$name.$mode.log"
	# shellcheck disable=SC2086
	set -- "$QEMU" -accel "$accel" -smp "$smp" -m 64 -nodefaults -no-reboot \
		-display none -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-kernel "$here/x86/$file" -append "$args" $params
	if [ "$hog" = 1 ]; then
		qemu_start_with_qmp "$work/qmp" "$@" -serial file:"$log"
		qemu_pin_vcpus "$work/qmp" || echo "    (could not pin the vCPU threads)"
		hog_start 0
		qemu_wait "$limit"
		status=$?
		hog_stop
	else
		timeout "$limit" "$@" -serial stdio </dev/null >"$log" 2>&1
		status=$?
	fi
	sed -e 's/^/    /' -e "s/^    BENCH /    BENCH gang=$mode /" "$log"
	if [ "$status" -eq 1 ]; then
		echo "PASS $name (gang=$mode)"
		passed=$((passed + 1))
	else
		case "$status" in
		124|137|143) why="timed out after ${limit}s" ;;
		3) why="a report failed" ;;
		*) why="QEMU exit status $status" ;;
		esac
		echo "FAIL $name (gang=$mode): $why"
		failed=$((failed + 1))
	fi
}

# The cfg as one line per entry: name|file|smp|args|qemu_params|gang|hog|groups|timeout
entries=$(awk '
	function flush() {
		if (name != "")
			print name "|" f["file"] "|" f["smp"] "|" f["args"] "|" f["qemu_params"] "|" \
			      (f["gang"] == "" ? "on off" : f["gang"]) "|" f["hog"] "|" f["groups"] "|" \
			      (f["timeout"] == "" ? 120 : f["timeout"])
		delete f
	}
	/^[ \t]*(#|$)/ { next }
	/^\[.*\]$/ { flush(); name = substr($0, 2, length($0) - 2); next }
	{
		eq = index($0, "=")	# values contain "=" (args = cpus=2)
		key = substr($0, 1, eq - 1)
		value = substr($0, eq + 1)
		gsub(/^[ \t]+|[ \t]+$/, "", key)
		gsub(/^[ \t]+|[ \t]+$/, "", value)
		f[key] = value
	}
	END { flush() }' "$here/x86/unittests.cfg")

[ -x "$QEMU" ] || { echo "run_tests.sh: $QEMU is missing"; exit 1; }
echo "$entries" >"$work/entries"
while IFS='|' read -r name file smp args params modes hog groups limit; do
	case " $groups " in *" $group "*) ;; *) continue ;; esac
	[ "$only" = "  " ] || case "$only" in *" $name "*) ;; *) continue ;; esac
	for mode in $modes; do
		run_one "$name" "$file" "$smp" "$args" "$params" "$mode" "${hog:-0}" "$limit"
	done
done <"$work/entries"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
