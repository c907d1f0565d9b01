/*
 * Promela model of the kvm-gang strict-mode protocol (docs/strict-protocol.md).
 *
 * Three vCPU threads of one VM run the KVM_RUN loop with a bounded budget of
 * events: host preemption (every vCPU, once: at guest entry or while it
 * spins in a wait), halt (vCPU 1), exit to userspace and a second KVM_RUN
 * (vCPU 0), a signal (to any one vCPU, at any time), and the end of every
 * vCPU thread.  With -DMODE_CHANGE an operator switches the gang off once,
 * at any time, instead of the signal (both together do not fit in memory).
 * Every step names the kernel function that implements it.
 *
 * Steps are as coarse as is faithful, so that the search is exhaustive:
 *  - kvm_gang_sched_out() counts the member and kicks the others in one
 *    step.  A kick is KVM's request-then-cmpxchg pair against the
 *    target's mode-store-then-request-check (vcpu-requests.rst); only the
 *    target reads its request and mode, so whenever the target runs between
 *    two kicks, one of the two atomic orders gives the same result.
 *  - A signal is sent by another thread and read only by its target, so it
 *    is delivered just before the target reads signal_pending(): that
 *    covers every arrival time without a separate signaller process.
 *
 * Mutants (-DMUTANT_NO_ENTRY_RECHECK, -DMUTANT_CHECK_BEFORE_QUEUE) drop
 * the entry re-check of the request or queue the waiter after testing its
 * condition; scripts/model-check requires SPIN to find an error in each.
 *
 * The checker verifies, in every reachable state of every interleaving:
 *  - strict invariant: no member executes guest code with vcpu->mode ==
 *    IN_GUEST_MODE while a strict gang has an absent member (preempted, or
 *    woken for the co-start barrier and not yet running); the co-stop's
 *    kick turns IN_GUEST_MODE into EXITING_GUEST_MODE, the allowed window
 *    until the IPI forces the exit;
 *  - no lost wake-up: no member sleeps on the gang wait queue while its
 *    wake condition holds and no wake-up is in flight;
 *  - no deadlock: every vCPU thread ends with its budget spent outside
 *    KVM_RUN (SPIN reports any other end state as invalid).
 */
#define N 3

#ifdef MODE_CHANGE
#define SIGNALS		0
#define ENTRIES0	1
#else
#define SIGNALS		1
#define ENTRIES0	2
#endif

#define OUTSIDE_GUEST_MODE	0
#define IN_GUEST_MODE		1
#define EXITING_GUEST_MODE	2

#define GANG_OFF	0
#define GANG_STRICT	1

byte gang_mode = GANG_STRICT;	/* kvm_gang.mode */
byte nr_absent;			/* kvm_gang.nr_absent, under kvm_gang.lock */
byte nr_waking;			/* wake-ups decided but wake_up_all() not done */

bit req[N];			/* KVM_REQ_GANG_STOP pending */
byte vmode[N];			/* vcpu->mode */
bit in_guest[N];		/* executing guest code */
bit preempted[N];		/* member->preempted: counted in nr_absent */
bit asleep[N];			/* member->asleep, under kvm_gang.lock */
bit gathering[N];		/* member->gathering: counted in nr_absent */
bit onwq[N];			/* queued on costart_wq, not woken yet */
bit blocked[N];			/* inside schedule() in kvm_gang_sleep() */
bit sigpending[N];		/* signal_pending(current) */
byte nr_signals = SIGNALS;	/* signals still to be sent */

#define may_run		(gang_mode != GANG_STRICT || nr_absent == 0)
#define wake_cond(i)	(may_run || gathering[i] || sigpending[i])

/*
 * wake_up_all(&gang->costart_wq), outside kvm_gang.lock: one step, as it
 * holds the wait-queue lock that prepare_to_wait_event() also takes.
 */
inline wake_all()
{
	atomic {
		j = 0;
		do
		:: j < N -> onwq[j] = 0; j++
		:: else -> break
		od;
		j = 0;
		nr_waking--
	}
}

