/*
 * NAME
 *	inbox - per-user message queues
 * DESCRIPTION
 *	Each user's waiting messages form a singly linked FIFO through
 *	shm_msg.next, from inbox_head to inbox_tail.
 *
 *	Reading an inbox is two steps, so that a message leaves the queue
 *	only once the reply holding it has been handed to the kernel in full:
 *	inbox_lease_locked() marks the messages with a lease naming this
 *	process (slot and generation) and the reply; inbox_commit() removes
 *	them after the write, inbox_release_locked() frees them if the
 *	connection went away first.  Leases of a process that died lapse by
 *	themselves when the master bumps its slot's generation.
 *
 *	A file message that a written reply showed is not freed but moved to
 *	the kept chain (MF_KEPT), so that its recipient can still fetch the
 *	body; kept_expire() frees it once file_keep has passed.  Its hold on
 *	the file, and so the body, lasts as long as it does.
 */
#include <errno.h>
#include <string.h>

#include "shm/table.h"

#define COMMIT_CHUNK	256	/* messages removed per transaction */

/* msg_at - the message in slot i, or NULL if i is not a used slot */
struct shm_msg *
msg_at(struct state *st, uint32_t i)
{
	struct slot_table tb = msgs_table(st);

	return slot_used(&tb, i);
}

/*
 * msg_create - a new message slot (not yet on any chain) with its text
 * in the heap and its hold on a file.  ENOSPC: table or heap full.
 */
int
msg_create(struct state *st, const struct msg_new *m, uint32_t *idx,
    uint64_t *id)
{
	struct slot_table tb = msgs_table(st);
	struct shm_msg *msg;
	uint64_t text = 0;
	uint32_t i;

	if (m->len > 0 && heap_alloc(st, m->len, &text) == -1)
		return -1;
	if (slot_alloc(st, &tb, &i) == -1 ||
	    (m->file != 0 && file_ref(st, m->file) == -1) ||
	    txn_log(st, &st->hdr->next_msg_id, sizeof(uint64_t)) == -1)
		return -1;
	if (m->len > 0)
		memcpy(heap_ptr(st, text), m->text, m->len);
	msg = &st->msgs[i];
	msg->from = m->from;
	msg->to = m->to;
	msg->time = m->time;
	msg->text = text;
	msg->len = (uint32_t)m->len;
	msg->kind = m->kind;
	msg->group = m->group;
	msg->file = m->file;
	msg->realm = m->realm;
	msg->flags = m->flags;
	msg->ref = m->ref;
	msg->id = st->hdr->next_msg_id++;
	*idx = i;
	*id = msg->id;
	return 0;
}

/*
 * msg_release - free message i, already off its chain: its text, its
 * slot and its hold on a file (*gone: a body to unlink after commit).
 */
int
msg_release(struct state *st, uint32_t i, uint64_t *gone)
{
	struct slot_table tb = msgs_table(st);
	struct shm_msg *m = &st->msgs[i];

	*gone = 0;
	if ((m->len > 0 && heap_release(st, m->text, m->len) == -1) ||
	    (m->file != 0 && file_unref(st, m->file, gone) == -1))
		return -1;
	return slot_free(st, &tb, i);
}

/*
 * msg_enqueue - append a message to its recipient's queue.
 * EDQUOT: the recipient has quota messages waiting; ENOSPC: the message
 * table or the text heap is full.
 */
int
msg_enqueue(struct state *st, const struct msg_new *m, uint32_t quota,
    uint64_t *id)
{
	struct shm_user *u = user_at(st, m->to);
	uint32_t i;

	if (u == NULL) {
		errno = ENOENT;
		return -1;
	}
	if (u->inbox_count >= quota) {
		errno = EDQUOT;
		return -1;
	}
	if (msg_create(st, m, &i, id) == -1 ||
	    fifo_append(st, FIFO_OF(u, inbox), i) == -1 ||
	    (m->realm != 0 &&
	    txn_log(st, &u->realm_count, sizeof(u->realm_count)) == -1))
		return -1;
	if (m->realm != 0)
		u->realm_count++;
	if (u->watch != 0)		/* nobody watches: no further cost */
		watch_note_locked(st, u, m->to);
	return 0;
}

