/*
 * Promela model of the kvm-gang protocol, strict and relaxed
 * (docs/strict-protocol.md; virt/kvm/gang/gang.c; the x86 hook of
 * kernel-patches/0006).  Every step names the kernel code it stands for;
 * scripts/model-check searches it.
 *
 * WHAT IS MODELLED
 *
 * N vCPU threads of one VM (N = 2 or 3) with bounded budgets of events:
 * PREEMPTS preemptions and SIGNALS signals shared by all vCPUs, RUNS0 and
 * RUNS calls of KVM_RUN for vCPU 0 and for the others, HALTS1 HLT exits
 * of vCPU 1.  Guest entries are not bounded.  Each thread:
 *
 *   userspace -> KVM_RUN: vcpu_load() (preempt notifiers on; wants_to_run)
 *   vcpu_run() loop, at every lap: a signal -> KVM_EXIT_INTR, back to
 *     userspace; or any exit that needs userspace (r = 0); or
 *   vcpu_enter_guest() -> kvm_gang_may_enter(): clear KVM_REQ_GANG_STOP,
 *     read the gate (stopped, mode): open -> on; closed -> kvm_gang_wait():
 *       gate open -> on; signal or request pending -> r = 1 through
 *       cancel_injection, back to the run loop; a member PREEMPTED (and
 *       the spin is over) -> kvm_gang_sleep(): under gang->lock sleep only
 *       if a member is PREEMPTED and the gate closed (asleep,
 *       nr_asleep++); then loop: set_current_state(TASK_INTERRUPTIBLE),
 *       leave if the wait would end or the member is GATHERING, else
 *       schedule(); then under the lock clear asleep and
 *       kvm_gang_member_back(), wake what that marked; back to the wait
 *   -> smp_store_mb(vcpu->mode, IN_GUEST_MODE) (preemption and IRQs off),
 *      kvm_vcpu_exit_request(): a request pending or EXITING_GUEST_MODE
 *      -> cancel, r = 1; else guest mode until a VM exit (the kick's IPI or
 *      any other reason) -> run loop, or a HLT exit -> vcpu_block()
 *   -> vcpu_put() (notifiers off), userspace; the thread ends when its
 *      KVM_RUN budget is spent.
 *
 * The scheduler.  The project's kernels are CONFIG_PREEMPT and PREEMPT_RT,
 * so a vCPU task running kernel code with preemption on may be preempted at
 * any point: the run loop, between the gate and preempt_disable(), the
 * wait loop, every gap of kvm_gang_sleep() outside the lock (also between
 * the check and schedule(), with TASK_INTERRUPTIBLE set: __schedule() does
 * not block a preempted task, so it stays runnable and kvm_sched_out()
 * counts it), and the halt-poll before vcpu_block() sleeps.  Guest mode
 * and the IRQs-off stretch around it are not preemptible: a tick there is
 * a VM exit and the preemption happens at the next point.  A preemption is
 * kvm_sched_out() -> kvm_gang_sched_out(), one step (runqueue lock and
 * gang->lock, IRQs off); the task is then runnable and off its CPU until
 * its own kvm_sched_in() -> kvm_gang_sched_in() step (gang->lock), whose
 * wake-ups follow (preemption still off).  A task that calls schedule() in
 * TASK_INTERRUPTIBLE is dequeued and not counted; a wake-up (the vCPU's
 * rcuwait: kvm_gang_wake_gathering(), kvm_gang_release()) or a signal sets
 * TASK_RUNNING and enqueues it: it is then runnable and queued ("woken, not
 * on a CPU yet") until its kvm_sched_in() step.  Every task that stays
 * runnable eventually runs (weak fairness, in the liveness search).
 *
 * Kicks.  A co-stop (strict: kvm_gang_sched_out(); relaxed: the skew timer)
 * closes the gate under the lock and queues one pass over the members
 * (kick_work, a hard irq_work: deferred), which the kicker process runs at
 * any later time: gate open -> nothing; else one step per member in
 * kvm_for_each_vcpu() order: kvm_make_request(KVM_REQ_GANG_STOP), then the
 * cmpxchg of kvm_arch_vcpu_should_kick() (IN_GUEST_MODE ->
 * EXITING_GUEST_MODE) and the IPI.  The IPI stays pending at the member's
 * CPU until the member takes it: as its VM exit in guest mode, or when it
 * enables IRQs after cancelling an entry.  Together with the vCPU's two
 * steps (store IN_GUEST_MODE; check the requests) this is the pairing of
 * Documentation/virt/kvm/vcpu-requests.rst.
 *
 * Relaxed mode (-DMODE=RELAXED).  The skew timer is an abstract event that
 * may fire whenever the gang is relaxed, a member is absent and the gate
 * is open: time is not modelled, and in exactly those states the timer is
 * armed (by the first absence) or re-arms itself (an older absence ended).
 * It co-stops and kicks like a strict co-stop.
 *
 * Mode off (-DMODE_OFF).  An operator thread runs KVM_ENABLE_CAP(off) once,
 * at any time: mode = off; gang->lock and the co-start; every vCPU woken.
 * kvm_gang_sched_out() then reads the mode before it takes the lock (one
 * more step), so a late co-stop after the release is covered.
 *
 * GHOST STATE
 *
 * oncpu[i] is the real on-CPU state of the task, written by the scheduler
 * steps (switch out, switch in, block), never by the code's counters.
 * inrun[i]: between vcpu_load() and vcpu_put() of KVM_RUN.  blocked[i]:
 * dequeued by schedule().  A member "wants to run and is off its CPU"
 * (WANTS_OFF) if it is inside KVM_RUN, runnable and not on a CPU: preempted,
 * or woken from the gate (by a co-start's gather, a signal, mode off) and
 * still queued.  Excluded, as the spec excludes it (its window 2): a member
 * woken from HLT counts only once it is on a CPU (hwoken[i]); halted
 * members are blocked and do not want to run.  ing[i]: in guest mode, i.e.
 * IN_GUEST_MODE stored and the request check passed, executing guest code
 * until the VM exit.  past[i]: read the gate open and not out of the entry
 * since.  kpend[i]: a co-stop happened while member i was past the gate on
 * a CPU (it may enter, or be, in guest mode before its kick), and the pass
 * that owes it the kick has not reached it; ipi[i]: the kick's IPI is
 * pending at its CPU.
 *
 * PROPERTIES (assertions of the monitor, in every reachable state)
 *
 *  strict_guarantee: while the gang is strict, no member is in guest mode
 *    while another member wants to run and is off its CPU, except the kick
 *    latency (the spec's window 1): a member owed a kick by a pass that is
 *    queued or running (kpend), or with the kick's IPI pending (ipi; it
 *    leaves guest mode when it takes the IPI).  A member that passes the
 *    gate after a co-stop, or comes back from a preemption to a closed
 *    gate, gets no such allowance.
 *  relaxed_guarantee: from the skew timer's co-stop until every member
 *    that wants to run is on a CPU again (rfired), no member is in guest
 *    mode, except the same kick latency.
 *  no_lost_wakeup: no member sleeps at the gate (dequeued in
 *    kvm_gang_sleep()) while the gate is open, unless a wake-up for it is
 *    still to come (mode off's, or a gather's).
 *  counts: nr_preempted, nr_gathering and nr_asleep equal the numbers of
 *    members marked PREEMPTED, GATHERING and asleep.
 *  No invalid end state: every thread ends in userspace (a member left
 *    asleep, or a gang left waiting for good, is a deadlock).
 *  Liveness (-DLIVE; pan -a -f, weak fairness): ltl "live": no member
 *    waits at the gate forever.  gw[i] is set when member i finds the gate
 *    closed and cleared when it is in guest mode or out of KVM_RUN;
 *    []<> !gw[i] for every member.
 *
 * COARSENINGS (a step is as coarse as is faithful)
 *
 *  - What runs under gang->lock is one step, and so is
 *    kvm_gang_sched_out() (runqueue lock too); it reads the mode before
 *    the lock, one step apart only with -DMODE_OFF (else it never changes).
 *  - A check of several variables is one step when each of them is either
 *    only cleared by the reader (signal, requests, GATHERING: once set it
 *    stays set while the reader looks) or is read once (the gate): the
 *    outcome equals that of one read at the instant the deciding variable
 *    was read.  So: kvm_check_request() and the gate read (only the kicker
 *    sets the request in between, and it kicks a closed gate, so the
 *    request is left for the wait's check either way);
 *    kvm_gang_wait_end() with the nr_preempted hint (re-checked under the
 *    lock: its timing only decides whether the lock is taken); the sleep
 *    loop's check.
 *  - Only the target reads its request and mode, so one kick is one step
 *    (request, then cmpxchg): a target that runs between the two sees
 *    what one of the two orders gives.
 *  - kvm_gang_wake_gathering() is one step per sibling (a marked member
 *    can leave GATHERING in between by being preempted); the waker's own
 *    read is folded into a neighbour's step (only the waker reads its own
 *    task state, after the pass).  kvm_gang_release() wakes everybody in
 *    one step: after mode = off nobody passes a sleep check any more.
 *  - A signal is read only by its target: it arrives just before the
 *    target reads signal_pending(), or as the wake-up of a sleeping
 *    target, which covers every arrival time.  An interrupt's
 *    kvm_vcpu_kick() ends a wait or a sleep at the gate the same way (back
 *    to the run loop, which then passes the gate again), so signals and
 *    the co-stop's request cover it.
 *  - need_resched() ending a wait is the preemption of the waiter: the code
 *    returns to the run loop and schedule()s there, then passes the gate
 *    again; the model's waiter is preempted where it waits and, back on a
 *    CPU, finds the gate open, or the request kvm_gang_sched_in() makes
 *    while it is closed, which sends it back through the gate.
 *  - The spin (cpu_relax()) is no step: a waiter moves when what it reads
 *    changes, so a gang that waits for good is an invalid end state.
 *  - The IPI to the kicker's own CPU is skipped by the code: a target in
 *    IN_GUEST_MODE has IRQs off, so it runs on another CPU.
 *  - The run loop's exits to userspace are allowed at every lap.
 *
 * MUTANTS (scripts/model-check requires a counterexample from each)
 *
 *  -DMUTANT_ONE_SHOT: the old design: the gate is consulted only while
 *    KVM_REQ_GANG_STOP is pending, and the request is consumed.  Checked
 *    with -DCHECK_LOST_COSTOP, whose one assertion costop_kept says that a
 *    member that took the request of the co-stop that still holds the gate
 *    closed runs no guest code: the counterexample is the lost co-stop
 *    after a signal (the member leaves for userspace and enters at its
 *    next KVM_RUN).  strict_guarantee fails earlier (an entry between the
 *    co-stop and the kick).
 *  -DMUTANT_NO_GATHER: the last member back wakes the sleepers without
 *    counting them absent; the gate opens while they wait in a runqueue
 *    (strict_guarantee).
 *  -DMUTANT_NO_RECHECK: kvm_gang_sleep() re-checks only the gate under the
 *    lock, not nr_preempted: a member goes to sleep after the gather
 *    that should have woken it (no_lost_wakeup).
 *  -DMUTANT_NO_EXIT_REQUEST: no request check after the store of
 *    IN_GUEST_MODE (strict_guarantee).
 *  -DMUTANT_NO_SELF_REQUEST: kvm_gang_sched_in() does not make
 *    KVM_REQ_GANG_STOP for a member back while the gate is closed
 *    (strict_guarantee).
 *  -DMUTANT_GATHER_BEFORE_PRESENT: kvm_gang_member_back() gathers before
 *    it marks the member PRESENT (gang.c before the fix this model found):
 *    a member preempted in kvm_gang_sleep() between its check and
 *    schedule() whose own return is the last one is left out of its own
 *    gather (still PREEMPTED during kvm_gang_gather()); it then sleeps at
 *    an open gate with nobody to wake it (no_lost_wakeup; the liveness
 *    search gives an acceptance cycle).  docs/strict-protocol.md ("The
 *    model") has the trail.
 *  -DGUARANTEE_ONLY and -DWAKEUP_ONLY keep only the two guarantees, or
 *  only no_lost_wakeup and counts, so that a mutant is judged on its own.
 *
 * The vcpu proctype must stay the first one declared: vCPU i is _pid i.
 */

