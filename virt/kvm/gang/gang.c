// SPDX-License-Identifier: GPL-2.0-only
/*
 * KVM gang scheduling, arch-neutral core: the per-VM gang descriptor, the
 * KVM_CAP_GANG capability that selects its mode, membership of the VM's
 * vCPUs, the strict-mode co-stop (kvm_sched_out()), co-start
 * (kvm_sched_in()) and the wait before guest entry, and a debugfs view.
 * The host scheduler is not touched: the gang only reacts to what the
 * preempt notifiers report.  docs/strict-protocol.md has the protocol.
 */
#include <linux/kvm_host.h>
#include <linux/kvm_gang.h>
#include <linux/debugfs.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include <trace/events/ipi.h>
#include <trace/events/kvm.h>

/*
 * A waiter spins this long before it sleeps, like halt_poll_ns: long enough
 * to catch a co-start (and the co-start barrier's gathering) without paying
 * a wake-up, short enough not to burn a CPU that a preempted member needs.
 */
static unsigned long gang_spin_ns = 50 * NSEC_PER_USEC;
module_param(gang_spin_ns, ulong, 0644);

#define KVM_GANG_SUPPORTED_MODES	(BIT(KVM_GANG_MODE_OFF) |	\
					 BIT(KVM_GANG_MODE_STRICT) |	\
					 BIT(KVM_GANG_MODE_RELAXED))

static const char * const kvm_gang_mode_names[] = {
	[KVM_GANG_MODE_OFF]	= "off",
	[KVM_GANG_MODE_STRICT]	= "strict",
	[KVM_GANG_MODE_RELAXED]	= "relaxed",
};

int kvm_gang_check_extension(void)
{
	return KVM_GANG_SUPPORTED_MODES;
}

/*
 * Validate everything before anything is committed: unknown mode, flags or
 * args are -EINVAL, a relaxed skew threshold above the maximum is -E2BIG.
 * A threshold only means something in relaxed mode; elsewhere it must be 0.
 */
static int kvm_gang_parse_cap(const struct kvm_enable_cap *cap,
			      u32 *mode, u64 *skew_ns)
{
	if (cap->flags || cap->args[2] || cap->args[3])
		return -EINVAL;

	if (cap->args[0] >= ARRAY_SIZE(kvm_gang_mode_names) ||
	    !(KVM_GANG_SUPPORTED_MODES & BIT(cap->args[0])))
		return -EINVAL;
	*mode = cap->args[0];

	if (*mode != KVM_GANG_MODE_RELAXED) {
		if (cap->args[1])
			return -EINVAL;
		*skew_ns = 0;
		return 0;
	}

	if (cap->args[1] > KVM_GANG_SKEW_NS_MAX)
		return -E2BIG;
	*skew_ns = cap->args[1] ? cap->args[1] : KVM_GANG_SKEW_NS_DEFAULT;
	return 0;
}

static int kvm_gang_debugfs_show(struct seq_file *m, void *unused)
{
	struct kvm *kvm = m->private;
	struct kvm_gang *gang;

	mutex_lock(&kvm->lock);
	gang = kvm->gang;
	seq_printf(m, "mode: %s\n", kvm_gang_mode_names[gang->mode]);
	seq_printf(m, "skew_ns: %llu\n", gang->skew_ns);
	seq_printf(m, "members: %u\n", gang->nr_members);
	seq_printf(m, "absent: %u\n", READ_ONCE(gang->nr_absent));
	mutex_unlock(&kvm->lock);
	return 0;
}

/* Hold a VM reference while the file is open, as the other VM files do. */
static int kvm_gang_debugfs_open(struct inode *inode, struct file *file)
{
	struct kvm *kvm = inode->i_private;
	int r;

	if (!kvm_get_kvm_safe(kvm))
		return -ENOENT;

	r = single_open(file, kvm_gang_debugfs_show, kvm);
	if (r < 0)
		kvm_put_kvm(kvm);
	return r;
}

