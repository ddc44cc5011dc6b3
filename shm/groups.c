/*
 * NAME
 *	groups - groups, their members and their history
 * DESCRIPTION
 *	Groups are hashed by name.  A group's members are a chain of
 *	shm_member slots; its history is a chain of messages (to = 0) from
 *	hist_head to hist_tail, trimmed to the newest `keep` on every post.
 *	Everything here runs inside a transaction, but for the _locked finds.
 */
#include <errno.h>
#include <string.h>
#include <bsd/string.h>

#include "shm/table.h"

/* group_at - the group in slot i, or NULL if i is not a used slot */
struct shm_group *
group_at(struct state *st, uint32_t i)
{
	struct slot_table tb = groups_table(st);

	return slot_used(&tb, i);
}

uint32_t
group_bucket(struct state *st, const char *name, size_t len)
{
	return hash_str(st->hdr->hash_key ^ 0x67726f7570ULL, name, len) &
	    st->hdr->groups.mask;
}

/* group_find_locked - slot of the group called name, 0 if none */
uint32_t
group_find_locked(struct state *st, const char *name, size_t len)
{
	struct slot_table tb = groups_table(st);

	return chain_find_name(&tb, group_bucket(st, name, len), name, len);
}

/* member_find_locked - membership slot of user in group g, 0 if none */
uint32_t
member_find_locked(struct state *st, uint32_t g, uint32_t user)
{
	struct shm_group *grp = group_at(st, g);
	uint32_t cap = st->hdr->region[RG_MEMBERS].count, steps = 0;

	if (grp == NULL)
		return 0;
	for (uint32_t i = grp->members; i != 0 && i < cap && steps++ < cap;
	    i = st->members[i].next)
		if (st->members[i].user == user)
			return i;
	return 0;
}

/*
 * member_add - put user into group g.  EEXIST: already a member;
 * EDQUOT: the group has `limit` members; ENOSPC: membership table full.
 */
int
member_add(struct state *st, uint32_t g, uint32_t user, uint32_t limit)
{
	struct slot_table tb = members_table(st);
	struct shm_group *grp = group_at(st, g);
	struct shm_member *m;
	uint32_t i;

	if (grp == NULL || user_at(st, user) == NULL) {
		errno = ENOENT;
		return -1;
	}
	if (member_find_locked(st, g, user) != 0) {
		errno = EEXIST;
		return -1;
	}
	if (grp->nmembers >= limit) {
		errno = EDQUOT;
		return -1;
	}
	if (slot_alloc(st, &tb, &i) == -1 ||
	    txn_log(st, &grp->members, sizeof(grp->members)) == -1 ||
	    txn_log(st, &grp->nmembers, sizeof(grp->nmembers)) == -1)
		return -1;
	m = &st->members[i];
	m->group = g;
	m->user = user;
	m->joined = now_sec();
	m->next = grp->members;
	grp->members = i;
	grp->nmembers++;
	return 0;
}

/* member_remove - take user out of group g; ENOENT if not a member */
int
member_remove(struct state *st, uint32_t g, uint32_t user)
{
	struct slot_table tb = members_table(st);
	struct shm_group *grp = group_at(st, g);
	uint32_t *link, cap = st->hdr->region[RG_MEMBERS].count, steps = 0;

	if (grp == NULL) {
		errno = ENOENT;
		return -1;
	}
	for (link = &grp->members; *link != 0; link = &st->members[*link].next) {
		if (*link >= cap || ++steps > cap) {
			errno = EIO;
			return -1;
		}
		if (st->members[*link].user == user)
			break;
	}
	if (*link == 0) {
		errno = ENOENT;
		return -1;
	}
	uint32_t i = *link;
	if (txn_log(st, link, sizeof(*link)) == -1 ||
	    txn_log(st, &grp->nmembers, sizeof(grp->nmembers)) == -1)
		return -1;
	*link = st->members[i].next;
	grp->nmembers--;
	return slot_free(st, &tb, i);
}

/*
 * group_create - a new group with its creator as first member.
 * pwhash is "" for a group without password.  EEXIST, ENOSPC.
 */
int
group_create(struct state *st, const char *name, const char *pwhash,
    uint32_t creator, uint32_t *idx)
{
	struct slot_table tb = groups_table(st);
	size_t len = strlen(name);
	struct shm_group *g;
	uint32_t i;

	if (group_find_locked(st, name, len) != 0) {
		errno = EEXIST;
		return -1;
	}
	if (slot_alloc(st, &tb, &i) == -1)
		return -1;
	g = &st->groups[i];
	strlcpy(g->name, name, sizeof(g->name));
	strlcpy(g->pwhash, pwhash, sizeof(g->pwhash));
	g->created = now_sec();
	g->creator = creator;
	if (chain_push(st, &tb, group_bucket(st, name, len), i) == -1 ||
	    member_add(st, i, creator, UINT32_MAX) == -1)
		return -1;
	*idx = i;
	return 0;
}

/*
 * group_post - append a message to g's history, dropping the oldest
 * beyond keep.  *gone: a file body to unlink after commit, or 0.
 */
int
group_post(struct state *st, uint32_t g, const struct msg_new *m,
    uint32_t keep, uint64_t *id, uint64_t *gone)
{
	struct shm_group *grp = group_at(st, g);
	uint32_t i, old;

	*gone = 0;
	if (grp == NULL) {
		errno = ENOENT;
		return -1;
	}
	if (msg_create(st, m, &i, id) == -1)
		return -1;
	st->msgs[i].group = g;
	if (fifo_append(st, FIFO_OF(grp, hist), i) == -1)
		return -1;
	if (grp->hist_count <= keep)
		return 0;
	old = grp->hist_head;
	grp->hist_head = st->msgs[old].next;
	grp->hist_count--;
	return msg_release(st, old, gone);
}
