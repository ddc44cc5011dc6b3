/*
 * NAME
 *	txn - undo-logged transactions on the state segment
 * DESCRIPTION
 *	txn_begin() takes the lock.  Before changing bytes that the current
 *	state can reach, a writer calls txn_log() on them: their old value
 *	is appended to the undo region and undo_used is advanced, and only
 *	then may they change.  txn_commit() publishes everything with the
 *	single store undo_used = 0, then unlocks.
 *
 *	Bytes the old state cannot reach (a slot above the high-water mark,
 *	heap above heap_top) need no logging: rolling back the counters that
 *	would reach them is enough.
 *
 *	A process killed inside a transaction leaves undo_used != 0 and the
 *	lock owned by its dead pid; the master rolls back (the newest record
 *	first, so a range logged twice ends with its oldest value) and frees
 *	the lock.  Start-up does the same for a whole tree killed at once.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "shm/state.h"

#define barrier()	__atomic_signal_fence(__ATOMIC_SEQ_CST)

static unsigned debug_sleep_ms;	/* debug_hooks: next change sleeps this */

static size_t
rec_size(uint32_t len)
{
	return sizeof(struct undo_rec) + (((size_t)len + 7) & ~(size_t)7);
}

/* txn_begin - take the lock and open a transaction */
void
txn_begin(struct state *st)
{
	state_lock(st);
	txn_begin_locked(st);
}

/* txn_begin_locked - open a transaction under a lock the caller took */
void
txn_begin_locked(struct state *st)
{
	if (st->hdr->undo_used != 0) {
		/* only a bug gets here: the master rolls back for the dead */
		log_err("transaction left open under a live lock");
		abort();
	}
}

/*
 * txn_log - save the old value of [p, p + len) before it changes.
 * -1 (ENOSPC) if the undo region is full: the caller aborts.
 */
int
txn_log(struct state *st, const void *p, size_t len)
{
	struct shm_header *h = st->hdr;
	const struct shm_region *r = &h->region[RG_UNDO];
	size_t off = (size_t)((const char *)p - st->base), need;
	struct undo_rec *rec;

	if (off < offsetof(struct shm_header, seeded)) {
		log_err("txn_log of the lock or the layout");
		abort();
	}
	need = rec_size((uint32_t)len);
	if (len > UINT32_MAX || h->undo_used + need > r->size) {
		errno = ENOSPC;
		return -1;
	}
	rec = (struct undo_rec *)(void *)(st->undo + h->undo_used);
	rec->off = off;
	rec->len = (uint32_t)len;
	rec->pad = 0;
	memcpy(rec + 1, p, len);
	barrier();
	__atomic_store_n(&h->undo_used, h->undo_used + (uint32_t)need,
	    __ATOMIC_RELEASE);
	barrier();
	return 0;
}

/*
 * txn_debug_sleep - the next commit of this process that changed
 * something first sleeps ms inside the lock (0: none).  Only the
 * debug_hooks command of the worker calls it, so that tests can kill a
 * process while it holds the lock with a transaction open.
 */
void
txn_debug_sleep(unsigned ms)
{
	debug_sleep_ms = ms;
}

/* debug_sleep_inside - the armed sleep, with the transaction still open */
static void
debug_sleep_inside(struct state *st)
{
	struct timespec ts;

	if (debug_sleep_ms == 0 || st->hdr->undo_used == 0)
		return;
	ts.tv_sec = debug_sleep_ms / 1000;
	ts.tv_nsec = (long)(debug_sleep_ms % 1000) * 1000000;
	debug_sleep_ms = 0;
	log_warn("debug hook: sleeping %lld.%03ld s inside the state lock",
	    (long long)ts.tv_sec, ts.tv_nsec / 1000000);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* txn_commit - publish the transaction and release the lock */
void
txn_commit(struct state *st)
{
	debug_sleep_inside(st);
	barrier();
	__atomic_store_n(&st->hdr->undo_used, 0, __ATOMIC_RELEASE);
	barrier();
	state_unlock(st);
	if (st->wake_due != 0)
		watch_wake(st);
}

/* txn_abort - undo everything the transaction changed, then unlock */
void
txn_abort(struct state *st)
{
	if (txn_rollback_locked(st) == -1)
		abort();
	state_unlock(st);
	if (st->wake_due != 0)		/* hints stay: their wake-up is owed */
		watch_wake(st);
}

/*
 * txn_rollback_locked - copy every logged range back, newest first.
 * Records are checked against the segment, so a damaged log is refused
 * (-1) rather than followed.  Idempotent: safe to repeat if interrupted.
 */
int
txn_rollback_locked(struct state *st)
{
	struct shm_header *h = st->hdr;
	uint32_t used = h->undo_used, pos = 0;
	size_t n = 0, *at;

	if (used == 0)
		return 0;
	if (used > h->region[RG_UNDO].size) {
		log_err("undo log claims %u bytes", used);
		return -1;
	}
	if ((at = calloc(used / sizeof(struct undo_rec) + 1, sizeof(*at))) == NULL) {
		log_err("rollback: %m");
		return -1;
	}
	while (pos < used) {
		struct undo_rec *rec = (struct undo_rec *)(void *)(st->undo + pos);
		if (pos + sizeof(*rec) > used || rec_size(rec->len) > used - pos ||
		    rec->off < offsetof(struct shm_header, seeded) ||
		    rec->off > st->size || rec->len > st->size - rec->off) {
			log_err("undo log damaged at byte %u", pos);
			free(at);
			return -1;
		}
		at[n++] = pos;
		pos += (uint32_t)rec_size(rec->len);
	}
	while (n-- > 0) {
		struct undo_rec *rec = (struct undo_rec *)(void *)(st->undo + at[n]);
		memcpy(st->base + rec->off, rec + 1, rec->len);
	}
	free(at);
	barrier();
	__atomic_store_n(&h->undo_used, 0, __ATOMIC_RELEASE);
	return 0;
}
