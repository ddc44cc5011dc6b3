/*
 * NAME
 *	table - slot allocation and hash chains shared by every slot table
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "shm/table.h"

static struct slot_table
table_of(struct state *st, struct shm_table *t, enum shm_region_id r,
    uint32_t *buckets)
{
	struct slot_table tb = {
		.t = t,
		.base = st->base + st->hdr->region[r].off,
		.elem = st->hdr->region[r].elem,
		.cap = st->hdr->region[r].count,
		.buckets = buckets,
	};
	return tb;
}

struct slot_table
users_table(struct state *st)
{
	return table_of(st, &st->hdr->users, RG_USERS, st->user_hash);
}

struct slot_table
sessions_table(struct state *st)
{
	return table_of(st, &st->hdr->sessions, RG_SESSIONS, st->session_hash);
}

struct slot_table
msgs_table(struct state *st)
{
	return table_of(st, &st->hdr->msgs, RG_MSGS, NULL);
}

struct slot_table
groups_table(struct state *st)
{
	return table_of(st, &st->hdr->groups, RG_GROUPS, st->group_hash);
}

struct slot_table
members_table(struct state *st)
{
	return table_of(st, &st->hdr->members, RG_MEMBERS, NULL);
}

struct slot_table
files_table(struct state *st)
{
	return table_of(st, &st->hdr->files, RG_FILES, NULL);
}

struct slot_table
realms_table(struct state *st)
{
	return table_of(st, &st->hdr->realms, RG_REALMS, NULL);
}

_Static_assert(offsetof(struct shm_user, name) == sizeof(struct slot_head) &&
    offsetof(struct shm_group, name) == sizeof(struct slot_head),
    "chain_find_name expects the name right after the slot head");

/* slot_used - slot i if it is a used slot of the table, else NULL */
void *
slot_used(const struct slot_table *tb, uint32_t i)
{
	if (i == 0 || i > tb->t->hwm || i >= tb->cap ||
	    slot_at(tb, i)->state != SLOT_USED)
		return NULL;
	return slot_at(tb, i);
}

/*
 * chain_find_name - the slot in a bucket whose name (a NUL-terminated
 * field right after the slot head) is name[0, len); 0 if none.
 */
uint32_t
chain_find_name(const struct slot_table *tb, uint32_t bucket, const char *name,
    size_t len)
{
	uint32_t i = tb->buckets[bucket], steps = 0;

	if (len > REMOTE_NAME_LEN)
		return 0;
	while (i != 0 && i < tb->cap && steps++ < tb->cap) {
		const struct slot_head *s = slot_at(tb, i);
		const char *have = (const char *)(s + 1);
		if (strncmp(have, name, len) == 0 && have[len] == '\0')
			return i;
		i = s->next;
	}
	return 0;
}

/*
 * slot_alloc - a zeroed slot marked used.  A slot from the free list is
 * reachable in the old state and is logged whole; one above the
 * high-water mark is not, and only the counters are logged.
 */
int
slot_alloc(struct state *st, const struct slot_table *tb, uint32_t *idx)
{
	struct shm_table *t = tb->t;
	struct slot_head *s;
	uint32_t i;

	if (txn_log(st, t, sizeof(*t)) == -1)
		return -1;
	if (t->free != 0) {
		i = t->free;
		s = slot_at(tb, i);
		if (txn_log(st, s, tb->elem) == -1)
			return -1;
		t->free = s->next;
	} else if (t->hwm + 1 < tb->cap) {
		i = ++t->hwm;
		s = slot_at(tb, i);
	} else {
		errno = ENOSPC;
		return -1;
	}
	memset(s, 0, tb->elem);
	s->state = SLOT_USED;
	t->count++;
	*idx = i;
	return 0;
}

/* slot_free - put a used slot, already unlinked, on the free list */
int
slot_free(struct state *st, const struct slot_table *tb, uint32_t i)
{
	struct shm_table *t = tb->t;
	struct slot_head *s = slot_at(tb, i);

	if (txn_log(st, t, sizeof(*t)) == -1 ||
	    txn_log(st, s, sizeof(*s)) == -1)
		return -1;
	s->state = SLOT_FREE;
	s->next = t->free;
	t->free = i;
	t->count--;
	return 0;
}

/* chain_push - link slot i at the head of a hash bucket */
int
chain_push(struct state *st, const struct slot_table *tb, uint32_t bucket,
    uint32_t i)
{
	uint32_t *head = &tb->buckets[bucket];

	if (txn_log(st, head, sizeof(*head)) == -1)
		return -1;
	slot_at(tb, i)->next = *head;	/* slot i is new in this transaction */
	*head = i;
	return 0;
}

/* chain_unlink - take slot i out of its hash bucket */
int
chain_unlink(struct state *st, const struct slot_table *tb, uint32_t bucket,
    uint32_t i)
{
	uint32_t *link = &tb->buckets[bucket];
	uint32_t steps = 0;

	while (*link != 0 && *link != i) {
		if (*link >= tb->cap || ++steps > tb->cap) {
			errno = EIO;
			return -1;
		}
		link = &slot_at(tb, *link)->next;
	}
	if (*link != i) {
		errno = ENOENT;
		return -1;
	}
	if (txn_log(st, link, sizeof(*link)) == -1)
		return -1;
	*link = slot_at(tb, i)->next;
	return 0;
}

/* fifo_log - log head, tail and count of f, before any of them changes */
int
fifo_log(struct state *st, struct fifo f)
{
	return txn_log(st, f.head, 3 * sizeof(uint32_t));
}

/*
 * fifo_append - put message msg (its next already 0) at the tail of f,
 * logging what changes, inside the caller's transaction
 */
int
fifo_append(struct state *st, struct fifo f, uint32_t msg)
{
	struct shm_msg *tail;

	if (fifo_log(st, f) == -1)
		return -1;
	if ((tail = msg_at(st, *f.tail)) != NULL) {
		if (txn_log(st, &tail->next, sizeof(tail->next)) == -1)
			return -1;
		tail->next = msg;
	} else
		*f.head = msg;
	*f.tail = msg;
	(*f.count)++;
	return 0;
}