#ifndef N
#define N		2
#endif
#ifndef MODE
#define MODE		STRICT
#endif
#ifndef PREEMPTS
#define PREEMPTS	2
#endif
#ifndef SIGNALS
#define SIGNALS		1
#endif
#ifndef RUNS0
#define RUNS0		2
#endif
#ifndef RUNS
#define RUNS		1
#endif
#ifndef HALTS1
#define HALTS1		0
#endif

#define OFF		0	/* KVM_GANG_MODE_OFF */
#define STRICT		1
#define RELAXED		2

#define PRESENT		0	/* enum kvm_gang_absence */
#define PREEMPTED	1
#define GATHERING	2

#define OUTSIDE_GUEST_MODE	0
#define IN_GUEST_MODE		1
#define EXITING_GUEST_MODE	2

/* struct kvm_gang */
byte mode = MODE;
bit stopped;			/* the gate */
byte nr_preempted;
byte nr_gathering;
byte nr_asleep;
bit kick_work;			/* a pass over the members is queued */
bit inpass;			/* ghost: the kicker is in a pass */
/* struct kvm_gang_member, the vCPU's request bit and mode */
byte absent[N];
bit asleep[N];
bit req[N];			/* KVM_REQ_GANG_STOP */
byte vmode[N];			/* vcpu->mode */
/* the tasks */
bit oncpu[N] = 1;		/* ghost: on a CPU */
bit inrun[N];			/* inside KVM_RUN */
bit tint[N];			/* __state == TASK_INTERRUPTIBLE (gate sleep) */
bit blocked[N];			/* dequeued by schedule() */
bit hwoken[N];			/* ghost: woken from HLT, not on a CPU yet */
bit sig[N];			/* signal_pending() */
/* ghosts of the properties */
bit ing[N];			/* in guest mode */
bit ipi[N];			/* a kick's IPI is pending */
bit past[N];			/* read the gate open, not out of guest mode yet */
bit kpend[N];			/* owed a kick: past the gate, on a CPU at a co-stop */
bit rfired;			/* relaxed: timer co-stopped, members still off */
bit owake;			/* mode off: wake-ups still to come */
bit wpend[N];			/* marked by a gather, its wake-up still to come */
#ifdef LIVE
bit gw[N];			/* waiting at the gate */
#endif
#ifdef CHECK_LOST_COSTOP
bit gotkick[N];			/* took the request of the co-stop that holds */
#endif
byte npre = PREEMPTS;
byte nsig = SIGNALS;