static int kvm_gang_debugfs_release(struct inode *inode, struct file *file)
{
	struct kvm *kvm = inode->i_private;

	kvm_put_kvm(kvm);
	return single_release(inode, file);
}

static const struct file_operations kvm_gang_debugfs_fops = {
	.owner		= THIS_MODULE,
	.open		= kvm_gang_debugfs_open,
	.read		= seq_read,
	.llseek		= seq_lseek,
	.release	= kvm_gang_debugfs_release,
};

static struct kvm_gang *kvm_gang_create(struct kvm *kvm)
{
	struct kvm_gang *gang;

	lockdep_assert_held(&kvm->lock);

	gang = kzalloc(sizeof(*gang), GFP_KERNEL_ACCOUNT);
	if (!gang)
		return NULL;

	raw_spin_lock_init(&gang->lock);
	init_waitqueue_head(&gang->costart_wq);

	/* Removed with the rest of the VM's debugfs directory. */
	debugfs_create_file("gang", 0444, kvm->debugfs_dentry, kvm,
			    &kvm_gang_debugfs_fops);
	return gang;
}

/*
 * Turning the gang on (or switching between strict and relaxed) is only
 * allowed before the first vCPU is created, so every vCPU joins a gang whose
 * mode is already settled; -EBUSY afterwards.  Turning it off is allowed at
 * any time.  kvm->lock orders this against kvm_vm_ioctl_create_vcpu(), which
 * bumps created_vcpus under the same lock.
 */
int kvm_gang_enable_cap(struct kvm *kvm, struct kvm_enable_cap *cap)
{
	struct kvm_gang *gang;
	u64 skew_ns;
	u32 mode;
	int r;

	r = kvm_gang_parse_cap(cap, &mode, &skew_ns);
	if (r)
		return r;

	mutex_lock(&kvm->lock);
	gang = kvm->gang;
	if (mode != KVM_GANG_MODE_OFF && kvm->created_vcpus) {
		r = -EBUSY;
		goto out_unlock;
	}

	if (!gang) {
		/* Off without a gang: nothing to record, nothing to free. */
		if (mode == KVM_GANG_MODE_OFF)
			goto out_unlock;

		gang = kvm_gang_create(kvm);
		if (!gang) {
			r = -ENOMEM;
			goto out_unlock;
		}
		kvm->gang = gang;
	}

	WRITE_ONCE(gang->skew_ns, skew_ns);
	WRITE_ONCE(gang->mode, mode);
	/* Turned off: release every member waiting for a co-start. */
	if (mode == KVM_GANG_MODE_OFF)
		wake_up_all(&gang->costart_wq);

out_unlock:
	mutex_unlock(&kvm->lock);
	return r;
}

/* Called under kvm->lock once the vCPU is online; vCPUs leave with the VM. */
void kvm_gang_vcpu_join(struct kvm_vcpu *vcpu)
{
	struct kvm_gang *gang = vcpu->kvm->gang;

	lockdep_assert_held(&vcpu->kvm->lock);

	if (!gang)
		return;

	gang->nr_members++;
}

/*
 * Called from kvm_destroy_vm() after the vCPUs and the VM's debugfs directory
 * are gone, so nothing can reach the gang any more.
 */
void kvm_gang_destroy(struct kvm *kvm)
{
	kfree(kvm->gang);
	kvm->gang = NULL;
}

static bool kvm_gang_strict(struct kvm_gang *gang)
{
	return READ_ONCE(gang->mode) == KVM_GANG_MODE_STRICT;
}

/* A member may enter guest mode unless a strict gang misses a member. */
static bool kvm_gang_may_run(struct kvm_gang *gang)
{
	return !kvm_gang_strict(gang) || !READ_ONCE(gang->nr_absent);
}

/* A member that must be back on a CPU first: the gang stops. */
static void kvm_gang_absent_inc(struct kvm *kvm, struct kvm_gang *gang)
{
	lockdep_assert_held(&gang->lock);

	if (!gang->nr_absent) {
		gang->costop_start_ns = ktime_get_ns();
		kvm->stat.generic.gang_costops++;
	}
	WRITE_ONCE(gang->nr_absent, gang->nr_absent + 1);
}

