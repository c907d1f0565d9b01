// SPDX-License-Identifier: GPL-2.0-only
/*
 * x86 side of KVM gang scheduling: handle KVM_REQ_GANG_STOP in
 * vcpu_enter_guest().  A co-stop reaches a member as that request plus a
 * reschedule IPI, which SVM and VMX both turn into an external-interrupt
 * VM exit; the request is then seen before the next guest entry, here, and
 * the member waits for the co-start outside kvm->srcu.
 */
#include <linux/kvm_host.h>
#include <linux/kvm_gang.h>

int kvm_arch_gang_stop(struct kvm_vcpu *vcpu)
{
	int r;

	if (xchg(&vcpu->gang_member.kicked, false))
		++vcpu->stat.generic.gang_forced_exits;

	/* Waiting may sleep for a host time slice: do not hold up SRCU. */
	kvm_vcpu_srcu_read_unlock(vcpu);
	r = kvm_gang_wait(vcpu);
	kvm_vcpu_srcu_read_lock(vcpu);
	if (r) {
		kvm_handle_signal_exit(vcpu);
		return r;
	}
	return 1;
}