/*
 * kvm_sched_out() -> kvm_gang_sched_out(): runqueue lock held, IRQs off.
 * A member that wants to run and is runnable is counted as absent (also when
 * it was spinning in kvm_gang_wait()).  Kicks: kvm_make_request(), then the
 * cmpxchg of kvm_arch_vcpu_should_kick() and a reschedule IPI; nothing is
 * woken here.  Later kvm_sched_in() -> kvm_gang_sched_in() (preemption off,
 * may wake): the last preempted member back marks the sleeping waiters as
 * gathering, asks itself to wait for them, and wakes them.
 */
inline preempt(i)
{
	if
	:: gang_mode == GANG_STRICT ->
		atomic {
			nr_absent++; preempted[i] = 1;
			j = 0;
			do
			:: j < N ->
				if
				:: j != i ->
					req[j] = 1;
					if
					:: vmode[j] == IN_GUEST_MODE -> vmode[j] = EXITING_GUEST_MODE
					:: else -> skip
					fi
				:: else -> skip
				fi;
				j++
			:: else -> break
			od;
			j = 0
		}
	:: else -> skip
	fi;
	/* descheduled; later kvm_gang_sched_in() */
	if
	:: preempted[i] ->
		atomic {
			preempted[i] = 0;
			gathered = 0;
			if
			:: nr_absent == 1 && gang_mode == GANG_STRICT ->
				j = 0;
				do
				:: j < N ->
					if
					:: asleep[j] && !gathering[j] ->
						gathering[j] = 1; nr_absent++; gathered = 1
					:: else -> skip
					fi;
					j++
				:: else -> break
				od;
				j = 0
			:: else -> skip
			fi;
			nr_absent--;
			waker = (nr_absent == 0 || gathered);
			if
			:: waker -> nr_waking++
			:: else -> skip
			fi;
			/*
			 * kvm_make_request() on itself, after the unlock in
			 * the kernel; only this thread reads its request
			 * and others only set it, so one step is faithful.
			 */
			if
			:: gathered -> req[i] = 1; gathered = 0
			:: else -> skip
			fi
		}
		if
		:: waker -> wake_all(); waker = 0
		:: else -> skip
		fi
	:: else -> skip
	fi
}