/* The member is back; true if it was the last one: the gang runs again. */
static bool kvm_gang_absent_dec(struct kvm *kvm, struct kvm_gang *gang,
				u64 *stopped_ns)
{
	lockdep_assert_held(&gang->lock);

	WRITE_ONCE(gang->nr_absent, gang->nr_absent - 1);
	if (gang->nr_absent)
		return false;

	*stopped_ns = ktime_get_ns() - gang->costop_start_ns;
	kvm->stat.generic.gang_stopped_ns += *stopped_ns;
	return true;
}

/*
 * Take @vcpu out of guest mode for a co-stop: the request makes it stop
 * before its next guest entry, the IPI makes a member that is in guest mode
 * exit now (a reschedule IPI is an external-interrupt exit on SVM and VMX).
 * This is kvm_vcpu_kick() without its wake-up: the caller holds a runqueue
 * lock, and a member that sleeps (halted or waiting) looks at the gang again
 * before it enters guest mode, so it must not be woken.  The ordering is the
 * one of Documentation/virt/kvm/vcpu-requests.rst: kvm_make_request() and the
 * cmpxchg() in kvm_arch_vcpu_should_kick() pair with the smp_store_mb() of
 * vcpu->mode and the request check in vcpu_enter_guest().
 */
static void kvm_gang_kick(struct kvm_vcpu *vcpu)
{
	int cpu;

	kvm_make_request(KVM_REQ_GANG_STOP, vcpu);
	if (!kvm_arch_vcpu_should_kick(vcpu))
		return;

	WRITE_ONCE(vcpu->gang_member.kicked, true);
	cpu = READ_ONCE(vcpu->cpu);
	if (cpu != raw_smp_processor_id() && (unsigned int)cpu < nr_cpu_ids &&
	    cpu_online(cpu))
		smp_send_reschedule(cpu);
}

/*
 * Called from kvm_sched_out(), inside __schedule() with the runqueue lock
 * held and IRQs off: no sleeping and no wake-ups here.  A member that wants
 * to run and is still runnable (vcpu->preempted) lost its CPU: count it as
 * absent and co-stop every other member.  That includes a member preempted
 * while it spins in kvm_gang_wait(), or a co-start during its absence would
 * let its siblings run without it.  A member asleep in kvm_gang_wait() or
 * halted is not runnable and never counted here.
 */
void kvm_gang_sched_out(struct kvm_vcpu *vcpu)
{
	struct kvm_gang *gang = vcpu->kvm->gang;
	struct kvm_vcpu *sibling;
	unsigned int nr_absent;
	unsigned long i;

	if (!gang || !kvm_gang_strict(gang) || !READ_ONCE(vcpu->preempted))
		return;

	lockdep_assert_irqs_disabled();
	raw_spin_lock(&gang->lock);
	vcpu->gang_member.preempted = true;
	kvm_gang_absent_inc(vcpu->kvm, gang);
	nr_absent = gang->nr_absent;
	raw_spin_unlock(&gang->lock);

	trace_kvm_gang_costop(vcpu->vcpu_id, nr_absent);

	kvm_for_each_vcpu(i, sibling, vcpu->kvm) {
		if (sibling != vcpu)
			kvm_gang_kick(sibling);
	}
}

/*
 * Called from kvm_sched_in(): the member is back on a CPU, preemption is
 * off, IRQs are on, so waking is allowed.  Runs whatever the mode is now,
 * so that a gang switched off while members were preempted still balances
 * its count.
 *
 * The last preempted member back starts the co-start barrier: members asleep
 * in kvm_gang_wait() become absent until they run again ("gathering"), and
 * this member itself waits for them before its next guest entry, so that
 * nobody runs guest code while a woken sibling still waits for its CPU.
 * Members marked this way are not marked again when the barrier releases,
 * so waking each other cannot go on forever.
 */