#define OPEN		(mode == OFF || !stopped)	/* kvm_gang_open() */
#define NR_ABSENT	(nr_preempted + nr_gathering)
#define WANTS_OFF(j)	(inrun[j] && !oncpu[j] && !blocked[j] && !hwoken[j])
#define KICK_OWED(j)	(kpend[j] && (kick_work || inpass))
#define GUEST_BAD(j)	(ing[j] && !KICK_OWED(j) && !ipi[j])
#define LOST(j)		(blocked[j] && tint[j] && OPEN && !owake && !wpend[j])
#if N == 2
#define ANY(P)		(P(0) || P(1))
#define COUNT(P)	(P(0) + P(1))
#else
#define ANY(P)		(P(0) || P(1) || P(2))
#define COUNT(P)	(P(0) + P(1) + P(2))
#endif
#if N == 2
#define EACH(S)		S(0); S(1)
#else
#define EACH(S)		S(0); S(1); S(2)
#endif
#define IS_PREEMPTED(j)	(absent[j] == PREEMPTED)
#define IS_GATHERING(j)	(absent[j] == GATHERING)
#define IS_ASLEEP(j)	(asleep[j] == 1)

/* The relaxed window ends when every member that wants to run is on a CPU. */
#define RFIRED_END	if :: rfired && !ANY(WANTS_OFF) -> rfired = 0 :: else fi

