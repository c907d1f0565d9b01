/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Gang scheduling for KVM: every vCPU of a VM runs together or not at all.
 * This header holds the per-VM gang descriptor, the per-vCPU member state
 * and the hooks that the KVM core and the arch run loop call; with
 * CONFIG_KVM_GANG=n the hooks are empty inline stubs, so the call sites need
 * no #ifdef.  The protocol is written down in the kvm-gang
 * docs/strict-protocol.md and in Documentation/virt/kvm/api.rst.
 */
#ifndef __KVM_GANG_H__
#define __KVM_GANG_H__

#include <linux/types.h>
#include <linux/errno.h>
#include <linux/spinlock_types.h>
#include <linux/wait.h>
#include <uapi/linux/kvm.h>

struct kvm;
struct kvm_vcpu;

/*
 * One per VM, allocated by the first KVM_ENABLE_CAP(KVM_CAP_GANG) that turns
 * the gang on and freed with the VM.  @mode and @skew_ns are written under
 * kvm->lock and read locklessly by vCPUs, hence READ_ONCE()/WRITE_ONCE().
 */
struct kvm_gang {
	u32 mode;
	u64 skew_ns;
	/* vCPUs that joined the gang at creation, written under kvm->lock. */
	u32 nr_members;

	/*
	 * Taken in kvm_sched_out() under the runqueue lock with IRQs off, so a
	 * raw spinlock; nothing else may be taken inside it.
	 */
	raw_spinlock_t lock;
	/*
	 * Members that must be back on a CPU before any member enters guest
	 * mode: descheduled while runnable, or woken for the co-start and not
	 * yet running.  Written under @lock, read locklessly.
	 */
	unsigned int nr_absent;
	/* When nr_absent last went from 0 to 1, under @lock. */
	u64 costop_start_ns;
	/* Members waiting in kvm_gang_wait() for the co-start. */
	wait_queue_head_t costart_wq;
};

/*
 * Per-vCPU member state, embedded in struct kvm_vcpu.  @preempted is only
 * touched by the vCPU's own task (kvm_sched_out() and kvm_sched_in() run in
 * its context); @asleep and @gathering are written under gang->lock;
 * @kicked is set by the CPU that co-stops the gang and consumed by the vCPU
 * with xchg().
 */
struct kvm_gang_member {
	bool preempted;	/* descheduled while runnable: counted in nr_absent */
	bool asleep;	/* sleeping in kvm_gang_wait() */
	bool gathering;	/* woken for the co-start barrier: counted in nr_absent */
	bool kicked;	/* taken out of guest mode by a co-stop IPI */
};

#ifdef CONFIG_KVM_GANG

int kvm_gang_check_extension(void);
int kvm_gang_enable_cap(struct kvm *kvm, struct kvm_enable_cap *cap);
void kvm_gang_vcpu_join(struct kvm_vcpu *vcpu);
void kvm_gang_destroy(struct kvm *kvm);
void kvm_gang_sched_out(struct kvm_vcpu *vcpu);
void kvm_gang_sched_in(struct kvm_vcpu *vcpu);
int kvm_gang_wait(struct kvm_vcpu *vcpu);

/* Arch run loop: handle KVM_REQ_GANG_STOP, 1 to go on, <= 0 to exit. */
int kvm_arch_gang_stop(struct kvm_vcpu *vcpu);

#else /* !CONFIG_KVM_GANG */

static inline int kvm_gang_check_extension(void)
{
	return 0;
}

static inline int kvm_gang_enable_cap(struct kvm *kvm,
				      struct kvm_enable_cap *cap)
{
	return -EINVAL;
}

static inline void kvm_gang_vcpu_join(struct kvm_vcpu *vcpu)
{
}

static inline void kvm_gang_destroy(struct kvm *kvm)
{
}

static inline void kvm_gang_sched_out(struct kvm_vcpu *vcpu)
{
}

static inline void kvm_gang_sched_in(struct kvm_vcpu *vcpu)
{
}

static inline int kvm_arch_gang_stop(struct kvm_vcpu *vcpu)
{
	return 1;
}

#endif /* CONFIG_KVM_GANG */

#endif /* __KVM_GANG_H__ */
