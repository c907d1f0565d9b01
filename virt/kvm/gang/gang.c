// SPDX-License-Identifier: GPL-2.0-only
/*
 * KVM gang scheduling, arch-neutral core: the per-VM gang descriptor, the
 * KVM_CAP_GANG capability that selects its mode, membership of the VM's
 * vCPUs, the gate every member passes before guest entry, the co-stop
 * (kvm_sched_out(), or the relaxed skew timer), the co-start
 * (kvm_sched_in()) and a debugfs view.  The host scheduler is not touched:
 * the gang only reacts to what the preempt notifiers report, and deciding
 * who runs together is left to the host scheduler (or a sched_ext policy).
 * docs/strict-protocol.md has the protocol and the contexts of each step.
 */
#include <linux/kvm_host.h>
#include <linux/kvm_gang.h>
#include <linux/debugfs.h>
#include <linux/hrtimer.h>
#include <linux/irq_work.h>
#include <linux/moduleparam.h>
#include <linux/rcuwait.h>
#include <linux/sched/signal.h>
#include <linux/sched/stat.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>

#include <trace/events/ipi.h>
#include <trace/events/kvm.h>

DEFINE_STATIC_KEY_FALSE(kvm_gang_active);

static const char * const kvm_gang_mode_names[] = {
	[KVM_GANG_MODE_OFF]	= "off",
	[KVM_GANG_MODE_STRICT]	= "strict",
	[KVM_GANG_MODE_RELAXED]	= "relaxed",
};

#define KVM_GANG_SUPPORTED_MODES	(BIT(KVM_GANG_MODE_OFF) |	\
					 BIT(KVM_GANG_MODE_STRICT) |	\
					 BIT(KVM_GANG_MODE_RELAXED))

/*
 * A waiter spins this long before it sleeps, like halt_poll_ns: long enough
 * to catch a short preemption of a sibling without paying a wake-up.  The
 * spin also ends as soon as the scheduler wants the CPU (need_resched()) or
 * another task is runnable here, so the bound only limits wasted cycles.
 */
#define KVM_GANG_SPIN_NS_MAX	(1 * NSEC_PER_MSEC)
static unsigned long gang_spin_ns = 50 * NSEC_PER_USEC;

static int gang_spin_ns_set(const char *val, const struct kernel_param *kp)
{
	unsigned long ns;
	int r;

	r = kstrtoul(val, 0, &ns);
	if (r)
		return r;
	if (ns > KVM_GANG_SPIN_NS_MAX)
		return -ERANGE;
	WRITE_ONCE(gang_spin_ns, ns);
	return 0;
}

static const struct kernel_param_ops gang_spin_ns_ops = {
	.set = gang_spin_ns_set,
	.get = param_get_ulong,
};
module_param_cb(gang_spin_ns, &gang_spin_ns_ops, &gang_spin_ns, 0644);

/*
 * Test switch: the gang mode a VM gets when its first vCPU is created and
 * userspace did not turn a gang on itself ("off" by default), so that
 * existing KVM tests run with every VM in a gang.  Turning it on takes a
 * reference on kvm_gang_active for as long as it stays on.
 */
static unsigned int gang_default_mode = KVM_GANG_MODE_OFF;
static DEFINE_MUTEX(gang_default_mode_lock);

static int gang_default_mode_set(const char *val, const struct kernel_param *kp)
{
	int mode = sysfs_match_string(kvm_gang_mode_names, val);

	if (mode < 0)
		return -EINVAL;

	mutex_lock(&gang_default_mode_lock);
	if (gang_default_mode == KVM_GANG_MODE_OFF && mode != KVM_GANG_MODE_OFF)
		static_branch_inc(&kvm_gang_active);
	else if (gang_default_mode != KVM_GANG_MODE_OFF && mode == KVM_GANG_MODE_OFF)
		static_branch_dec(&kvm_gang_active);
	WRITE_ONCE(gang_default_mode, mode);
	mutex_unlock(&gang_default_mode_lock);
	return 0;
}

static int gang_default_mode_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n",
			  kvm_gang_mode_names[READ_ONCE(gang_default_mode)]);
}

