// SPDX-License-Identifier: GPL-2.0
/*
 * scx_gang: gang scheduling for KVM gangs (KVM_CAP_GANG), the policy half of
 * kvm-gang.  KVM keeps the mechanism: a strict gang's members never run
 * guest code while a sibling that wants to run is off its CPU.  This
 * scheduler makes that rare: it hands the CPUs to one gang at a time, all
 * of its members at once, for a gang time slice, and then takes them back
 * all at once.
 *
 * Time is cut into slots of slice_ns.  A slot belongs to one gang or to
 * "the others" (every task that is not a gang member); the others' slot
 * ends early once none of them has work left.  At the start of a
 * slot every CPU is kicked with preemption: the previous owner's tasks go
 * back to their queues, and each CPU's ops.dispatch() takes the owner's
 * member placed on that CPU, which then runs until the slot ends.  Slots
 * go round robin over the gangs that have
 * a member waiting and, when non-members wait, the others; an owner nobody
 * competes with keeps the CPUs.  A CPU the owner leaves unused (a halted
 * vCPU, a gang narrower than the machine) runs non-members meanwhile, and a
 * member that wakes up takes its CPU back at once.
 *
 * Placement: a member pinned to one CPU runs there (operators pin vCPU i to
 * CPU i); an unpinned member i runs on CPU i modulo the number of CPUs.
 *
 * Queues: one FIFO DSQ per gang (GANG_DSQ()) for members whose gang does
 * not own the CPUs, and OTHERS_DSQ, ordered by weighted vtime as in
 * scx_simple, for everyone else.
 *
 * Membership comes from KVM: the loader (scx_gang.c) reads each VM's gang
 * debugfs file, which lists the vCPU threads, and fills the members and
 * gang_cfgs maps.  Per gang, the scheduler records the slots in which
 * members ran and the co-start skew of each: the time from the first
 * member of a slot on its CPU to the last.
 *
 * If this scheduler stops or is ejected, every task goes back to the fair
 * class; KVM's gate still holds.
 */
#include <scx/common.bpf.h>

char _license[] SEC("license") = "GPL";

#define MAX_GANGS	64
#define MAX_MEMBERS	64
#define NR_SKEW		256
#define OTHERS_DSQ	0
#define GANG_DSQ(gang)	(1 + (u64)(gang))
/* The slot owner that stands for the non-members. */
#define OTHERS		MAX_GANGS

/* Set by the loader before the program is loaded. */
u64 slice_ns = 10ULL * 1000 * 1000;

UEI_DEFINE(uei);

/* Loader-owned: the gang and the index (vCPU id) of each member thread. */
struct member {
	u32 gang;
	u32 idx;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, s32);		/* thread id */
	__type(value, struct member);
	__uint(max_entries, 4096);
} members SEC(".maps");

/* Loader-owned: which gang ids are in use, and their sizes. */
struct gang_cfg {
	u32 active;
	u32 nr_members;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, u32);
	__type(value, struct gang_cfg);
	__uint(max_entries, MAX_GANGS);
} gang_cfgs SEC(".maps");

/* Scheduler-owned, read by the loader. */
struct gang_stats {
	u64 slots;		/* slots in which a member ran */
	u64 nr_skew;		/* samples so far; the next goes to skew_ns[nr_skew % NR_SKEW] */
	u64 skew_ns[NR_SKEW];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, u32);
	__type(value, struct gang_stats);
	__uint(max_entries, MAX_GANGS);
} gang_stats SEC(".maps");

/* The last slot in which each member started (counted once per slot). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, u32);
	__type(value, u64);
	__uint(max_entries, MAX_GANGS * MAX_MEMBERS);
} member_slot SEC(".maps");

/* Per gang, its members' starts in the current slot: the first, the last, how many. */
struct gang_slot {
	struct bpf_spin_lock lock;
	u64 slot;
	u64 first_ns;
	u64 last_ns;
	u32 nr_started;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, u32);
	__type(value, struct gang_slot);
	__uint(max_entries, MAX_GANGS);
} gang_slots SEC(".maps");

/* Per task: counted in nr_others_running. */
struct task_ctx {
	bool other_running;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctxs SEC(".maps");

struct slot_timer {
	struct bpf_timer timer;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, u32);
	__type(value, struct slot_timer);
	__uint(max_entries, 1);
} slot_timer SEC(".maps");