/* kvm_gang_costop(), and the pass it leaves owed */
#define KPEND(j)	if :: past[j] && oncpu[j] -> kpend[j] = 1 :: else fi
inline costop()
{
	stopped = 1;
	kick_work = 1;
	EACH(KPEND)
}

/* kvm_gang_costart(); hrtimer_try_to_cancel() is implicit (RELAXED) */
#define GOTKICK_CLEAR(j)	gotkick[j] = 0
inline costart()
{
#ifdef CHECK_LOST_COSTOP
	EACH(GOTKICK_CLEAR);
#endif
	stopped = 0
}

/* kvm_gang_gather(): mark the sleepers, woken after the unlock */
#ifndef MUTANT_NO_GATHER
#define GATHER(j)	if \
			:: asleep[j] && absent[j] == PRESENT -> \
				absent[j] = GATHERING; \
				nr_gathering++; \
				wpend[j] = 1; \
				marked = 1 \
			:: else \
			fi
#else
#define GATHER(j)	if \
			:: asleep[j] && absent[j] == PRESENT -> \
				wpend[j] = 1; \
				marked = 1 \
			:: else \
			fi
#endif
inline gather()
{
	EACH(GATHER)
}

/* kvm_gang_member_back(gang, vcpu i), gang->lock held */
inline member_back()
{
	if
	:: absent[i] == PREEMPTED ->
		nr_preempted--;
#ifdef MUTANT_GATHER_BEFORE_PRESENT
		if
		:: nr_preempted == 0 && stopped && nr_asleep > 0 -> gather()
		:: else
		fi;
#endif
		/* PRESENT first: the gather marks i too if it is asleep */
		absent[i] = PRESENT;
#ifndef MUTANT_GATHER_BEFORE_PRESENT
		if
		:: nr_preempted == 0 && stopped && nr_asleep > 0 -> gather()
		:: else
		fi;
#endif
		if
		:: NR_ABSENT == 0 -> costart()
		:: else
		fi
	:: absent[i] == GATHERING ->
		nr_gathering--;
		absent[i] = PRESENT;
		if
		:: NR_ABSENT == 0 -> costart()
		:: else
		fi
	:: else		/* PRESENT */
	fi
}

