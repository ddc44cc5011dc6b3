/*
 * NAME
 *	state - the shared state: open, lock, transactions, tables
 * DESCRIPTION
 *	Functions named *_locked expect the caller to hold the lock;
 *	functions that change tables expect an open transaction (txn_begin),
 *	which also holds the lock.  Table functions never block and never
 *	log: errors come back as -1 with errno (ENOENT, EEXIST, ENOSPC,
 *	EDQUOT, E2BIG).
 */
#ifndef RC_STATE_H
#define RC_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/config.h"
#include "shm/shm.h"

struct state {
	char			*base;		/* the mapping */
	size_t			 size;
	int			 fd;		/* holds the flock while open */
	struct shm_header	*hdr;
	struct shm_proc		*procs;
	struct shm_user		*users;
	uint32_t		*user_hash;
	struct shm_session	*sessions;
	uint32_t		*session_hash;
	struct shm_msg		*msgs;
	struct shm_group	*groups;
	uint32_t		*group_hash;
	struct shm_member	*members;
	struct shm_file		*files;
	struct shm_realm	*realms;
	char			*heap;
	char			*undo;
	char			 spool[PATH_MAX];	/* file bodies */
	uint64_t		 spool_reserve;	/* bytes its disk keeps free */
	int			 proc;		/* our slot in procs, -1 none */
	uint32_t		 pid;		/* our pid, the lock's owner word */
	int			 wake_fd[SHM_PROCS];	/* eventfd per slot, -1 none */
	uint64_t		 wake_due;	/* slots to wake once unlocked */
};

/* state.c */
int	state_open(struct state *, const struct config *, char *err, size_t);
void	state_close(struct state *);
int	state_check(struct state *, char *err, size_t);
void	state_set_proc(struct state *, int slot);
int	state_proc_claim(struct state *, enum proc_role);
void	state_proc_release(struct state *, int slot);
void	state_proc_fold(struct state *, int into, int from);
void	state_recover_dead(struct state *, pid_t);

/* counters.c: shm_proc.commands[i] counts the command named here */
#define COUNTED_COMMANDS	32	/* worker/command.c's table */
const char *counted_command_name(size_t i);

/* lock.c */
void	state_lock(struct state *);
bool	state_trylock(struct state *);
void	state_unlock(struct state *);
bool	state_lock_force(struct state *, pid_t);
void	state_lock_init(struct state *);

/* txn.c */
void	txn_begin(struct state *);
void	txn_begin_locked(struct state *);
int	txn_log(struct state *, const void *, size_t);
void	txn_commit(struct state *);
void	txn_abort(struct state *);
int	txn_rollback_locked(struct state *);
void	txn_debug_sleep(unsigned ms);

/* users.c */
struct user_fields {
	const char	*name;
	const char	*display;
	const char	*country;
	const char	*pwhash;
};
struct shm_user	*user_at(struct state *, uint32_t);
uint32_t	 user_find_locked(struct state *, const char *, size_t);
int		 user_insert(struct state *, const struct user_fields *, uint32_t *);
int		 user_insert_remote(struct state *, const struct user_fields *,
		     uint32_t *);

/* sessions.c */
struct shm_session *session_at(struct state *, uint32_t);
uint32_t	 session_find_locked(struct state *, const uint8_t *, uint64_t now,
		     uint64_t timeout);
int		 session_create(struct state *, uint32_t user, uint64_t now,
		     uint32_t per_user, uint8_t tok[TOKEN_LEN], uint32_t *);
int		 session_delete(struct state *, uint32_t);
int		 session_expire(struct state *, uint64_t now, uint64_t timeout,
		     uint32_t max);

/* heap.c */
int		 heap_alloc(struct state *, size_t len, uint64_t *off);
int		 heap_release(struct state *, uint64_t off, size_t len);
static inline char *heap_ptr(struct state *st, uint64_t off)
{ return st->heap + off; }

/* inbox.c */
struct msg_new {
	uint32_t	 from;
	uint32_t	 to;		/* 0 for a group history */
	const char	*text;
	size_t		 len;
	uint32_t	 kind;
	uint64_t	 time;
	uint32_t	 group;		/* group message: its group */
	uint32_t	 file;		/* MSG_FILE: its file slot */
	uint32_t	 realm;		/* arrived over, or queued for, this link */
	uint32_t	 flags;		/* enum msg_flags */
	uint64_t	 ref;		/* MF_BOUNCE: the refused message */
};
struct lease {
	uint32_t	 proc;		/* slot + 1 */
	uint32_t	 gen;
	uint32_t	 serial;
};
struct shm_msg	*msg_at(struct state *, uint32_t);
int		 msg_create(struct state *, const struct msg_new *, uint32_t *,
		     uint64_t *id);
int		 msg_release(struct state *, uint32_t, uint64_t *gone);
int		 msg_enqueue(struct state *, const struct msg_new *,
		     uint32_t quota, uint64_t *id);
size_t		 inbox_lease_locked(struct state *, uint32_t user,
		     uint32_t realm, const struct lease *, uint32_t *out,
		     size_t max, uint64_t max_bytes, bool *more);
void		 inbox_realm_counts_locked(struct state *, uint32_t user,
		     uint32_t counts[REALMS_MAX + 1]);