/* The current slot: its owner (a gang id or OTHERS), number and start. */
static u32 slot_owner = OTHERS;
static u64 slot_nr;
static u64 slot_start_ns;
/* Non-members on a CPU now: the others' slot lasts while they have work. */
static s64 nr_others_running;
/* Where the round robin resumes. */
static u32 rr_next;
static u64 vtime_now;

/* Read by the loader. */
u64 nr_gang_slots, nr_others_slots;

static struct member *member_of(const struct task_struct *p)
{
	struct gang_cfg *cfg;
	struct member *m;
	s32 pid = p->pid;

	m = bpf_map_lookup_elem(&members, &pid);
	if (!m)
		return NULL;
	cfg = bpf_map_lookup_elem(&gang_cfgs, &m->gang);
	if (!cfg || !cfg->active)
		return NULL;
	return m;
}

static s32 member_cpu(const struct task_struct *p, const struct member *m)
{
	u32 nr_cpus = scx_bpf_nr_cpu_ids();
	s32 cpu;

	if (p->nr_cpus_allowed == 1 || !nr_cpus)
		return bpf_cpumask_first(p->cpus_ptr);
	cpu = m->idx % nr_cpus;
	if (bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
		return cpu;
	return bpf_cpumask_first(p->cpus_ptr);
}

static inline bool vtime_before(u64 a, u64 b)
{
	return (s64)(a - b) < 0;
}

s32 BPF_STRUCT_OPS(gang_select_cpu, struct task_struct *p, s32 prev_cpu,
		   u64 wake_flags)
{
	struct member *m = member_of(p);
	bool is_idle = false;

	if (m)
		return member_cpu(p, m);
	return scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
}

void BPF_STRUCT_OPS(gang_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct member *m = member_of(p);
	u64 vtime;

	if (m) {
		/*
		 * Members go onto a CPU only from ops.dispatch(), which checks
		 * the owner then: one queued on a CPU's local DSQ would run
		 * there even after its gang lost the slot.  They run until the
		 * slot ends (the timer kicks them off).  The owner's member
		 * takes its CPU back at once.
		 */
		scx_bpf_dispatch(p, GANG_DSQ(m->gang), SCX_SLICE_INF, enq_flags);
		if (m->gang == READ_ONCE(slot_owner))
			scx_bpf_kick_cpu(member_cpu(p, m), SCX_KICK_PREEMPT);
		return;
	}

	/* An idle task's budget is at most one slice, as in scx_simple. */
	vtime = p->scx.dsq_vtime;
	if (vtime_before(vtime, vtime_now - slice_ns))
		vtime = vtime_now - slice_ns;
	scx_bpf_dispatch_vtime(p, OTHERS_DSQ, slice_ns, vtime, enq_flags);
}

/* Record the slot that ends: did the gang run, and how far apart it started. */
static void slot_close(u32 gang, u64 slot)
{
	struct gang_stats *stats;
	struct gang_slot *gs;
	u64 skew = 0;
	u32 nr = 0;

	gs = bpf_map_lookup_elem(&gang_slots, &gang);
	stats = bpf_map_lookup_elem(&gang_stats, &gang);
	if (!gs || !stats)
		return;
	bpf_spin_lock(&gs->lock);
	if (gs->slot == slot) {
		nr = gs->nr_started;
		skew = gs->last_ns - gs->first_ns;
	}
	bpf_spin_unlock(&gs->lock);
	if (!nr)
		return;
	__sync_fetch_and_add(&stats->slots, 1);
	if (nr < 2)
		return;
	stats->skew_ns[stats->nr_skew % NR_SKEW] = skew;
	__sync_fetch_and_add(&stats->nr_skew, 1);
}

/* A gang wants the CPUs when one of its members waits for them. */
static bool gang_waits(u32 gang)
{
	struct gang_cfg *cfg = bpf_map_lookup_elem(&gang_cfgs, &gang);

	return cfg && cfg->active && scx_bpf_dsq_nr_queued(GANG_DSQ(gang)) > 0;
}

/* Who waits next in the round robin; @owner if nobody else does. */
static u32 slot_pick(u32 owner)
{
	u32 i, candidate;

	bpf_for(i, 0, MAX_GANGS + 1) {
		candidate = (READ_ONCE(rr_next) + i) % (MAX_GANGS + 1);
		if (candidate == OTHERS ? scx_bpf_dsq_nr_queued(OTHERS_DSQ) > 0 :
					  gang_waits(candidate)) {
			WRITE_ONCE(rr_next, (candidate + 1) % (MAX_GANGS + 1));
			return candidate;
		}
	}
	return owner;
}

/*
 * End slot @slot of @owner and hand the CPUs to @next, kicked together.
 * The timer and ops.dispatch() may both try: the one that moves slot_nr
 * on does it.
 */
static void slot_switch(u64 slot, u32 owner, u32 next)
{
	s32 cpu;

	if (next == owner || __sync_val_compare_and_swap(&slot_nr, slot, slot + 1) != slot)
		return;
	if (owner != OTHERS)
		slot_close(owner, slot);
	WRITE_ONCE(slot_start_ns, bpf_ktime_get_ns());
	WRITE_ONCE(slot_owner, next);
	if (next == OTHERS)
		__sync_fetch_and_add(&nr_others_slots, 1);
	else
		__sync_fetch_and_add(&nr_gang_slots, 1);
	/* The new owner starts on every CPU together. */
	bpf_for(cpu, 0, scx_bpf_nr_cpu_ids())
		scx_bpf_kick_cpu(cpu, SCX_KICK_PREEMPT);
}

void BPF_STRUCT_OPS(gang_dispatch, s32 cpu, struct task_struct *prev)
{
	u64 slot = READ_ONCE(slot_nr);
	u32 owner = READ_ONCE(slot_owner);
	struct task_struct *p;
	struct task_ctx *tctx;
	struct member *m;
	s64 leaving = 0;

	if (owner != OTHERS) {
		bpf_for_each(scx_dsq, p, GANG_DSQ(owner), 0) {
			m = member_of(p);
			if (!m || member_cpu(p, m) != cpu)
				continue;
			if (scx_bpf_dispatch_from_dsq(BPF_FOR_EACH_ITER, p,
						      SCX_DSQ_LOCAL, 0))
				return;
		}
		/* The owner's member of this CPU is still runnable: go on. */
		if (prev && (prev->scx.flags & SCX_TASK_QUEUED)) {
			m = member_of(prev);
			if (m && m->gang == owner) {
				prev->scx.slice = SCX_SLICE_INF;
				return;
			}
		}
	}
	if (scx_bpf_consume(OTHERS_DSQ) || owner != OTHERS)
		return;
	/*
	 * The others' slot, and none of them has work left: a waiting gang
	 * need not wait for the timer.  One still queued has work, even if
	 * it cannot run on this CPU (a task pinned to another that has not
	 * picked it yet).  @prev, a non-member on its way to sleep, counts as
	 * running until its ops.stopping().
	 */
	if (scx_bpf_dsq_nr_queued(OTHERS_DSQ))
		return;
	if (prev && !(prev->scx.flags & SCX_TASK_QUEUED)) {
		tctx = bpf_task_storage_get(&task_ctxs, prev, 0, 0);
		leaving = tctx && tctx->other_running;
	}
	if (READ_ONCE(nr_others_running) > leaving)
		return;
	slot_switch(slot, OTHERS, slot_pick(OTHERS));
}

/*
 * A member of @gang started on its CPU: count its first start of the slot.
 * Not inlined: merged into gang_running() by the compiler, its loads would
 * share instructions with the vtime ones, which the verifier refuses.
 */
static __noinline int member_started(u32 gang, u32 idx)
{
	u64 now = bpf_ktime_get_ns(), slot = READ_ONCE(slot_nr);
	struct gang_slot *gs;
	u64 *seen;
	u32 key;

	if (gang != READ_ONCE(slot_owner) || gang >= MAX_GANGS || idx >= MAX_MEMBERS)
		return 0;
	key = gang * MAX_MEMBERS + idx;
	seen = bpf_map_lookup_elem(&member_slot, &key);
	gs = bpf_map_lookup_elem(&gang_slots, &gang);
	if (!seen || !gs || *seen == slot)
		return 0;
	*seen = slot;

	bpf_spin_lock(&gs->lock);
	if (gs->slot != slot) {
		gs->slot = slot;
		gs->first_ns = now;
		gs->last_ns = now;
		gs->nr_started = 1;
	} else {
		if (now < gs->first_ns)
			gs->first_ns = now;
		if (now > gs->last_ns)
			gs->last_ns = now;
		gs->nr_started++;
	}
	bpf_spin_unlock(&gs->lock);
	return 0;
}

void BPF_STRUCT_OPS(gang_running, struct task_struct *p)
{
	struct member *m = member_of(p);
	struct task_ctx *tctx;

	if (m) {
		member_started(m->gang, m->idx);
		return;
	}
	tctx = bpf_task_storage_get(&task_ctxs, p, 0, 0);
	if (tctx && !tctx->other_running) {
		tctx->other_running = true;
		__sync_fetch_and_add(&nr_others_running, 1);
	}
	/* Racy as in scx_simple: an error is small and temporary. */
	if (vtime_before(vtime_now, p->scx.dsq_vtime))
		vtime_now = p->scx.dsq_vtime;
}

void BPF_STRUCT_OPS(gang_stopping, struct task_struct *p, bool runnable)
{
	struct task_ctx *tctx = bpf_task_storage_get(&task_ctxs, p, 0, 0);

	/* Uncounted by the flag, not by membership, which may change meanwhile. */
	if (tctx && tctx->other_running) {
		tctx->other_running = false;
		__sync_fetch_and_sub(&nr_others_running, 1);
	}
	/* Non-members: charge the time run, scaled by weight. */
	if (!member_of(p) && p->scx.slice <= slice_ns)
		p->scx.dsq_vtime += (slice_ns - p->scx.slice) * 100 / p->scx.weight;
}

/* The task's storage is made here, where allocating may sleep, not in the hot paths. */
s32 BPF_STRUCT_OPS_SLEEPABLE(gang_init_task, struct task_struct *p,
			     struct scx_init_task_args *args)
{
	if (bpf_task_storage_get(&task_ctxs, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE))
		return 0;
	return -ENOMEM;
}

void BPF_STRUCT_OPS(gang_enable, struct task_struct *p)
{
	p->scx.dsq_vtime = vtime_now;
}

static int slot_timerfn(void *map, int *key, struct bpf_timer *timer)
{
	u64 slot = READ_ONCE(slot_nr), ran = bpf_ktime_get_ns() - READ_ONCE(slot_start_ns);
	u32 owner = READ_ONCE(slot_owner);

	/* A slot that began early (the others ran out of work) gets its slice. */
	if (ran + slice_ns / 4 < slice_ns) {
		bpf_timer_start(timer, slice_ns - ran, 0);
		return 0;
	}
	slot_switch(slot, owner, slot_pick(owner));
	bpf_timer_start(timer, slice_ns, 0);
	return 0;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(gang_init)
{
	struct bpf_timer *timer;
	u32 gang, key = 0;
	s32 ret;

	ret = scx_bpf_create_dsq(OTHERS_DSQ, -1);
	if (ret)
		return ret;
	bpf_for(gang, 0, MAX_GANGS) {
		ret = scx_bpf_create_dsq(GANG_DSQ(gang), -1);
		if (ret)
			return ret;
	}

	timer = bpf_map_lookup_elem(&slot_timer, &key);
	if (!timer)
		return -ESRCH;
	bpf_timer_init(timer, &slot_timer, CLOCK_MONOTONIC);
	bpf_timer_set_callback(timer, slot_timerfn);
	return bpf_timer_start(timer, slice_ns, 0);
}

void BPF_STRUCT_OPS(gang_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SCX_OPS_DEFINE(gang_ops,
	       .select_cpu		= (void *)gang_select_cpu,
	       .enqueue			= (void *)gang_enqueue,
	       .dispatch		= (void *)gang_dispatch,
	       .running			= (void *)gang_running,
	       .stopping		= (void *)gang_stopping,
	       .init_task		= (void *)gang_init_task,
	       .enable			= (void *)gang_enable,
	       .init			= (void *)gang_init,
	       .exit			= (void *)gang_exit,
	       .name			= "gang");