/* lease_live_locked - is the message held by a reply of a live process? */
bool
lease_live_locked(struct state *st, const struct shm_msg *m)
{
	uint32_t p = m->lease_proc;

	return p != 0 && p <= SHM_PROCS &&
	    __atomic_load_n(&st->procs[p - 1].gen, __ATOMIC_ACQUIRE) == m->lease_gen;
}

static bool
lease_is(const struct shm_msg *m, const struct lease *l)
{
	return m->lease_proc == l->proc && m->lease_gen == l->gen &&
	    m->lease_serial == l->serial;
}

/*
 * inbox_lease_locked - lease up to max waiting messages that arrived
 * over link realm (0: from this realm; LEASE_ANY: from anywhere),
 * oldest first, into out[],
 * stopping before max_bytes of text and file bodies (but taking at
 * least one); *more tells whether unleased messages remain.
 */
size_t
inbox_lease_locked(struct state *st, uint32_t user, uint32_t realm,
    const struct lease *l, uint32_t *out, size_t max, uint64_t max_bytes,
    bool *more)
{
	uint64_t bytes = 0;
	struct shm_user *u = user_at(st, user);
	uint32_t cap = st->hdr->region[RG_MSGS].count, steps = 0;
	size_t n = 0;

	*more = false;
	if (u == NULL || (realm == 0 && u->realm_count == u->inbox_count) ||
	    (realm != 0 && realm != LEASE_ANY && u->realm_count == 0))
		return 0;
	for (uint32_t i = u->inbox_head; i != 0 && i < cap && steps++ < cap;
	    i = st->msgs[i].next) {
		struct shm_msg *m = &st->msgs[i];
		if ((realm != LEASE_ANY && m->realm != realm) ||
		    lease_live_locked(st, m))
			continue;
		uint64_t size = m->len;
		if (m->kind == MSG_FILE && file_at(st, m->file) != NULL)
			size += st->files[m->file].size;
		if (n == max || (n > 0 && bytes + size > max_bytes)) {
			*more = true;
			break;
		}
		bytes += size;
		m->lease_proc = l->proc;
		m->lease_gen = l->gen;
		m->lease_serial = l->serial;
		out[n++] = i;
	}
	return n;
}

/* inbox_realm_counts_locked - counts[r]: waiting messages from link r */
void
inbox_realm_counts_locked(struct state *st, uint32_t user,
    uint32_t counts[REALMS_MAX + 1])
{
	struct shm_user *u = user_at(st, user);
	uint32_t cap = st->hdr->region[RG_MSGS].count, steps = 0, left;

	memset(counts, 0, (REALMS_MAX + 1) * sizeof(counts[0]));
	if (u == NULL || (left = u->realm_count) == 0)
		return;
	for (uint32_t i = u->inbox_head; i != 0 && i < cap && steps++ < cap &&
	    left > 0; i = st->msgs[i].next)
		if (st->msgs[i].realm != 0 && st->msgs[i].realm <= REALMS_MAX) {
			counts[st->msgs[i].realm]++;
			left--;
		}
}

/* inbox_release_locked - give back the messages of an unsent reply */
void
inbox_release_locked(struct state *st, uint32_t user, const struct lease *l)
{
	struct shm_user *u = user_at(st, user);
	uint32_t cap = st->hdr->region[RG_MSGS].count, steps = 0;

	if (u == NULL)
		return;
	for (uint32_t i = u->inbox_head; i != 0 && i < cap && steps++ < cap;
	    i = st->msgs[i].next)
		if (lease_is(&st->msgs[i], l))
			st->msgs[i].lease_proc = 0;
}