proctype vcpu(byte i)
{
	byte j;
	/*
	 * Budgets keep the state space exhaustively searchable in minutes:
	 * vCPU 0 enters guest mode twice (once with MODE_CHANGE) and leaves
	 * KVM_RUN and comes back, possibly with a request pending; vCPU 1
	 * halts; every vCPU may be preempted once, at guest entry or while it
	 * spins in a wait.
	 */
	byte preempts = 1;
	byte runs = (i == 0 -> 2 : 1);
	byte halts = (i == 1 -> 1 : 0);
	byte entries = (i == 0 -> ENTRIES0 : 1);
	bit waker, gathered;

out:	/* outside KVM_RUN; userspace handles a pending signal */
	atomic {
		sigpending[i] = 0;
		if
		:: runs > 0 -> runs--
		:: else -> goto end_exited	/* thread exits or is killed */
		fi
	}

loop_top:	/* vcpu_run() loop, before kvm_gang_vcpu_run() */
	/* kvm_gang_vcpu_run(): consume KVM_REQ_GANG_STOP, then look at the gang */
	req[i] = 0;
	if
	:: sigpending[i] -> goto exit_to_user	/* xfer_to_guest_mode_handle_work(): -EINTR */
	:: atomic { nr_signals > 0 -> nr_signals--; sigpending[i] = 1 }; goto exit_to_user
	:: !sigpending[i] -> skip
	fi;
	if
	:: !may_run -> goto wait
	:: else -> skip
	fi;
	/* vcpu_enter_guest(): may still be preempted before preempt_disable() */
	if
	:: preempts > 0 -> preempts--; preempt(i)
	:: true -> skip
	fi;
	if
	:: entries > 0 -> entries--
	:: else -> goto exit_to_user
	fi;
	vmode[i] = IN_GUEST_MODE;		/* smp_store_mb(vcpu->mode, IN_GUEST_MODE) */
	if
#ifndef MUTANT_NO_ENTRY_RECHECK
	:: req[i] ->				/* kvm_vcpu_exit_request(): cancel entry */
#else
	:: false ->
#endif
		vmode[i] = OUTSIDE_GUEST_MODE;
		goto loop_top
	:: else -> in_guest[i] = 1
	fi;

	/* guest code runs until a VM exit: the kick IPI or any other reason */
	in_guest[i] = 0;
	vmode[i] = OUTSIDE_GUEST_MODE;
	if
	:: halts > 0 -> halts--; goto halted
	:: true -> goto loop_top
	:: true -> goto exit_to_user
	fi;

halted:	/* kvm_vcpu_block(): not runnable, so kvm_sched_out() does not co-stop */
	/* an interrupt or a signal wakes it */
	goto loop_top;

wait:	/* kvm_gang_wait(): spin up to gang_spin_ns, then kvm_gang_sleep() */
	if
	:: may_run -> goto loop_top
	:: sigpending[i] -> goto exit_to_user	/* -EINTR, KVM_EXIT_INTR */
	:: atomic { nr_signals > 0 -> nr_signals--; sigpending[i] = 1 }; goto exit_to_user
	:: !may_run && !sigpending[i] -> skip
	fi;
	if
	:: preempts > 0 -> preempts--; preempt(i)	/* counted: spinning */
	:: true -> skip				/* the spin ran out */
	fi;
	/* kvm_gang_sleep() */
	atomic { asleep[i] = 1 }		/* under kvm_gang.lock */
#ifndef MUTANT_CHECK_BEFORE_QUEUE
	onwq[i] = 1;				/* prepare_to_wait_event() */
	if
	:: atomic { wake_cond(i) -> onwq[i] = 0 }	/* finish_wait() */
	:: atomic { else -> blocked[i] = 1 }	/* schedule() */
#else
	if
	:: wake_cond(i) -> skip
	:: else ->
		atomic { onwq[i] = 1; blocked[i] = 1 }
#endif
		if
		:: onwq[i] == 0
		:: atomic { nr_signals > 0 -> nr_signals--; sigpending[i] = 1; onwq[i] = 0 }
		fi
	fi;
	atomic {				/* finish_wait(), then kvm_gang.lock */
		blocked[i] = 0;
		asleep[i] = 0;
		waker = 0;
		if
		:: gathering[i] ->
			gathering[i] = 0; nr_absent--;
			waker = (nr_absent == 0)
		:: else -> skip
		fi;
		if
		:: waker -> nr_waking++
		:: else -> skip
		fi
	}
	if
	:: waker -> wake_all(); waker = 0	/* the barrier releases */
	:: else -> skip
	fi;
	goto wait;

exit_to_user:	/* KVM_RUN returns; vcpu_put(), wants_to_run = false */
	goto out;

end_exited:
	skip
}

#ifdef MODE_CHANGE
/* KVM_ENABLE_CAP(KVM_CAP_GANG, OFF) while vCPUs run: kvm_gang_enable_cap(). */
proctype operator()
{
	byte j;

	atomic { gang_mode = GANG_OFF; nr_waking++ }
	wake_all()
}
#endif

#define guest_while_absent(i)	(in_guest[i] && vmode[i] == IN_GUEST_MODE && !may_run)
#define lost_wakeup(i)	(blocked[i] && onwq[i] && wake_cond(i) && nr_waking == 0)

/* Checked in every reachable state. */
active proctype monitor()
{
end_watch:
	do
	:: assert(!(guest_while_absent(0) || guest_while_absent(1) || guest_while_absent(2)) &&
		  !(lost_wakeup(0) || lost_wakeup(1) || lost_wakeup(2)))
	od
}

init
{
	byte i;

	atomic {
		for (i : 0 .. N - 1) {
			run vcpu(i)
		}
#ifdef MODE_CHANGE
		run operator()
#endif
	}
}
