/*
 * Promela model of the kvm-gang strict-mode protocol (docs/strict-protocol.md).
 *
 * N vCPU threads of one VM run the KVM_RUN loop with a bounded budget of
 * events each (host preemption, halt, guest entries, userspace exits),
 * while a signaller sends signals and an operator may switch the gang off
 * once.  Every step names the kernel function that implements it.
 *
 * Mutants (-DMUTANT_NO_ENTRY_RECHECK, -DMUTANT_CHECK_BEFORE_QUEUE) drop
 * the entry re-check of the request or queue the waiter after testing its
 * condition; scripts/model-check requires SPIN to find an error in each.
 *
 * The checker verifies, for every interleaving:
 *  - strict invariant: no member executes guest code with vcpu->mode ==
 *    IN_GUEST_MODE while a member is absent, i.e. preempted with its co-stop
 *    kicks sent, or woken for the co-start barrier and not yet running
 *    (EXITING_GUEST_MODE is the kick in flight, the allowed window);
 *  - no lost wake-up: no member sleeps on the gang wait queue while its
 *    wake condition holds and no wake-up is in flight;
 *  - no deadlock or livelock: every vCPU thread finishes its budget and
 *    leaves KVM_RUN (SPIN reports any other end state as invalid).
 */
#ifndef N
#define N 3
#endif
#ifndef PREEMPTS
#define PREEMPTS 1	/* host preemptions per vCPU thread */
#endif
#ifndef SIGNALS
#define SIGNALS 1	/* signals sent to the vCPU threads */
#endif

#define OUTSIDE_GUEST_MODE	0
#define IN_GUEST_MODE		1
#define EXITING_GUEST_MODE	2

#define GANG_OFF	0
#define GANG_STRICT	1

byte gang_mode = GANG_STRICT;	/* kvm_gang.mode */
byte nr_absent;			/* kvm_gang.nr_absent, under kvm_gang.lock */
byte nr_kicked_out;		/* preempted members whose kick loop finished */
byte nr_waking;			/* wake-ups decided but wake_up_all() not done */
byte nr_gathering;		/* members with member->gathering set */

bit req[N];			/* KVM_REQ_GANG_STOP pending */
byte vmode[N];			/* vcpu->mode */
bit in_guest[N];		/* executing guest code */
bit preempted[N];		/* member->preempted: counted in nr_absent */
bit kicked_all[N];		/* co-stop kick loop of this preemption finished */
bit asleep[N];			/* member->asleep, under kvm_gang.lock */
bit gathering[N];		/* member->gathering: counted in nr_absent */
bit onwq[N];			/* queued on costart_wq, not woken yet */
bit blocked[N];			/* inside schedule() in kvm_gang_sleep() */
bit sigpending[N];		/* signal_pending(current) */

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
		atomic { nr_absent++; preempted[i] = 1 }
		j = 0;
		do
		:: j < N ->
			if
			:: j != i ->
				req[j] = 1;
				atomic {
					if
					:: vmode[j] == IN_GUEST_MODE -> vmode[j] = EXITING_GUEST_MODE
					:: else -> skip
					fi
				}
			:: else -> skip
			fi;
			j++
		:: else -> break
		od;
		atomic { kicked_all[i] = 1; nr_kicked_out++; j = 0 }
	:: else -> skip
	fi;
	/* descheduled; later kvm_gang_sched_in() */
	if
	:: preempted[i] ->
		atomic {
			preempted[i] = 0;
			if
			:: kicked_all[i] -> kicked_all[i] = 0; nr_kicked_out--
			:: else -> skip
			fi;
			gathered = 0;
			if
			:: nr_absent == 1 && gang_mode == GANG_STRICT ->
				j = 0;
				do
				:: j < N ->
					if
					:: asleep[j] && !gathering[j] ->
						gathering[j] = 1; nr_gathering++; nr_absent++; gathered = 1
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
			fi
		}
		if
		:: gathered -> req[i] = 1; gathered = 0
		:: else -> skip
		fi;
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
	 * vCPU 0 enters guest mode twice and also leaves KVM_RUN and comes
	 * back (with a request pending), vCPU 1 halts, every vCPU may be
	 * preempted once (in the run loop, at entry, or spinning in a wait).
	 */
	byte preempts = PREEMPTS;
	byte runs = (i == 0 -> 2 : 1);
	byte halts = (i == 1 -> 1 : 0);
	byte entries = (i == 0 -> 2 : 1);
	bit waker, gathered;

out:	/* outside KVM_RUN; userspace handles a pending signal */
	sigpending[i] = 0;
	if
	:: runs > 0 -> runs--
	:: else -> goto end_exited		/* thread exits or is killed */
	fi;

loop_top:	/* vcpu_run() loop, before kvm_gang_vcpu_run() */
	if
	:: preempts > 0 -> preempts--; preempt(i)
	:: true -> skip
	fi;
	/* kvm_gang_vcpu_run(): consume KVM_REQ_GANG_STOP, then look at the gang */
	req[i] = 0;
	if
	:: sigpending[i] -> goto exit_to_user	/* xfer_to_guest_mode_handle_work(): -EINTR */
	:: else -> skip
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
	:: else -> skip
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
	:: wake_cond(i) -> onwq[i] = 0		/* finish_wait() */
	:: else ->
#else
	if
	:: wake_cond(i) -> skip
	:: else ->
		onwq[i] = 1;
#endif
		blocked[i] = 1;			/* schedule() */
		(onwq[i] == 0);
		blocked[i] = 0
	fi;
	atomic {				/* under kvm_gang.lock */
		asleep[i] = 0;
		waker = 0;
		if
		:: gathering[i] ->
			gathering[i] = 0; nr_gathering--; nr_absent--;
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

/* Signals from other threads: signal_wake_up() wakes an interruptible sleeper. */
proctype signaller()
{
	byte k, sigs = SIGNALS;

	do
	:: sigs > 0 ->
		sigs--;
		if
		:: k = 0
		:: k = 1
		:: k = N - 1
		fi;
		atomic { sigpending[k] = 1; onwq[k] = 0 }
	:: else -> break
	od
}

/* KVM_ENABLE_CAP(KVM_CAP_GANG, OFF) while vCPUs run: kvm_gang_enable_cap(). */
proctype operator()
{
	byte j;

	if
	:: true ->
		atomic { gang_mode = GANG_OFF; nr_waking++ }
		wake_all()
	:: true -> skip
	fi
}

#define absent_settled	(nr_kicked_out + nr_gathering > 0)
#define guest_with_member_out(i)	(in_guest[i] && vmode[i] == IN_GUEST_MODE && absent_settled)
#define lost_wakeup(i)	(blocked[i] && onwq[i] && wake_cond(i) && nr_waking == 0)

/* Checked in every reachable state; N = 3 members. */
active proctype monitor()
{
end_watch:
	do
	:: assert((gang_mode != GANG_STRICT ||
		   !(guest_with_member_out(0) || guest_with_member_out(1) ||
		     guest_with_member_out(N - 1))) &&
		  !(lost_wakeup(0) || lost_wakeup(1) || lost_wakeup(N - 1)))
	od
}

init
{
	byte i;

	atomic {
		for (i : 0 .. N - 1) {
			run vcpu(i)
		}
		run signaller();
		run operator()
	}
}