/* kept_append logs a message's lease and its flags and shown as one each */
_Static_assert(offsetof(struct shm_msg, lease_gen) ==
    offsetof(struct shm_msg, lease_proc) + sizeof(uint32_t) &&
    offsetof(struct shm_msg, lease_serial) ==
    offsetof(struct shm_msg, lease_proc) + 2 * sizeof(uint32_t),
    "lease_proc, lease_gen, lease_serial: adjacent, logged as one");
_Static_assert(offsetof(struct shm_msg, shown) ==
    offsetof(struct shm_msg, flags) + sizeof(uint32_t),
    "flags, shown: adjacent, logged as one");

/*
 * kept_append - message i, just taken off its inbox, goes to the tail of
 * the kept chain, stamped with the time it was shown.
 */
static int
kept_append(struct state *st, uint32_t i)
{
	struct shm_header *h = st->hdr;
	struct shm_msg *m = &st->msgs[i];

	if (txn_log(st, &m->next, sizeof(m->next)) == -1 ||
	    txn_log(st, &m->lease_proc, 3 * sizeof(uint32_t)) == -1 ||
	    txn_log(st, &m->flags, 2 * sizeof(uint32_t)) == -1)
		return -1;
	m->next = 0;
	if (fifo_append(st, FIFO_OF(h, kept), i) == -1)
		return -1;
	m->lease_proc = m->lease_gen = m->lease_serial = 0;
	m->flags |= MF_KEPT;
	m->shown = (uint32_t)now_sec();
	return 0;
}

/* kept_live - may the recipient of kept message m still fetch its file? */
bool
kept_live(const struct shm_msg *m, uint64_t now, uint64_t keep)
{
	return (m->flags & MF_KEPT) && (uint64_t)m->shown + keep > now;
}

/*
 * kept_expire - free up to max kept messages, oldest first, whose keep
 * time has passed at now; bodies that lost their last reference go to
 * gone[] (room for max).  Returns how many were freed.
 */
int
kept_expire(struct state *st, uint64_t now, uint64_t keep, uint32_t max,
    uint64_t *gone, size_t *ngone)
{
	struct shm_header *h = st->hdr;
	int n = 0;

	*ngone = 0;
	while ((uint32_t)n < max && h->kept_head != 0) {
		uint32_t i = h->kept_head;
		struct shm_msg *m = msg_at(st, i);

		if (m == NULL || !(m->flags & MF_KEPT)) {
			errno = EIO;
			return -1;
		}
		if (kept_live(m, now, keep))
			break;
		if (fifo_log(st, FIFO_OF(h, kept)) == -1)
			return -1;
		h->kept_head = m->next;
		if (h->kept_head == 0)
			h->kept_tail = 0;
		h->kept_count--;
		if (msg_release(st, i, &gone[*ngone]) == -1)
			return -1;
		if (gone[*ngone] != 0)
			(*ngone)++;
		n++;
	}
	return n;
}

/*
 * kept_make_room - drop the oldest kept files, whatever their age, until
 * the spool can take need more bytes under max: kept files yield to new
 * ones.  At most EVICT_MAX go, so that one transaction stays small;
 * EDQUOT if that was not enough.
 */
int
kept_make_room(struct state *st, uint64_t need, uint64_t max,
    struct evicted *ev)
{
	for (int i = 0; i < EVICT_MAX && ev->n < EVICT_MAX; i++) {
		uint64_t gone;
		size_t ngone;

		if (st->hdr->spool_bytes + need <= max)
			return 0;
		if (st->hdr->kept_head == 0)
			break;
		if (kept_expire(st, UINT64_MAX, 0, 1, &gone, &ngone) != 1)
			return -1;
		if (ngone == 1)
			ev->gone[ev->n++] = gone;
	}
	if (st->hdr->spool_bytes + need <= max)
		return 0;
	errno = EDQUOT;
	return -1;
}

/* wanted - is message i one of msgs[0, n) (msgs NULL: every one)? */
static bool
wanted(uint32_t i, const uint32_t *msgs, size_t n)
{
	if (msgs == NULL)
		return true;
	for (size_t j = 0; j < n; j++)
		if (msgs[j] == i)
			return true;
	return false;
}

