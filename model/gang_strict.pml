/*
 * Promela model of the kvm-gang strict-mode protocol (docs/strict-protocol.md).
 *
 * N vCPU threads of one VM run the KVM_RUN loop with a bounded budget of
 * events each (preemption, halt, guest entries, userspace exits), while a
 * signaller sends signals and an operator may switch the gang off once.
 * Every step names the kernel function that implements it.
 *
 * The checker (make model) verifies, for every interleaving:
 *  - strict invariant: while a member is descheduled and its co-stop kicks
 *    have been sent, no other member executes guest code with
 *    vcpu->mode == IN_GUEST_MODE (EXITING_GUEST_MODE is the kick in flight);
 *  - no lost wake-up: no member sleeps in the gang wait queue while its
 *    wait condition holds and no wake-up is in flight;
 *  - no deadlock: every vCPU thread finishes its budget and leaves KVM_RUN
 *    (SPIN reports any other end state as invalid).
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
byte nr_preempted;		/* kvm_gang.nr_preempted, under kvm_gang.lock */
byte nr_waking;			/* co-starts between nr_preempted == 0 and wake_up_all() done */
bit mode_waking;		/* mode switched off, wake_up_all() not done */
byte nr_kicked_out;		/* members counted in nr_preempted whose kick loop finished */

bit req[N];			/* KVM_REQ_GANG_STOP pending */
byte vmode[N];			/* vcpu->mode */
bit in_guest[N];		/* executing guest code */
bit counted[N];			/* vcpu->gang_preempted: counted in nr_preempted */
bit kicked_all[N];		/* co-stop kick loop of this preemption finished */
bit waiting[N];			/* vcpu->gang_waiting: inside kvm_gang_wait() */
bit asleep[N];			/* on the gang wait queue, task state not RUNNING */
bit blocked[N];			/* inside schedule() in kvm_gang_wait() */
bit sigpending[N];		/* signal_pending(current) */

#define may_run(i)	(gang_mode != GANG_STRICT || nr_preempted == 0 || sigpending[i])

/*
 * kvm_sched_out() -> kvm_gang_sched_out(): runqueue lock held, IRQs off.
 * Only a member that wants to run, is runnable and is not already waiting
 * for the gang co-stops it.  Kicks are kvm_make_request() followed by the
 * cmpxchg of kvm_arch_vcpu_should_kick() and a reschedule IPI; nothing is
 * woken here.  Then the CPU runs something else until
 * kvm_sched_in() -> kvm_gang_sched_in() (preemption off, may wake).
 */
inline preempt(i)
{
	if
	:: gang_mode == GANG_STRICT && !waiting[i] ->
		atomic { nr_preempted++; counted[i] = 1 }
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
		atomic { kicked_all[i] = 1; nr_kicked_out++ }
	:: else -> skip
	fi;
	/* descheduled; later kvm_gang_sched_in() */
	if
	:: counted[i] ->
		atomic {
			counted[i] = 0;
			if
			:: kicked_all[i] -> kicked_all[i] = 0; nr_kicked_out--
			:: else -> skip
			fi;
			nr_preempted--;
			waker = (nr_preempted == 0);
			if
			:: waker -> nr_waking++
			:: else -> skip
			fi
		}
		if
		:: waker ->
			/* co-start: wake_up_all(&gang->wq) after dropping the gang lock */
			j = 0;
			do
			:: j < N -> asleep[j] = 0; j++
			:: else -> break
			od;
			nr_waking--
		:: else -> skip
		fi
	:: else -> skip
	fi
}

proctype vcpu(byte i)
{
	byte j;
	byte preempts = PREEMPTS, entries = 2, halts = 1, runs = 2;
	bit waker;

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
	:: !may_run(i) -> goto wait
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
	:: req[i] ->				/* kvm_vcpu_exit_request(): cancel entry */
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

wait:	/* kvm_gang_wait(): bounded spin, then sleep on gang->wq */
	waiting[i] = 1;
recheck:
	if
	:: may_run(i) -> goto wait_done
	:: else -> skip
	fi;
	if
	:: preempts > 0 -> preempts--; preempt(i)	/* not counted: waiting */
	:: true -> skip				/* the spin budget ran out */
	fi;
	asleep[i] = 1;				/* prepare_to_wait_event() */
	if
	:: may_run(i) -> asleep[i] = 0		/* finish_wait() */
	:: else ->
		blocked[i] = 1;			/* schedule() */
		(asleep[i] == 0);
		blocked[i] = 0
	fi;
	goto recheck;
wait_done:
	waiting[i] = 0;
	if
	:: sigpending[i] -> goto exit_to_user	/* -EINTR, KVM_EXIT_INTR */
	:: else -> goto loop_top
	fi;

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
		atomic { sigpending[k] = 1; asleep[k] = 0 }
	:: else -> break
	od
}

/* KVM_ENABLE_CAP(KVM_CAP_GANG, OFF) while vCPUs run: kvm_gang_enable_cap(). */
proctype operator()
{
	byte j;

	if
	:: true ->
		atomic { gang_mode = GANG_OFF; mode_waking = 1 }
		j = 0;
		do
		:: j < N -> asleep[j] = 0; j++
		:: else -> break
		od;
		mode_waking = 0
	:: true -> skip
	fi
}

#define guest_with_member_out(i)	(in_guest[i] && vmode[i] == IN_GUEST_MODE && nr_kicked_out > 0)
#define lost_wakeup(i)	(blocked[i] && asleep[i] && may_run(i) && nr_waking == 0 && !mode_waking)

/* Checked in every reachable state; N = 3 members. */
active proctype monitor()
{
end_watch:
	do
	:: assert(gang_mode != GANG_STRICT ||
		  !(guest_with_member_out(0) || guest_with_member_out(1) ||
		    guest_with_member_out(N - 1)));
	   assert(!(lost_wakeup(0) || lost_wakeup(1) || lost_wakeup(N - 1)))
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
