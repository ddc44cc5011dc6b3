/*
 * NAME
 *	watch - which workers to wake when a watched user gets a message
 * DESCRIPTION
 *	A user's record has a bit per process slot that holds a connection
 *	watching that user (shm_user.watch).  msg_enqueue() looks at that
 *	word and nothing else when nobody watches, so the path of a message
 *	to an unwatched user costs one load and no system call.
 *
 *	When bits are set, the sender appends the user to each such
 *	worker's hint ring (shm_proc.watch_ring) and, if that ring was
 *	empty, owes the worker a wake-up: after its transaction ends and the
 *	lock is free, watch_wake() writes 1 to the worker's eventfd, which
 *	sits in that worker's epoll set.  A ring that is not empty already
 *	has a wake-up on its way, so a burst costs one write.  A sender's own
 *	slot is never written to: the worker looks at its own ring after
 *	every pass of its loop.
 *
 *	The eventfds are made by the master before it forks anything, one
 *	per process slot, so every process holds every worker's (a worker
 *	respawned into a slot finds the same one).
 *
 *	Everything here is a hint, written without the undo log: a bit of a
 *	process that is gone, or a hint that was lost, costs a look and is
 *	cleared then; it never moves a message.  A sender killed between
 *	its commit and its write leaves a ring that is not empty and no
 *	wake-up: the worker also looks at its ring once a second.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "lib/log.h"
#include "shm/state.h"

/* watch_open - master, before any fork: an eventfd for every slot */
int
watch_open(struct state *st)
{
	for (int i = 0; i < SHM_PROCS; i++)
		if ((st->wake_fd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
			return -1;
	return 0;
}

/* watch_reset_locked - at start-up: nobody watches anybody yet */
void
watch_reset_locked(struct state *st)
{
	uint32_t hwm = st->hdr->users.hwm, cap = st->hdr->region[RG_USERS].count;

	for (uint32_t i = 1; i <= hwm && i < cap; i++)
		st->users[i].watch = 0;
	for (int i = 0; i < SHM_PROCS; i++)
		st->procs[i].watch_head = st->procs[i].watch_tail = 0;
}

/* watcher_alive - slot k is a worker that runs (its bit may be current) */
static bool
watcher_alive(struct state *st, int k)
{
	const struct shm_proc *p = &st->procs[k];

	return __atomic_load_n(&p->pid, __ATOMIC_ACQUIRE) != 0 &&
	    p->role == PROC_WORKER;
}

/*
 * watch_note_locked - a message for user u was queued: hint every worker
 * that watches u; those whose ring was empty are woken after the unlock.
 */
void
watch_note_locked(struct state *st, struct shm_user *u, uint32_t user)
{
	uint64_t bits = u->watch;

	while (bits != 0) {
		int k = __builtin_ctzll(bits);
		struct shm_proc *p = &st->procs[k];
		uint32_t head = p->watch_head, n = head - p->watch_tail;

		bits &= bits - 1;
		if (!watcher_alive(st, k)) {
			u->watch &= ~(1ULL << k);	/* its process is gone */
			continue;
		}
		if (n < WATCH_RING)
			p->watch_ring[head % WATCH_RING] = user;
		__atomic_store_n(&p->watch_head, head + 1, __ATOMIC_RELEASE);
		if (n == 0 && k != st->proc)
			st->wake_due |= 1ULL << k;
	}
}

/* watch_wake - after the unlock: wake the workers the transaction owes */
void
watch_wake(struct state *st)
{
	static const uint64_t one = 1;

	while (st->wake_due != 0) {
		int k = __builtin_ctzll(st->wake_due);

		st->wake_due &= st->wake_due - 1;
		if (st->wake_fd[k] != -1 &&
		    write(st->wake_fd[k], &one, sizeof(one)) == -1 &&
		    errno != EAGAIN)
			log_warn("wake-up of process slot %d: %m", k);
	}
}

/*
 * watch_set_locked - this process watches user (on) or no longer does;
 * -1 if there is no such user.
 */
int
watch_set_locked(struct state *st, uint32_t user, bool on)
{
	struct shm_user *u = user_at(st, user);
	uint64_t bit = 1ULL << st->proc;

	if (u == NULL || st->proc < 0) {
		errno = ENOENT;
		return -1;
	}
	u->watch = on ? u->watch | bit : u->watch & ~bit;
	return 0;
}

/*
 * watch_take_locked - empty this worker's ring into users[] (at most max,
 * duplicates possible); *lost when hints were dropped, so that every
 * watched user must be looked at.
 */
size_t
watch_take_locked(struct state *st, uint32_t *users, size_t max, bool *lost)
{
	struct shm_proc *p = &st->procs[st->proc];
	uint32_t head = __atomic_load_n(&p->watch_head, __ATOMIC_ACQUIRE);
	uint32_t n = head - p->watch_tail;
	size_t got = 0;

	*lost = n > WATCH_RING || n > max;
	for (uint32_t i = 0; !*lost && i < n; i++)
		users[got++] = p->watch_ring[(p->watch_tail + i) % WATCH_RING];
	p->watch_tail = head;
	return got;
}

/* watch_hinted - does this worker's ring hold hints?  (a load, no lock) */
bool
watch_hinted(struct state *st)
{
	const struct shm_proc *p = &st->procs[st->proc];

	return __atomic_load_n(&p->watch_head, __ATOMIC_ACQUIRE) !=
	    __atomic_load_n(&p->watch_tail, __ATOMIC_RELAXED);
}
