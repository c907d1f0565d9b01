/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Gang scheduling for KVM: every vCPU of a VM runs together or not at all.
 * This header holds the per-VM gang descriptor, the per-vCPU member state
 * and the hooks that the KVM core and the arch run loop call.  The hooks
 * cost a static branch until some VM on the host turns its gang on; with
 * CONFIG_KVM_GANG=n they are empty inline stubs, so the call sites need no
 * #ifdef.  The protocol (states, transitions, contexts) is written down in
 * the kvm-gang docs/strict-protocol.md and in Documentation/virt/kvm/api.rst.
 */
#ifndef __KVM_GANG_H__
#define __KVM_GANG_H__

#include <linux/types.h>
#include <linux/errno.h>
#include <linux/hrtimer_types.h>
#include <linux/irq_work_types.h>
#include <linux/jump_label.h>
#include <linux/spinlock_types.h>
#include <uapi/linux/kvm.h>

struct kvm;
struct kvm_vcpu;

/*
 * One per VM, allocated when the gang is turned on and freed with the VM.
 * @mode and @skew_ns are written under kvm->lock and read locklessly by
 * vCPUs, hence READ_ONCE()/WRITE_ONCE().
 */
struct kvm_gang {
	struct kvm *kvm;
	u32 mode;
	u64 skew_ns;
	/* vCPUs that joined the gang at creation, written under kvm->lock. */
	u32 nr_members;

	/*
	 * Taken in kvm_sched_out() under the runqueue lock with IRQs off, so a
	 * raw spinlock; innermost: nothing is taken and nobody is woken
	 * inside it.
	 */
	raw_spinlock_t lock;
	/*
	 * The gate: while it is set no member enters guest mode.  Set when the
	 * gang co-stops (strict: the first absent member; relaxed: a member
	 * absent for skew_ns), cleared when no member is absent any more.
	 * Written under @lock, read locklessly before every guest entry.
	 */
	bool stopped;
	/* Members descheduled while they wanted to run. */
	unsigned int nr_preempted;
	/* Members woken from the gate by a co-start that are not on a CPU yet. */
	unsigned int nr_gathering;
	/* Members asleep at the gate (not runnable, not absent). */
	unsigned int nr_asleep;
	/* When the gang last went from no absent member to one. */
	u64 absent_since_ns;
	/* When the gate last closed, for gang_stopped_ns. */
	u64 costop_start_ns;

	/*
	 * The co-stop's kicks, one pass over the members per co-stop, run
	 * from hard IRQ context just after the scheduler has let go of its
	 * runqueue lock (IRQ_WORK_INIT_HARD, also on PREEMPT_RT).
	 */
	struct irq_work kick_work;
	/* Relaxed mode: co-stops the gang once a member is absent skew_ns. */
	struct hrtimer skew_timer;
	/* This gang holds a reference on kvm_gang_active. */
	bool holds_key;
};

/* Why a member counts as absent, in struct kvm_gang_member::absent. */
enum kvm_gang_absence {
	KVM_GANG_PRESENT,
	KVM_GANG_PREEMPTED,	/* descheduled while it wanted to run */
	KVM_GANG_GATHERING,	/* woken by a co-start, not on a CPU yet */
};

/*
 * Per-vCPU member state, embedded in struct kvm_vcpu.  @absent and @asleep
 * are written under gang->lock; the vCPU's own task reads @absent without
 * it in kvm_sched_in() as a hint (a member is only marked gathering while
 * it sleeps, and the wake-up orders the mark before the task runs).
 * @kicked is set by the CPU that co-stops the gang and consumed by the vCPU
 * with xchg().
 */
struct kvm_gang_member {
	u8 absent;	/* enum kvm_gang_absence */
	bool asleep;	/* blocked at the gate in kvm_gang_wait() */
	bool kicked;	/* taken out of guest mode by a co-stop IPI */
};

#ifdef CONFIG_KVM_GANG

/* Some VM on this host has a gang (or new VMs get one by default). */
DECLARE_STATIC_KEY_FALSE(kvm_gang_active);

int kvm_gang_check_extension(void);
int kvm_gang_enable_cap(struct kvm *kvm, struct kvm_enable_cap *cap);
void kvm_gang_vcpu_join(struct kvm_vcpu *vcpu);
void kvm_gang_destroy(struct kvm *kvm);
void __kvm_gang_sched_out(struct kvm_vcpu *vcpu);
void __kvm_gang_sched_in(struct kvm_vcpu *vcpu);
bool __kvm_gang_may_enter(struct kvm_vcpu *vcpu);

/* kvm_sched_out(): runqueue lock held, IRQs off. */
static inline void kvm_gang_sched_out(struct kvm_vcpu *vcpu)
{
	if (static_branch_unlikely(&kvm_gang_active))
		__kvm_gang_sched_out(vcpu);
}

/* kvm_sched_in(): after the context switch, preemption off. */
static inline void kvm_gang_sched_in(struct kvm_vcpu *vcpu)
{
	if (static_branch_unlikely(&kvm_gang_active))
		__kvm_gang_sched_in(vcpu);
}

/*
 * The gate, before every guest entry (kvm->srcu held, preemptible, may
 * sleep): true to go on into guest mode, false to go back to the run loop,
 * which handles signals, rescheduling and requests and then comes back.
 */
static inline bool kvm_gang_may_enter(struct kvm_vcpu *vcpu)
{
	if (static_branch_unlikely(&kvm_gang_active))
		return __kvm_gang_may_enter(vcpu);
	return true;
}

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

static inline bool kvm_gang_may_enter(struct kvm_vcpu *vcpu)
{
	return true;
}

#endif /* CONFIG_KVM_GANG */

#endif /* __KVM_GANG_H__ */
