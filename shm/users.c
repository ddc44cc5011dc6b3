/*
 * NAME
 *	users - the user table, hashed by name
 */
#include <errno.h>
#include <string.h>
#include <bsd/string.h>

#include "shm/table.h"

/* user_at - the user in slot i, or NULL if i is not a used slot */
struct shm_user *
user_at(struct state *st, uint32_t i)
{
	struct slot_table tb = users_table(st);

	return slot_used(&tb, i);
}

uint32_t
user_bucket(struct state *st, const char *name, size_t len)
{
	return hash_str(st->hdr->hash_key, name, len) & st->hdr->users.mask;
}

/* user_find_locked - slot of the user called name, 0 if none */
uint32_t
user_find_locked(struct state *st, const char *name, size_t len)
{
	struct slot_table tb = users_table(st);

	return chain_find_name(&tb, user_bucket(st, name, len), name, len);
}

/*
 * user_insert - add a user of this realm; EEXIST if the name is taken,
 * ENOSPC if max_users are there.  The table also keeps room for remote
 * users (remote_cap), which they alone use: they never fill ours.
 */
int
user_insert(struct state *st, const struct user_fields *f, uint32_t *idx)
{
	struct slot_table tb = users_table(st);

	if (user_find_locked(st, f->name, strlen(f->name)) != 0) {
		errno = EEXIST;
		return -1;
	}
	/* (state_check keeps remote_users <= count and remote_cap < cap) */
	if (tb.t->count - st->hdr->remote_users >=
	    tb.cap - 1 - st->hdr->remote_cap) {
		errno = ENOSPC;
		return -1;
	}
	return user_insert_remote(st, f, idx);
}

/* user_insert_remote - add a user slot; the caller counts it (remote_user) */
int
user_insert_remote(struct state *st, const struct user_fields *f,
    uint32_t *idx)
{
	struct slot_table tb = users_table(st);
	size_t len = strlen(f->name);
	struct shm_user *u;
	uint32_t i;

	if (user_find_locked(st, f->name, len) != 0) {
		errno = EEXIST;
		return -1;
	}
	if (slot_alloc(st, &tb, &i) == -1)
		return -1;
	u = &st->users[i];
	strlcpy(u->name, f->name, sizeof(u->name));
	strlcpy(u->display, f->display, sizeof(u->display));
	strlcpy(u->country, f->country, sizeof(u->country));
	strlcpy(u->pwhash, f->pwhash, sizeof(u->pwhash));
	u->created = now_sec();
	if (chain_push(st, &tb, user_bucket(st, f->name, len), i) == -1)
		return -1;
	*idx = i;
	return 0;
}
