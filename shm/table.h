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

#endif