static const struct kernel_param_ops gang_default_mode_ops = {
	.set = gang_default_mode_set,
	.get = gang_default_mode_get,
};
module_param_cb(gang_default_mode, &gang_default_mode_ops, NULL, 0644);

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

static unsigned int kvm_gang_nr_absent(struct kvm_gang *gang)
{
	return gang->nr_preempted + gang->nr_gathering;
}

/* The gate is open: members may enter guest mode. */
static bool kvm_gang_open(struct kvm_gang *gang)
{
	return READ_ONCE(gang->mode) == KVM_GANG_MODE_OFF ||
	       !READ_ONCE(gang->stopped);
}

/*
 * The gang's state for operators and tests, and its members' threads for
 * a scheduler that co-schedules them (scx_gang): "vcpu_tid: IDX TID" per
 * vCPU, TID 0 until the vCPU first ran.
 */
static int kvm_gang_debugfs_show(struct seq_file *m, void *unused)
{
	struct kvm *kvm = m->private;
	struct kvm_gang *gang;
	struct kvm_vcpu *vcpu;
	unsigned long i;
	pid_t tid;

	mutex_lock(&kvm->lock);
	gang = kvm->gang;
	seq_printf(m, "mode: %s\n", kvm_gang_mode_names[READ_ONCE(gang->mode)]);
	seq_printf(m, "skew_ns: %llu\n", READ_ONCE(gang->skew_ns));
	seq_printf(m, "members: %u\n", gang->nr_members);
	seq_printf(m, "stopped: %d\n", READ_ONCE(gang->stopped));
	seq_printf(m, "absent: %u\n", READ_ONCE(gang->nr_preempted) +
		   READ_ONCE(gang->nr_gathering));
	seq_printf(m, "preempted: %u\n", READ_ONCE(gang->nr_preempted));
	seq_printf(m, "gathering: %u\n", READ_ONCE(gang->nr_gathering));
	seq_printf(m, "asleep: %u\n", READ_ONCE(gang->nr_asleep));
	kvm_for_each_vcpu(i, vcpu, kvm) {
		rcu_read_lock();
		tid = pid_nr(rcu_dereference(vcpu->pid));
		rcu_read_unlock();
		seq_printf(m, "vcpu_tid: %d %d\n", vcpu->vcpu_idx, tid);
	}
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

/*
 * Take @vcpu out of guest mode for a co-stop: the request makes it re-check
 * the gate before its next guest entry, the IPI makes a member that is in
 * guest mode exit now (a reschedule IPI is an external-interrupt exit on
 * SVM and VMX).  This is kvm_vcpu_kick() without its wake-up: a member that
 * sleeps (halted or at the gate) passes the gate before it enters guest
 * mode, so waking it would only burn a wake-up.  The ordering is the one of
 * Documentation/virt/kvm/vcpu-requests.rst: kvm_make_request() and the
 * cmpxchg() in kvm_arch_vcpu_should_kick() pair with the smp_store_mb() of
 * vcpu->mode and the request check in the arch run loop.
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

/* Hard IRQ context: one pass over the members per co-stop. */
static void kvm_gang_kick_members(struct kvm_gang *gang)
{
	struct kvm_vcpu *vcpu;
	unsigned long i;

	/* Reopened meanwhile: nobody needs to leave guest mode any more. */
	if (kvm_gang_open(gang))
		return;

	kvm_for_each_vcpu(i, vcpu, gang->kvm)
		kvm_gang_kick(vcpu);
}

static void kvm_gang_kick_work(struct irq_work *work)
{
	kvm_gang_kick_members(container_of(work, struct kvm_gang, kick_work));
}

/* Close the gate; the caller kicks the members once @gang->lock is dropped. */
static void kvm_gang_costop(struct kvm_gang *gang, unsigned int vcpu_id)
{
	lockdep_assert_held(&gang->lock);

	WRITE_ONCE(gang->stopped, true);
	gang->costop_start_ns = ktime_get_ns();
	gang->kvm->stat.generic.gang_costops++;
	trace_kvm_gang_costop(vcpu_id, kvm_gang_nr_absent(gang));
}

/* Open the gate: no member is absent any more. */
static void kvm_gang_costart(struct kvm_gang *gang, unsigned int vcpu_id)
{
	u64 stopped_ns;

	lockdep_assert_held(&gang->lock);

	/* Not waiting for the skew timer's callback, which may run now. */
	hrtimer_try_to_cancel(&gang->skew_timer);
	if (!gang->stopped)
		return;

	WRITE_ONCE(gang->stopped, false);
	stopped_ns = ktime_get_ns() - gang->costop_start_ns;
	gang->kvm->stat.generic.gang_stopped_ns += stopped_ns;
	trace_kvm_gang_costart(vcpu_id, stopped_ns);
}

/*
 * The last preempted member is back while the gate is closed: every member
 * asleep at the gate is woken and counts as absent ("gathering") until it is
 * on a CPU again, so nobody enters guest mode while a woken sibling still
 * waits in a runqueue.  Members only sleep while a member is preempted (see
 * kvm_gang_sleep()), so after this nobody sleeps at the gate until the next
 * preemption: members cannot keep waking each other.  True if any member
 * was marked; the caller wakes them once @gang->lock is dropped.
 */
static bool kvm_gang_gather(struct kvm_gang *gang)
{
	struct kvm_gang_member *member;
	struct kvm_vcpu *vcpu;
	bool marked = false;
	unsigned long i;

	lockdep_assert_held(&gang->lock);

	kvm_for_each_vcpu(i, vcpu, gang->kvm) {
		member = &vcpu->gang_member;
		if (member->asleep && member->absent == KVM_GANG_PRESENT) {
			member->absent = KVM_GANG_GATHERING;
			gang->nr_gathering++;
			marked = true;
		}
	}
	return marked;
}

/* Wake what kvm_gang_gather() marked; a spurious wake-up is harmless. */
static void kvm_gang_wake_gathering(struct kvm_gang *gang)
{
	struct kvm_vcpu *vcpu;
	unsigned long i;

	kvm_for_each_vcpu(i, vcpu, gang->kvm) {
		if (READ_ONCE(vcpu->gang_member.absent) == KVM_GANG_GATHERING)
			__kvm_vcpu_wake_up(vcpu);
	}
}

/*
 * @vcpu is on a CPU again: it no longer counts as absent.  Returns true if
 * sleepers were marked gathering and must be woken.  Runs whatever the mode
 * is now, so the counts always balance.
 */
static bool kvm_gang_member_back(struct kvm_gang *gang, struct kvm_vcpu *vcpu)
{
	struct kvm_gang_member *member = &vcpu->gang_member;
	bool marked = false;

	lockdep_assert_held(&gang->lock);

	switch (member->absent) {
	case KVM_GANG_PRESENT:
		return false;
	case KVM_GANG_PREEMPTED:
		gang->nr_preempted--;
		/*
		 * PRESENT before the gather: a member preempted inside
		 * kvm_gang_sleep() between its check and schedule() (still
		 * TASK_INTERRUPTIBLE, so still "asleep") is gathered and woken
		 * with the others, itself included, or it would go on to sleep
		 * at a gate that opens without it.  Found by the SPIN model.
		 */
		member->absent = KVM_GANG_PRESENT;
		if (!gang->nr_preempted && gang->stopped && gang->nr_asleep)
			marked = kvm_gang_gather(gang);
		break;
	case KVM_GANG_GATHERING:
		gang->nr_gathering--;
		member->absent = KVM_GANG_PRESENT;
		break;
	}

	if (!kvm_gang_nr_absent(gang))
		kvm_gang_costart(gang, vcpu->vcpu_id);
	return marked;
}

/*
 * Relaxed mode, hard IRQ context: co-stop once the gang has missed a member
 * for skew_ns without a break; re-arm for the rest if the absence that armed
 * the timer ended and a newer one began meanwhile.
 */
static enum hrtimer_restart kvm_gang_skew_timer_fn(struct hrtimer *timer)
{
	struct kvm_gang *gang = container_of(timer, struct kvm_gang, skew_timer);
	enum hrtimer_restart restart = HRTIMER_NORESTART;
	u64 absent_ns, skew_ns = READ_ONCE(gang->skew_ns);
	bool kick = false;

	raw_spin_lock(&gang->lock);
	if (READ_ONCE(gang->mode) == KVM_GANG_MODE_RELAXED &&
	    kvm_gang_nr_absent(gang) && !gang->stopped) {
		absent_ns = ktime_get_ns() - gang->absent_since_ns;
		if (absent_ns >= skew_ns) {
			kvm_gang_costop(gang, U32_MAX);
			kick = true;
		} else {
			hrtimer_forward_now(timer, ns_to_ktime(skew_ns - absent_ns));
			restart = HRTIMER_RESTART;
		}
	}
	raw_spin_unlock(&gang->lock);

	if (kick)
		kvm_gang_kick_members(gang);
	return restart;
}

/*
 * kvm_sched_out(): inside __schedule() with the runqueue lock held and IRQs
 * off, so no sleeping and no wake-ups.  A member that wants to run and is
 * still runnable (vcpu->preempted, KVM's own test) lost its CPU: it counts
 * as absent.  Strict: the first absent member closes the gate and queues the
 * co-stop's kicks to an irq_work that runs once this CPU has let go of the
 * runqueue lock; if the gate is closed already this is O(1).  Relaxed: the
 * first absent member arms the skew timer.
 */
void __kvm_gang_sched_out(struct kvm_vcpu *vcpu)
{
	struct kvm_gang_member *member = &vcpu->gang_member;
	struct kvm_gang *gang = READ_ONCE(vcpu->kvm->gang);
	bool kick = false;
	u32 mode;

	if (!gang || !READ_ONCE(vcpu->preempted))
		return;
	mode = READ_ONCE(gang->mode);
	if (mode == KVM_GANG_MODE_OFF)
		return;

	lockdep_assert_irqs_disabled();
	raw_spin_lock(&gang->lock);
	if (member->absent == KVM_GANG_GATHERING) {
		gang->nr_gathering--;
	} else if (!kvm_gang_nr_absent(gang)) {
		gang->absent_since_ns = ktime_get_ns();
		if (mode == KVM_GANG_MODE_RELAXED && !gang->stopped)
			hrtimer_start(&gang->skew_timer,
				      ns_to_ktime(READ_ONCE(gang->skew_ns)),
				      HRTIMER_MODE_REL_HARD);
	}
	member->absent = KVM_GANG_PREEMPTED;
	gang->nr_preempted++;
	if (mode == KVM_GANG_MODE_STRICT && !gang->stopped) {
		kvm_gang_costop(gang, vcpu->vcpu_id);
		kick = true;
	}
	raw_spin_unlock(&gang->lock);

	if (kick)
		irq_work_queue(&gang->kick_work);
}

/*
 * kvm_sched_in(): after the context switch, runqueue lock released,
 * preemption off, IRQs on.  Waking uses the vCPUs' rcuwait, which takes
 * only raw locks, so this is also right on PREEMPT_RT.  A member back while
 * the gate is still closed requests a re-check of the gate: it may have
 * been preempted after it passed the gate on its way into guest mode.
 */
void __kvm_gang_sched_in(struct kvm_vcpu *vcpu)
{
	struct kvm_gang *gang = READ_ONCE(vcpu->kvm->gang);
	unsigned long flags;
	bool marked;

	if (!gang || READ_ONCE(vcpu->gang_member.absent) == KVM_GANG_PRESENT)
		return;

	raw_spin_lock_irqsave(&gang->lock, flags);
	marked = kvm_gang_member_back(gang, vcpu);
	if (gang->stopped)
		kvm_make_request(KVM_REQ_GANG_STOP, vcpu);
	raw_spin_unlock_irqrestore(&gang->lock, flags);

	if (marked)
		kvm_gang_wake_gathering(gang);
}

/* Why kvm_gang_wait() returned; the values are the tracepoint's. */
enum kvm_gang_wait_end {
	KVM_GANG_WAITING = -1,
	KVM_GANG_WAIT_OPEN = 0,
	KVM_GANG_WAIT_SIGNAL,
	KVM_GANG_WAIT_RESCHED,
	KVM_GANG_WAIT_REQUEST,
};

/* What ends a wait: the gate opens, or the run loop has work to do. */
static enum kvm_gang_wait_end kvm_gang_wait_end(struct kvm_vcpu *vcpu,
						struct kvm_gang *gang)
{
	if (kvm_gang_open(gang))
		return KVM_GANG_WAIT_OPEN;
	if (signal_pending(current))
		return KVM_GANG_WAIT_SIGNAL;
	if (need_resched())
		return KVM_GANG_WAIT_RESCHED;
	if (kvm_request_pending(vcpu))
		return KVM_GANG_WAIT_REQUEST;
	return KVM_GANG_WAITING;
}

/*
 * Block at the gate like a halted vCPU: on the vCPU's own rcuwait, so
 * every kvm_vcpu_kick() and every request that comes with one (UNBLOCK,
 * VM_DEAD, interrupts) wakes it, and so does a signal.  Only while a member
 * is preempted: checked under @gang->lock, which kvm_gang_gather() also
 * holds, so a sleeper is either marked gathering when the last preempted
 * member is back or sees that it is back and does not sleep.
 */
static void kvm_gang_sleep(struct kvm_vcpu *vcpu, struct kvm_gang *gang)
{
	struct rcuwait *wait = kvm_arch_vcpu_get_wait(vcpu);
	struct kvm_gang_member *member = &vcpu->gang_member;
	bool asleep, marked;

	prepare_to_rcuwait(wait);
	raw_spin_lock_irq(&gang->lock);
	asleep = gang->nr_preempted && gang->stopped;
	if (asleep) {
		member->asleep = true;
		gang->nr_asleep++;
	}
	raw_spin_unlock_irq(&gang->lock);

	if (asleep) {
		for (;;) {
			set_current_state(TASK_INTERRUPTIBLE);
			if (kvm_gang_wait_end(vcpu, gang) != KVM_GANG_WAITING ||
			    READ_ONCE(member->absent) == KVM_GANG_GATHERING)
				break;
			schedule();
		}
		__set_current_state(TASK_RUNNING);
	}
	finish_rcuwait(wait);
	if (!asleep)
		return;

	raw_spin_lock_irq(&gang->lock);
	member->asleep = false;
	gang->nr_asleep--;
	marked = kvm_gang_member_back(gang, vcpu);
	raw_spin_unlock_irq(&gang->lock);

	if (marked)
		kvm_gang_wake_gathering(gang);
}

/*
 * The gate is closed: spin for up to gang_spin_ns while the CPU has nothing
 * else to do, then sleep while a member is preempted; while only gathering
 * members are missing (a wake-up away) keep spinning.  Every step ends when
 * the run loop has work to do, so this never holds a CPU the scheduler
 * wants, never hides a signal or a request, and never sleeps through a kick.
 * kvm->srcu is dropped for the wait.  True if the gate is open.
 */
static bool kvm_gang_wait(struct kvm_vcpu *vcpu, struct kvm_gang *gang)
{
	u64 start_ns = ktime_get_ns(), spin_end_ns, wait_ns;
	enum kvm_gang_wait_end end;

	kvm_vcpu_srcu_read_unlock(vcpu);
	spin_end_ns = start_ns + READ_ONCE(gang_spin_ns);
	for (;;) {
		end = kvm_gang_wait_end(vcpu, gang);
		if (end != KVM_GANG_WAITING)
			break;
		if (READ_ONCE(gang->nr_preempted) &&
		    (!single_task_running() || ktime_get_ns() >= spin_end_ns)) {
			kvm_gang_sleep(vcpu, gang);
			spin_end_ns = ktime_get_ns() + READ_ONCE(gang_spin_ns);
			continue;
		}
		cpu_relax();
	}
	kvm_vcpu_srcu_read_lock(vcpu);

	wait_ns = ktime_get_ns() - start_ns;
	vcpu->stat.generic.gang_waits++;
	vcpu->stat.generic.gang_wait_ns += wait_ns;
	trace_kvm_gang_wait(vcpu->vcpu_id, wait_ns, end);
	return end == KVM_GANG_WAIT_OPEN;
}

/*
 * The gate, before every guest entry: a state re-checked each time, never a
 * one-shot event, so a member that returns from KVM_RUN (a signal) or is
 * created during a co-stop stops at the next entry like any other.
 * KVM_REQ_GANG_STOP only makes a member that was already past this point
 * cancel its entry and come back here.  The request is cleared before the
 * gate is read, so a co-stop after the read leaves it pending for the
 * check that follows the store of IN_GUEST_MODE.
 */
bool __kvm_gang_may_enter(struct kvm_vcpu *vcpu)
{
	struct kvm_gang *gang = READ_ONCE(vcpu->kvm->gang);

	if (!gang)
		return true;

	if (kvm_check_request(KVM_REQ_GANG_STOP, vcpu) &&
	    xchg(&vcpu->gang_member.kicked, false))
		++vcpu->stat.generic.gang_forced_exits;

	if (kvm_gang_open(gang))
		return true;
	return kvm_gang_wait(vcpu, gang);
}

static struct kvm_gang *kvm_gang_create(struct kvm *kvm, u32 mode,
					u64 skew_ns)
{
	struct kvm_gang *gang;

	lockdep_assert_held(&kvm->lock);

	gang = kzalloc(sizeof(*gang), GFP_KERNEL_ACCOUNT);
	if (!gang)
		return NULL;

	gang->kvm = kvm;
	gang->mode = mode;
	gang->skew_ns = skew_ns;
	raw_spin_lock_init(&gang->lock);
	gang->kick_work = IRQ_WORK_INIT_HARD(kvm_gang_kick_work);
	hrtimer_init(&gang->skew_timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	gang->skew_timer.function = kvm_gang_skew_timer_fn;

	/* Removed with the rest of the VM's debugfs directory. */
	debugfs_create_file("gang", 0444, kvm->debugfs_dentry, kvm,
			    &kvm_gang_debugfs_fops);
	return gang;
}

/* Mode off: open the gate for good and wake every member asleep at it. */
static void kvm_gang_release(struct kvm_gang *gang)
{
	struct kvm_vcpu *vcpu;
	unsigned long i;

	raw_spin_lock_irq(&gang->lock);
	kvm_gang_costart(gang, U32_MAX);
	raw_spin_unlock_irq(&gang->lock);

	kvm_for_each_vcpu(i, vcpu, gang->kvm)
		__kvm_vcpu_wake_up(vcpu);
}

/*
 * Take every vCPU's mutex, or none: -EBUSY if a vCPU is in KVM_RUN or in
 * another vCPU ioctl.  With them all held no vCPU is loaded, so none has
 * its preempt notifier registered and no hook runs for any member: the
 * gang is as quiet as before the first vCPU existed.  Trylock, as arm64's
 * lock_all_vcpus(): userspace stops its vCPUs first instead of this
 * waiting behind a halted vCPU that never leaves KVM_RUN.  kvm->lock is
 * taken outside vcpu->mutex (Documentation/virt/kvm/locking.rst).
 */
static int kvm_gang_lock_vcpus(struct kvm *kvm)
{
	struct kvm_vcpu *vcpu, *locked;
	unsigned long i, j;

	lockdep_assert_held(&kvm->lock);

	kvm_for_each_vcpu(i, vcpu, kvm) {
		if (mutex_trylock(&vcpu->mutex))
			continue;
		kvm_for_each_vcpu(j, locked, kvm) {
			if (j == i)
				break;
			mutex_unlock(&locked->mutex);
		}
		return -EBUSY;
	}
	return 0;
}

static void kvm_gang_unlock_vcpus(struct kvm *kvm)
{
	struct kvm_vcpu *vcpu;
	unsigned long i;

	lockdep_assert_held(&kvm->lock);

	kvm_for_each_vcpu(i, vcpu, kvm)
		mutex_unlock(&vcpu->mutex);
}

/*
 * Turning the gang on, switching between strict and relaxed or changing
 * the threshold needs a quiet gang: before the first vCPU is created, or
 * with every vCPU outside its ioctls (kvm_gang_lock_vcpus(), else -EBUSY),
 * so every member runs its next guest entry under a mode that is already
 * settled.  A vCPU being created meanwhile joins under kvm->lock, after
 * this.  Turning the gang off is allowed at any time and releases every
 * waiter.  kvm->lock orders this against kvm_vm_ioctl_create_vcpu(),
 * which bumps created_vcpus and onlines the vCPU under the same lock.  The
 * static key is taken before kvm->lock (it takes the CPU hotplug lock) and
 * given back if unused.
 */
int kvm_gang_enable_cap(struct kvm *kvm, struct kvm_enable_cap *cap)
{
	bool key_taken = false, key_kept = false;
	struct kvm_gang *gang;
	u64 skew_ns;
	u32 mode;
	int r;

	r = kvm_gang_parse_cap(cap, &mode, &skew_ns);
	if (r)
		return r;

	if (mode != KVM_GANG_MODE_OFF) {
		static_branch_inc(&kvm_gang_active);
		key_taken = true;
	}

	mutex_lock(&kvm->lock);
	gang = kvm->gang;
	/* Off without a gang: nothing to record, nothing to free. */
	if (!gang && mode == KVM_GANG_MODE_OFF)
		goto out_unlock;

	if (mode == KVM_GANG_MODE_OFF) {
		WRITE_ONCE(gang->skew_ns, 0);
		WRITE_ONCE(gang->mode, mode);
		kvm_gang_release(gang);
		goto out_unlock;
	}

	r = kvm_gang_lock_vcpus(kvm);
	if (r)
		goto out_unlock;

	if (!gang) {
		gang = kvm_gang_create(kvm, mode, skew_ns);
		if (!gang) {
			r = -ENOMEM;
			goto out_unlock_vcpus;
		}
		/* The vCPUs that exist already; later ones join. */
		gang->nr_members = atomic_read(&kvm->online_vcpus);
		gang->holds_key = true;
		key_kept = true;
		/* Pairs with READ_ONCE(kvm->gang) in the hooks. */
		smp_store_release(&kvm->gang, gang);
	}

	/* Quiet: nobody is absent, nobody waits, the gate is open. */
	WARN_ON_ONCE(kvm_gang_nr_absent(gang) || gang->nr_asleep ||
		     gang->stopped);
	WRITE_ONCE(gang->skew_ns, skew_ns);
	WRITE_ONCE(gang->mode, mode);

out_unlock_vcpus:
	kvm_gang_unlock_vcpus(kvm);
out_unlock:
	mutex_unlock(&kvm->lock);
	if (key_taken && !key_kept)
		static_branch_dec(&kvm_gang_active);
	return r;
}

/*
 * Called under kvm->lock once the vCPU is online; vCPUs leave with the VM.
 * The first vCPU of a VM without a gang gets one if gang_default_mode asks.
 */
void kvm_gang_vcpu_join(struct kvm_vcpu *vcpu)
{
	u32 mode = READ_ONCE(gang_default_mode);
	struct kvm *kvm = vcpu->kvm;
	struct kvm_gang *gang;

	lockdep_assert_held(&kvm->lock);

	gang = kvm->gang;
	if (!gang && mode != KVM_GANG_MODE_OFF &&
	    atomic_read(&kvm->online_vcpus) == 1) {
		gang = kvm_gang_create(kvm, mode,
				       mode == KVM_GANG_MODE_RELAXED ?
				       KVM_GANG_SKEW_NS_DEFAULT : 0);
		if (gang) {
			/* Pairs with READ_ONCE(kvm->gang) in the hooks. */
			smp_store_release(&kvm->gang, gang);
		}
	}
	if (gang)
		gang->nr_members++;
}

/*
 * Called from kvm_destroy_vm() once every vCPU file is closed, before the
 * vCPUs are freed: no member is in KVM_RUN, so nothing arms the timer or
 * queues the kicks again; wait for a run that may still be in flight.
 */
void kvm_gang_destroy(struct kvm *kvm)
{
	struct kvm_gang *gang = kvm->gang;

	if (!gang)
		return;

	irq_work_sync(&gang->kick_work);
	hrtimer_cancel(&gang->skew_timer);
	if (gang->holds_key)
		static_branch_dec(&kvm_gang_active);
	WRITE_ONCE(kvm->gang, NULL);
	kfree(gang);
}