/* kvm_gang_sched_out() with the mode read before the lock (m) */
inline sched_out(m)
{
	oncpu[i] = 0;
	if
	:: m != OFF ->
		if
		:: absent[i] == GATHERING -> nr_gathering--
		:: else		/* relaxed, first absence: arm the timer */
		fi;
		absent[i] = PREEMPTED;
		nr_preempted++;
		if
		:: m == STRICT && !stopped -> costop()
		:: else
		fi
	:: else
	fi;
	m = 0
}

/* on a CPU again: kvm_sched_in() -> kvm_gang_sched_in(), lock part */
inline sched_in()
{
	oncpu[i] = 1;
	RFIRED_END;
	if
	:: absent[i] != PRESENT ->
		member_back();
#ifndef MUTANT_NO_SELF_REQUEST
		if
		:: stopped -> req[i] = 1
		:: else
		fi
#endif
	:: else
	fi
}

/* kvm_gang_wake_gathering(): __kvm_vcpu_wake_up() of the marked members */
#ifndef MUTANT_NO_GATHER
#define WAKE(j)		if \
			:: absent[j] == GATHERING && tint[j] -> \
				tint[j] = 0; \
				blocked[j] = 0 \
			:: else \
			fi; \
			wpend[j] = 0
#else
#define WAKE(j)		if \
			:: asleep[j] && tint[j] -> \
				tint[j] = 0; \
				blocked[j] = 0 \
			:: else \
			fi; \
			wpend[j] = 0