/*
 * remove_leased - take up to n messages that carry lease l (and are in
 * msgs[], unless it is NULL) off u's queue, in the caller's transaction;
 * how many.  keep: files go to the kept chain; the bodies of others that
 * lost their last reference go to gone[].
 */
static int
remove_leased(struct state *st, struct shm_user *u, const struct lease *l,
    const uint32_t *msgs, size_t n, bool keep, uint64_t *gone, size_t *ngone)
{
	uint32_t cap = st->hdr->region[RG_MSGS].count, steps = 0, prev = 0;
	uint32_t *link = &u->inbox_head;
	int done = 0;

	if (fifo_log(st, FIFO_OF(u, inbox)) == -1 ||
	    txn_log(st, &u->realm_count, sizeof(u->realm_count)) == -1)
		return -1;
	while (*link != 0 && (size_t)done < n) {
		uint32_t i = *link;
		struct shm_msg *m = &st->msgs[i];
		if (i >= cap || ++steps > cap) {
			errno = EIO;
			return -1;
		}
		if (!lease_is(m, l) || !wanted(i, msgs, n)) {
			prev = i;
			link = &m->next;
			continue;
		}
		if (txn_log(st, link, sizeof(*link)) == -1)
			return -1;
		*link = m->next;
		if (u->inbox_tail == i)
			u->inbox_tail = prev;
		u->inbox_count--;
		if (m->realm != 0)
			u->realm_count--;
		gone[*ngone] = 0;
		if (keep && m->kind == MSG_FILE && !(m->flags & MF_BOUNCE)) {
			if (kept_append(st, i) == -1)
				return -1;
		} else if (msg_release(st, i, &gone[*ngone]) == -1)
			return -1;
		if (gone[*ngone] != 0)
			(*ngone)++;
		done++;
	}
	return done;
}

/*
 * inbox_commit - remove the messages of a reply that was fully written
 * (keep: its files go to the kept chain); returns how many.
 */
int
inbox_commit(struct state *st, uint32_t user, const struct lease *l, bool keep)
{
	uint64_t gone[COMMIT_CHUNK];
	int total = 0;

	for (;;) {
		struct shm_user *u;
		size_t ngone = 0;
		int n;

		txn_begin(st);
		if ((u = user_at(st, user)) == NULL) {
			txn_commit(st);
			return total;
		}
		if ((n = remove_leased(st, u, l, NULL, COMMIT_CHUNK, keep,
		    gone, &ngone)) == -1) {
			int saved = errno;
			txn_abort(st);
			errno = saved;
			return -1;
		}
		txn_commit(st);
		for (size_t j = 0; j < ngone; j++)
			spool_unlink(st, gone[j]);
		total += n;
		if (n < COMMIT_CHUNK)
			return total;
	}
}

/*
 * inbox_remove - remove the messages msgs[0, n) (at most COMMIT_CHUNK)
 * of lease l, in one transaction: the ones whose bytes were written,
 * while the rest of the lease stays held (keep: as inbox_commit).
 * Returns how many.
 */
int
inbox_remove(struct state *st, uint32_t user, const struct lease *l,
    const uint32_t *msgs, size_t n, bool keep)
{
	uint64_t gone[COMMIT_CHUNK];
	struct shm_user *u;
	size_t ngone = 0;
	int done;

	if (n > COMMIT_CHUNK) {
		errno = E2BIG;
		return -1;
	}
	txn_begin(st);
	if ((u = user_at(st, user)) == NULL) {
		txn_commit(st);
		return 0;
	}
	if ((done = remove_leased(st, u, l, msgs, n, keep, gone,
	    &ngone)) == -1) {
		int saved = errno;
		txn_abort(st);
		errno = saved;
		return -1;
	}
	txn_commit(st);
	for (size_t j = 0; j < ngone; j++)
		spool_unlink(st, gone[j]);
	return done;
}
