/*
 * NAME
 *	table - slot allocation and hash chains shared by every slot table
 * DESCRIPTION
 *	Every slot struct begins with { uint32_t state; uint32_t next; }:
 *	next chains a used slot into its hash bucket and a free slot into
 *	the table's free list.  Users and groups keep their name right after
 *	that head.  Functions that change a table run inside a transaction.
 */
#ifndef RC_TABLE_H
#define RC_TABLE_H

#include <stddef.h>

#include "shm/state.h"

struct slot_head {
	uint32_t	state;
	uint32_t	next;
};

struct slot_table {
	struct shm_table *t;		/* counters in the header */
	char		 *base;		/* slot 0 */
	uint32_t	  elem;		/* bytes per slot */
	uint32_t	  cap;		/* slots, including the unused slot 0 */
	uint32_t	 *buckets;	/* hash buckets, or NULL */
};

struct slot_table users_table(struct state *);
struct slot_table sessions_table(struct state *);
struct slot_table msgs_table(struct state *);
struct slot_table groups_table(struct state *);
struct slot_table members_table(struct state *);
struct slot_table files_table(struct state *);
struct slot_table realms_table(struct state *);

static inline struct slot_head *
slot_at(const struct slot_table *tb, uint32_t i)
{
	return (struct slot_head *)(void *)(tb->base + (size_t)i * tb->elem);
}

void	*slot_used(const struct slot_table *, uint32_t);
uint32_t chain_find_name(const struct slot_table *, uint32_t bucket,
	    const char *, size_t);
int	slot_alloc(struct state *, const struct slot_table *, uint32_t *);
uint32_t user_bucket(struct state *, const char *, size_t);
uint32_t session_bucket(struct state *, const uint8_t *);
uint32_t group_bucket(struct state *, const char *, size_t);
int	slot_free(struct state *, const struct slot_table *, uint32_t);
int	chain_push(struct state *, const struct slot_table *, uint32_t bucket,
	    uint32_t);
int	chain_unlink(struct state *, const struct slot_table *, uint32_t bucket,
	    uint32_t);

/*
 * A FIFO of messages chained through shm_msg.next (an inbox, a group's
 * history, a link's outbox, the kept chain) is three adjacent words of
 * its owner, {f_head, f_tail, f_count}, logged as one undo record.
 * FIFO_OF(owner, f) points at them and asserts, where it is used, that
 * the layout has them adjacent and in that order.
 */
struct fifo {
	uint32_t	*head;		/* oldest message, 0 if empty */
	uint32_t	*tail;		/* newest message, 0 if empty */
	uint32_t	*count;
};

#define FIFO_ADJACENT(type, f)						\
	(offsetof(type, f##_tail) == offsetof(type, f##_head) +		\
	    sizeof(uint32_t) &&						\
	    offsetof(type, f##_count) == offsetof(type, f##_head) +	\
	    2 * sizeof(uint32_t))
#define FIFO_OF(p, f)							\
	((void)sizeof(struct { int ok; _Static_assert(			\
	    FIFO_ADJACENT(__typeof__(*(p)), f),				\
	    #f "_head, _tail, _count: adjacent, logged as one"); }),	\
	    (struct fifo){ &(p)->f##_head, &(p)->f##_tail, &(p)->f##_count })

int	fifo_log(struct state *, struct fifo);
int	fifo_append(struct state *, struct fifo, uint32_t msg);

#endif