#endif
/*
 * One step per sibling, in kvm_for_each_vcpu() order; the waker's own read
 * shares a step with a neighbour (only the waker reads its task state, and
 * only after the pass).
 */
#if N == 2
#define WAKE_GATHERING	atomic { WAKE(0); WAKE(1); marked = 0 }
#else
#define WAKE_GATHERING	atomic { WAKE(0); if :: i == 0 -> WAKE(1) :: else fi }; \
			atomic { if :: i != 0 -> WAKE(1) :: else fi; WAKE(2); marked = 0 }
#endif

/*
 * Preempted at L: kvm_sched_out() (with -DMODE_OFF the mode is read first),
 * off the CPU and runnable, then kvm_sched_in() and, if it marked sleepers,
 * their wake-up (preemption is still off); then on at L.
 */
#ifdef MODE_OFF
#define SCHED_OUT	atomic { npre > 0 -> npre--; m = mode }; \
			d_step { sched_out(m) }
#else
#define SCHED_OUT	d_step { npre > 0 -> npre--; m = mode; sched_out(m) }
#endif
#define PRE(L)		SCHED_OUT; \
			atomic { d_step { sched_in() }; if :: marked -> skip :: else -> goto L fi }; \
			WAKE_GATHERING; goto L

active [N] proctype vcpu()
{
	byte i = _pid;
	byte m;			/* the mode kvm_gang_sched_out() read */
	bit marked;		/* kvm_gang_member_back() marked sleepers */
	byte runs = (_pid == 0 -> RUNS0 : RUNS);
	byte halts = (_pid == 1 -> HALTS1 : 0);

user:	/* userspace: KVM_RUN, or the thread ends */
	if
	:: atomic { runs > 0 -> runs--; inrun[i] = 1 }	/* vcpu_load() */
	:: atomic { runs == 0 -> goto end_exited }
	fi;

loop:	/* vcpu_run(): xfer_to_guest_mode_handle_work(), r = 0 exits, ... */
	if
	:: PRE(loop)
	:: goto exit_run		/* -EINTR for a signal, or r = 0 */
	:: atomic { !sig[i] && nsig > 0 -> nsig--; sig[i] = 1; goto exit_run }
	:: atomic { !sig[i] ->
		/* vcpu_enter_guest() -> kvm_gang_may_enter() */
#ifdef MUTANT_ONE_SHOT
		if
		:: !req[i] -> past[i] = 1; goto enter
		:: else
		fi;
#endif
		req[i] = 0;		/* kvm_check_request(KVM_REQ_GANG_STOP) */
		if
		:: OPEN -> past[i] = 1; goto enter
		:: else ->
#ifdef LIVE
			gw[i] = 1;
#endif
			goto wait	/* kvm_gang_wait() */
		fi }
	fi;

enter:	/* kvm_gang_may_enter() returned true: preemptible until preempt_disable() */
	if
	:: PRE(enter)
	:: vmode[i] = IN_GUEST_MODE	/* local_irq_disable(), smp_store_mb() */
	fi;
	if
#ifndef MUTANT_NO_EXIT_REQUEST
	:: atomic { (req[i] || vmode[i] == EXITING_GUEST_MODE) ->
		/* kvm_vcpu_exit_request(): cancel, IRQs on take the IPI */
		vmode[i] = OUTSIDE_GUEST_MODE;
		ipi[i] = 0;
		past[i] = 0;
		goto loop }
	:: atomic { !(req[i] || vmode[i] == EXITING_GUEST_MODE) ->
#else
	:: atomic {
#endif
		ing[i] = 1;		/* guest code runs */
#ifdef LIVE
		gw[i] = 0
#endif
	   }
	fi;
	/* the VM exit: the kick's IPI, a tick, a signal's IPI, HLT, MMIO, ... */
	atomic { ing[i] = 0; vmode[i] = OUTSIDE_GUEST_MODE; ipi[i] = 0; past[i] = 0 };
	if
	:: halts > 0 -> halts--; goto halt
	:: goto loop
	fi;

halt:	/* vcpu_block(): halt-poll, then schedule() while not runnable */
	if
	:: PRE(halt)
	:: atomic { oncpu[i] = 0; blocked[i] = 1 }	/* not counted */
	fi;
	atomic { blocked[i] = 0; hwoken[i] = 1 };	/* an interrupt wakes it */
	d_step { hwoken[i] = 0; sched_in() };		/* PRESENT: nothing */
	goto loop;

wait:	/* kvm_gang_wait(): kvm_gang_wait_end(), then sleep or spin */
	if
	:: PRE(wait)
	:: atomic { OPEN -> past[i] = 1; goto enter }
	:: atomic { !OPEN && (sig[i] || req[i]) -> goto loop }	/* r = 1 */
	:: atomic { !OPEN && nsig > 0 -> nsig--; sig[i] = 1; goto loop }
	:: atomic { !OPEN && !sig[i] && !req[i] && nr_preempted > 0 -> goto sleep }
	fi;

sleep:	/* kvm_gang_sleep(): prepare_to_rcuwait(), then gang->lock */
	if
	:: PRE(sleep)
	:: atomic {
		if
#ifndef MUTANT_NO_RECHECK
		:: nr_preempted > 0 && stopped ->
#else
		:: stopped ->
#endif
			asleep[i] = 1;
			nr_asleep++
		:: else -> goto wait	/* finish_rcuwait(), back to the wait */
		fi }
	fi;
sloop:
	if
	:: PRE(sloop)
	:: tint[i] = 1		/* set_current_state(TASK_INTERRUPTIBLE) */
	fi;
	/* kvm_gang_wait_end() != WAITING || member->absent == GATHERING */
	if
	:: atomic { nsig > 0 -> nsig--; sig[i] = 1; tint[i] = 0; goto sdone }
	:: atomic { (OPEN || sig[i] || req[i] || absent[i] == GATHERING) ->
		tint[i] = 0;	/* __set_current_state(TASK_RUNNING) */
		goto sdone }
	:: !(OPEN || sig[i] || req[i] || absent[i] == GATHERING) -> skip
	fi;
ssched:	/* still on the runqueue: a preemption here is counted */
	if
	:: PRE(ssched)
	:: atomic { tint[i] -> oncpu[i] = 0; blocked[i] = 1 }	/* schedule() */
	:: atomic { !tint[i] -> goto sloop }	/* woken since: no sleep */
	fi;
sblock:	/* dequeued, not counted; a signal or a wake-up enqueues it */
	if
	:: atomic { blocked[i] && nsig > 0 -> nsig--; sig[i] = 1; tint[i] = 0; blocked[i] = 0 };
	   goto sblock
	:: atomic { !blocked[i] -> d_step { sched_in() }; if :: marked -> skip :: else -> goto sloop fi };
	   WAKE_GATHERING;
	   goto sloop
	fi;
sdone:	/* finish_rcuwait(), gang->lock: asleep off, kvm_gang_member_back() */
	if
	:: PRE(sdone)
	:: atomic {
		d_step {
			asleep[i] = 0;
			nr_asleep--;
			member_back()
		};
		if
		:: marked -> skip
		:: else -> goto wait
		fi }
	fi;
swake:	/* preemptible between the unlock and the wake-up */
	if
	:: PRE(swake)
	:: WAKE_GATHERING; goto wait
	fi;

exit_run:	/* KVM_RUN returns: vcpu_put(); userspace handles the signal */
	atomic {
		inrun[i] = 0;
		sig[i] = 0;
#ifdef LIVE
		gw[i] = 0;
#endif
		goto user
	};
end_exited:
	skip
}

/*
 * kvm_gang_kick_members(): kick_work (strict) or the skew timer's callback
 * (relaxed).  irq_work_queue() on a pending work is a no-op: one flag.
 */
#define KPEND_CLEAR(j)	kpend[j] = 0
active proctype kicker()
{
	byte j;
end_idle:
	do
	:: atomic { kick_work -> kick_work = 0;
		if
		:: OPEN ->	/* reopened meanwhile */
			EACH(KPEND_CLEAR);
			goto end_idle
		:: else -> inpass = 1
		fi }
		do	/* kvm_gang_kick(), member by member */
		:: atomic {
			req[j] = 1;
#ifdef CHECK_LOST_COSTOP
			if
			:: !OPEN -> gotkick[j] = 1
			:: else
			fi;
#endif
			if
			:: vmode[j] == IN_GUEST_MODE ->
				vmode[j] = EXITING_GUEST_MODE;
				ipi[j] = 1
			:: else
			fi;
			kpend[j] = 0;
			j++;
			if
			:: j == N -> j = 0; inpass = 0; goto end_idle
			:: else
			fi }
		od
	od
}

#if MODE == RELAXED
/* kvm_gang_skew_timer_fn(), absence at least skew_ns old: co-stop, kick */
active proctype skew_timer()
{
end_idle:
	do
	:: d_step { mode == RELAXED && NR_ABSENT > 0 && !stopped ->
		costop();
		rfired = 1 }
	od
}
#endif

#ifdef MODE_OFF
/* KVM_ENABLE_CAP(KVM_CAP_GANG, off): kvm_gang_enable_cap(), release */
#define WAKE_ANY(j)	if :: tint[j] -> tint[j] = 0; blocked[j] = 0 :: else fi
active proctype operator()
{
	atomic { mode = OFF; owake = 1 };
	atomic { costart() };		/* gang->lock */
	d_step {			/* __kvm_vcpu_wake_up() of every vCPU */
		EACH(WAKE_ANY);
		owake = 0
	}
}
#endif

#ifndef LIVE
hidden byte strict_guarantee, relaxed_guarantee, no_lost_wakeup, counts;
#ifdef CHECK_LOST_COSTOP
hidden byte costop_kept;
#define KICKED_IN_GUEST(j)	(ing[j] && !ipi[j] && gotkick[j])
#endif

active proctype monitor()
{
end_watch:
	do
	:: atomic {
		strict_guarantee = !(mode == STRICT && ANY(GUEST_BAD) && ANY(WANTS_OFF));
		relaxed_guarantee = !(rfired && ANY(GUEST_BAD));
		no_lost_wakeup = !ANY(LOST);
		counts = (nr_preempted == COUNT(IS_PREEMPTED) &&
			  nr_gathering == COUNT(IS_GATHERING) &&
			  nr_asleep == COUNT(IS_ASLEEP));
#ifdef CHECK_LOST_COSTOP
		/* took this co-stop's request, runs guest code, gate closed */
		costop_kept = !(!OPEN && ANY(KICKED_IN_GUEST));
		assert(costop_kept);
#else
#ifndef WAKEUP_ONLY
		assert(strict_guarantee);
		assert(relaxed_guarantee);
#endif
#ifndef GUARANTEE_ONLY
		assert(no_lost_wakeup);
		assert(counts)
#endif
#endif
	   }
	od
}
#else
#if N == 2
ltl live { []<> !gw[0] && []<> !gw[1] }
#else
ltl live { []<> !gw[0] && []<> !gw[1] && []<> !gw[2] }
#endif
#endif
