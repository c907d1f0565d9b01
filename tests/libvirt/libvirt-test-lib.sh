# shellcheck shell=bash
# The helpers of the libvirt tests, sourced by tests/libvirt/host-tests (on
# the host) and tests/libvirt/testbed-libvirt-nogang (in the test bed, from
# /opt/kvm-gang/bin): the checks and the domain XML they share.  The caller
# defines result PASS|FAIL NAME [WHY] and summary.

# check NAME WHY COMMAND...: PASS when COMMAND succeeds, else FAIL (WHY).
check() {
	local name=$1 why=$2

	shift 2
	if "$@"; then
		result PASS "$name"
	else
		result FAIL "$name" "$why"
	fi
}
# fatal NAME WHY: a failed prerequisite ends the run.
fatal() {
	result FAIL "$1" "$2"
	summary || exit 1
}
# expect_error NAME STATUS MESSAGE COMMAND...: COMMAND exits STATUS and its
# stderr has the line MESSAGE.
expect_error() {
	local name=$1 status=$2 message=$3 out rc=0

	shift 3
	out=$("$@" 2>&1 >/dev/null) || rc=$?
	if [ "$rc" -ne "$status" ]; then
		result FAIL "$name" "exit status $rc, not $status: $out"
	elif ! grep -qxF -- "$message" <<<"$out"; then
		result FAIL "$name" "said '$out'"
	else
		result PASS "$name"
	fi
}

# domain_xml NAME VCPUS EMULATOR CPUTUNE GANG-ELEMENT [PLACEMENT]: a minimal
# kvm domain, no disks, no network, no devices beyond what the machine brings.
domain_xml() {
	cat <<EOF
<domain type='kvm'>
  <name>$1</name>
  <memory unit='MiB'>64</memory>
  <vcpu placement='${6:-static}'>$2</vcpu>
  <cputune>$4</cputune>
  <os>
    <type arch='x86_64'>hvm</type>
  </os>
  <features>
    <kvm>$5</kvm>
  </features>
  <devices>
    <emulator>$3</emulator>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}
# shellcheck disable=SC2034  # used by the tests that source this
readonly strict="<gang state='on' mode='strict'/>"
# shellcheck disable=SC2034
readonly pin1="<vcpupin vcpu='0' cpuset='1'/><emulatorpin cpuset='0'/>"