int		 inbox_commit(struct state *, uint32_t user, const struct lease *,
		     bool keep);
int		 inbox_remove(struct state *, uint32_t user, const struct lease *,
		     const uint32_t *msgs, size_t n, bool keep);
bool		 kept_live(const struct shm_msg *, uint64_t now, uint64_t keep);
/* Bodies that making room in the spool freed, to unlink once committed. */
#define EVICT_MAX	64	/* kept files dropped for one new file, at most */
struct evicted {
	size_t		 n;
	uint64_t	 gone[EVICT_MAX];
};
int		 kept_make_room(struct state *, uint64_t need, uint64_t max,
		     struct evicted *);
int		 kept_expire(struct state *, uint64_t now, uint64_t keep,
		     uint32_t max, uint64_t *gone, size_t *ngone);
void		 inbox_release_locked(struct state *, uint32_t user,
		     const struct lease *);
bool		 lease_live_locked(struct state *, const struct shm_msg *);

/* watch.c: push to watching connections */
#define LEASE_ANY	UINT32_MAX	/* inbox_lease_locked: every link */
int		 watch_open(struct state *);
void		 watch_reset_locked(struct state *);
void		 watch_note_locked(struct state *, struct shm_user *, uint32_t user);
void		 watch_wake(struct state *);
int		 watch_set_locked(struct state *, uint32_t user, bool on);
size_t		 watch_take_locked(struct state *, uint32_t *users, size_t max,
		     bool *lost);
bool		 watch_hinted(struct state *);

/* groups.c */
struct shm_group *group_at(struct state *, uint32_t);
uint32_t	 group_find_locked(struct state *, const char *, size_t);
uint32_t	 member_find_locked(struct state *, uint32_t group, uint32_t user);
int		 member_add(struct state *, uint32_t group, uint32_t user,
		     uint32_t limit);
int		 member_remove(struct state *, uint32_t group, uint32_t user);
int		 group_create(struct state *, const char *name, const char *pwhash,
		     uint32_t creator, uint32_t *);
int		 group_post(struct state *, uint32_t group, const struct msg_new *,
		     uint32_t keep, uint64_t *id, uint64_t *gone);

/* spool.c */
struct shm_file	*file_at(struct state *, uint32_t);
int		 spool_open(struct state *, const char *state_dir, char *, size_t);
void		 spool_path(const struct state *, uint64_t id, bool tmp, char *,
		     size_t);
void		 spool_unlink(const struct state *, uint64_t id);
int		 spool_store(struct state *, const void *, size_t, uint64_t *id);
int		 file_create(struct state *, uint64_t id, uint64_t size,
		     const char *name, uint32_t group, uint64_t max, uint32_t *);
int		 file_create_room(struct state *, uint64_t id, uint64_t size,
		     const char *name, uint32_t group, uint64_t max, uint32_t *,
		     struct evicted *);
void		 evicted_unlink(const struct state *, struct evicted *);
int		 file_ref(struct state *, uint32_t);
int		 file_unref(struct state *, uint32_t, uint64_t *gone);

/* realms.c */
struct shm_realm *realm_at(struct state *, uint32_t);
uint32_t	 realm_find_locked(struct state *, const char *, size_t);
uint32_t	 realm_find_peer_locked(struct state *, const char *peer);
int		 realm_insert(struct state *, const char *name, const char *peer,
		     const char *host, uint16_t port, uint32_t flags, uint32_t *);
int		 realm_set_peer(struct state *, uint32_t, const char *peer);
int		 realm_add_name(struct state *, uint32_t, const char *name);
int		 realm_set_peer_id(struct state *, uint32_t, const char *id);
int		 realm_names(const struct shm_realm *,
		     const char *out[REALM_NAMES_MAX]);
int		 realm_remove(struct state *, uint32_t, uint64_t *gone, size_t *ngone,
		     size_t max);
int		 realm_arrivals_home(struct state *, uint32_t realm, uint32_t *pos,
		     uint32_t max, bool *whole);
int		 outbox_append(struct state *, uint32_t realm, const struct msg_new *,
		     uint32_t limit, uint64_t *id);
uint32_t	 outbox_find_locked(struct state *, uint32_t realm, uint64_t id);
int		 outbox_remove(struct state *, uint32_t realm, uint32_t msg,
		     uint64_t *gone);
int		 realm_received(struct state *, uint32_t realm, uint64_t seq,
		    uint64_t id, int code);

/* seq_after - link sequence number a comes after b (RFC 1982, 32 bits) */
static inline bool
seq_after(uint64_t a, uint64_t b)
{
	uint32_t d = (uint32_t)a - (uint32_t)b;

	return d != 0 && d < 0x80000000u;
}
int		 realm_rejected_locked(struct state *, uint32_t realm, uint64_t id);
int		 remote_user(struct state *, uint32_t realm, const char *user,
		     const char *display, uint32_t *);
const char	*remote_user_name(const struct shm_user *, size_t *len);
bool		 user_name_ok(const struct shm_user *);
int		 bounce_enqueue(struct state *, uint32_t user, const char *realm,
		     int code, const char *target, const char *why, uint64_t ref);

#endif