void kvm_gang_sched_in(struct kvm_vcpu *vcpu)
{
	struct kvm_gang *gang = vcpu->kvm->gang;
	unsigned int nr_gathering = 0;
	struct kvm_gang_member *member;
	struct kvm_vcpu *sibling;
	unsigned long flags, i;
	u64 stopped_ns = 0;
	bool costart;

	if (!vcpu->gang_member.preempted)
		return;

	raw_spin_lock_irqsave(&gang->lock, flags);
	vcpu->gang_member.preempted = false;
	if (gang->nr_absent == 1 && kvm_gang_strict(gang)) {
		kvm_for_each_vcpu(i, sibling, vcpu->kvm) {
			member = &sibling->gang_member;
			if (member->asleep && !member->gathering) {
				member->gathering = true;
				kvm_gang_absent_inc(vcpu->kvm, gang);
				nr_gathering++;
			}
		}
	}
	costart = kvm_gang_absent_dec(vcpu->kvm, gang, &stopped_ns);
	raw_spin_unlock_irqrestore(&gang->lock, flags);

	if (nr_gathering)
		kvm_make_request(KVM_REQ_GANG_STOP, vcpu);
	if (costart)
		trace_kvm_gang_costart(vcpu->vcpu_id, stopped_ns);
	if (costart || nr_gathering)
		wake_up_all(&gang->costart_wq);
}

/*
 * Sleep until the gang may run, or until the co-start barrier wants this
 * member to show up (it is running again once this returns).
 */
static int kvm_gang_sleep(struct kvm_vcpu *vcpu, struct kvm_gang *gang)
{
	struct kvm_gang_member *member = &vcpu->gang_member;
	u64 stopped_ns;
	bool costart;
	int r;

	raw_spin_lock_irq(&gang->lock);
	member->asleep = true;
	raw_spin_unlock_irq(&gang->lock);

	r = wait_event_interruptible(gang->costart_wq,
				     kvm_gang_may_run(gang) ||
				     READ_ONCE(member->gathering));

	raw_spin_lock_irq(&gang->lock);
	member->asleep = false;
	costart = member->gathering &&
		  kvm_gang_absent_dec(vcpu->kvm, gang, &stopped_ns);
	member->gathering = false;
	raw_spin_unlock_irq(&gang->lock);

	if (costart) {
		trace_kvm_gang_costart(vcpu->vcpu_id, stopped_ns);
		wake_up_all(&gang->costart_wq);
	}
	return r ? -EINTR : 0;
}

/*
 * Wait before guest entry until the gang may run: spin for up to
 * gang_spin_ns, then sleep on the co-start wait queue, and again.  May
 * sleep: the caller drops kvm->srcu.  Returns 0 when the gang runs again or
 * is switched off, -EINTR when a signal is pending (the thread is being
 * killed, or userspace kicked it).
 */
int kvm_gang_wait(struct kvm_vcpu *vcpu)
{
	struct kvm_gang *gang = vcpu->kvm->gang;
	u64 start_ns = ktime_get_ns();
	u64 spin_start_ns = start_ns;
	u64 wait_ns;
	int r = 0;

	might_sleep();
	if (kvm_gang_may_run(gang))
		return 0;

	while (!kvm_gang_may_run(gang)) {
		if (signal_pending(current)) {
			r = -EINTR;
			break;
		}
		if (ktime_get_ns() - spin_start_ns < READ_ONCE(gang_spin_ns)) {
			cpu_relax();
			continue;
		}
		r = kvm_gang_sleep(vcpu, gang);
		if (r)
			break;
		spin_start_ns = ktime_get_ns();
	}

	wait_ns = ktime_get_ns() - start_ns;
	vcpu->stat.generic.gang_waits++;
	vcpu->stat.generic.gang_wait_ns += wait_ns;
	trace_kvm_gang_wait(vcpu->vcpu_id, wait_ns, r);
	return r;
}
