/*
 * NAME
 *	lock - the state lock: an owner word plus a POSIX semaphore
 * DESCRIPTION
 *	A bare semaphore cannot say who holds it: a process killed between
 *	sem_wait() and recording its pid would leave the state locked with
 *	no name on it.  So the lock itself is the owner word, taken with a
 *	compare-and-swap of 0 -> pid (the holder is known at every instant),
 *	and the semaphore only puts contenders to sleep: a contender counts
 *	itself in waiters, tries once more, then sleeps; a release that sees
 *	waiters posts once.  Stray posts (a waiter that died, a waiter that
 *	won the retry) only cause a spurious wake-up, after which the loop
 *	tries again.
 *
 *	When the master reaps a process that died holding the lock it calls
 *	state_lock_force(), after rolling back the dead process's
 *	transaction, so nobody is ever locked out by a dead process.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "shm/state.h"

#define SPINS	100

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static bool
try_take(struct shm_lock *l, uint32_t pid)
{
	uint32_t free_word = 0;

	return __atomic_load_n(&l->owner, __ATOMIC_RELAXED) == 0 &&
	    __atomic_compare_exchange_n(&l->owner, &free_word, pid, false,
	    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

/* wake_one - hand one sleeping contender a post, if any is counted */
static void
wake_one(struct shm_lock *l)
{
	uint32_t w = __atomic_load_n(&l->waiters, __ATOMIC_SEQ_CST);

	while (w > 0) {
		if (__atomic_compare_exchange_n(&l->waiters, &w, w - 1, false,
		    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
			sem_post(&l->sem);
			return;
		}
	}
}

/* state_lock_init - fresh lock; only while no other process is attached */
void
state_lock_init(struct state *st)
{
	struct shm_lock *l = &st->hdr->lock;

	l->owner = 0;
	l->waiters = 0;
	if (sem_init(&l->sem, 1, 0) == -1) {
		log_err("sem_init: %m");
		abort();
	}
}

/* state_lock - take the state lock, sleeping while another process has it */
void
state_lock(struct state *st)
{
	struct shm_lock *l = &st->hdr->lock;
	bool slept = false;

	for (;;) {
		if (try_take(l, st->pid))
			break;
		for (int i = 0; i < SPINS; i++) {
			cpu_relax();
			if (try_take(l, st->pid))
				goto taken;
		}
		__atomic_fetch_add(&l->waiters, 1, __ATOMIC_SEQ_CST);
		if (try_take(l, st->pid)) {
			/* not asleep after all; a post may be spent on us, harmless */
			uint32_t w = __atomic_load_n(&l->waiters, __ATOMIC_SEQ_CST);
			while (w > 0 && !__atomic_compare_exchange_n(&l->waiters,
			    &w, w - 1, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
				;
			break;
		}
		slept = true;
		while (sem_wait(&l->sem) == -1 && errno == EINTR)
			;
	}
taken:
	l->acquired++;
	if (slept)
		l->contended++;
}

/*
 * state_trylock - take the lock only if it is free now.  The master uses
 * it: it alone recovers a lock whose holder died, so it must never sleep
 * on one.
 */
bool
state_trylock(struct state *st)
{
	if (!try_take(&st->hdr->lock, st->pid))
		return false;
	st->hdr->lock.acquired++;
	return true;
}

/* state_unlock - release the state lock and wake one sleeper */
void
state_unlock(struct state *st)
{
	struct shm_lock *l = &st->hdr->lock;
	uint32_t me = st->pid;

	if (!__atomic_compare_exchange_n(&l->owner, &me, 0, false,
	    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
		log_err("state lock released by %u but held by %u",
		    st->pid, me);
		abort();
	}
	wake_one(l);
}

/*
 * state_lock_force - free the lock if the dead process pid holds it.
 * The caller has already rolled back that process's transaction.
 */
bool
state_lock_force(struct state *st, pid_t pid)
{
	struct shm_lock *l = &st->hdr->lock;
	uint32_t dead = (uint32_t)pid;

	if (!__atomic_compare_exchange_n(&l->owner, &dead, 0, false,
	    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		return false;
	l->recovered++;
	wake_one(l);
	return true;
}
