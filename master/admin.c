/*
 * NAME
 *	admin - the state as realmctl sees it, and what realmctl may change
 * DESCRIPTION
 *	Each function builds one whole reply object for the control socket.
 *	Status reads only counters (single words) and takes no lock, so it
 *	answers even while the state is busy.  The lists walk tables, under
 *	the lock; a list stops at CTL_LIST_MAX entries and says so, which
 *	bounds both the time the lock is held and the size of the reply.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/ctl.h"
#include "lib/reply.h"
#include "lib/version.h"
#include "master/master.h"
#include "shm/deliver.h"

#define KICK_BATCH	256	/* sessions ended per transaction */
#define MOVE_BATCH	2048	/* arrivals moved home per transaction */
#define DROP_BATCH	1024	/* queued messages dropped per transaction */

static cJSON *
busy(void)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "status", "ERROR");
	cJSON_AddStringToObject(o, "message", "the state is busy; try again");
	return o;
}

static void
add_time(cJSON *o, const char *key, uint64_t sec)
{
	char iso[21];

	iso_time(sec, iso);
	cJSON_AddStringToObject(o, key, iso);
}

static void
add_usage(cJSON *tables, const char *name, uint64_t used, uint64_t capacity)
{
	cJSON *t = cJSON_AddObjectToObject(tables, name);

	cJSON_AddNumberToObject(t, "used", (double)used);
	cJSON_AddNumberToObject(t, "capacity", (double)capacity);
}

/* slots - capacity of a slot table: slot 0 is never used */
static uint64_t
slots(const struct state *st, enum shm_region_id r)
{
	return st->hdr->region[r].count - 1;
}

/* add_tables - use of every table of the state against its capacity */
static void
add_tables(cJSON *o, const struct state *st, const struct config *cf)
{
	const struct shm_header *h = st->hdr;
	cJSON *t = cJSON_AddObjectToObject(o, "tables");

	add_usage(t, "users", h->users.count, slots(st, RG_USERS));
	add_usage(t, "sessions", h->sessions.count, slots(st, RG_SESSIONS));
	add_usage(t, "messages", h->msgs.count, slots(st, RG_MSGS));
	add_usage(t, "message_store", h->heap_used, h->region[RG_HEAP].size);
	add_usage(t, "groups", h->groups.count, slots(st, RG_GROUPS));
	add_usage(t, "memberships", h->members.count, slots(st, RG_MEMBERS));
	add_usage(t, "files", h->files.count, slots(st, RG_FILES));
	add_usage(t, "spool", h->spool_bytes, cf->spool_max);
	/* shown files still fetchable: each holds a message slot */
	add_usage(t, "kept_files", h->kept_count, slots(st, RG_MSGS));
	add_usage(t, "undo_log", h->undo_used, h->region[RG_UNDO].size);
}

/* add_workers - the running workers and their own counters */
static uint64_t
add_workers(cJSON *o, struct state *st)
{
	struct child_info kids[SHM_PROCS];
	int n = master_children(kids, SHM_PROCS);
	cJSON *a = cJSON_AddArrayToObject(o, "workers");
	uint64_t conns = 0;

	for (int i = 0; i < n; i++) {
		const struct shm_proc *p = &st->procs[kids[i].slot];
		cJSON *w;

		if (kids[i].role == PROC_REALMD) {
			w = cJSON_AddObjectToObject(o, "realmd");
			cJSON_AddNumberToObject(w, "pid", kids[i].pid);
			add_time(w, "started", p->started);
			continue;
		}
		w = cJSON_CreateObject();
		cJSON_AddNumberToObject(w, "pid", kids[i].pid);
		add_time(w, "started", p->started);
		cJSON_AddNumberToObject(w, "connections", (double)p->conns);
		cJSON_AddNumberToObject(w, "requests", (double)p->requests);
		cJSON_AddBoolToObject(w, "retiring", kids[i].retiring);
		cJSON_AddItemToArray(a, w);
		conns += p->conns;
	}
	return conns;
}

/* admin_status - version, uptime, workers, connections, table usage */
cJSON *
admin_status(void)
{
	const struct config *cf = master_config();
	struct state *st = master_state();
	cJSON *o = reply_ok(NULL);
	char listen[300];

	cJSON_AddStringToObject(o, "version", REALMCHAT_VERSION);
	cJSON_AddStringToObject(o, "realm", cf->realm_name);
	cJSON_AddNumberToObject(o, "pid", (double)getpid());
	add_time(o, "started", master_started());
	cJSON_AddNumberToObject(o, "uptime", (double)(now_sec() - master_started()));
	cJSON_AddBoolToObject(o, "stopping", master_stopping());
	snprintf(listen, sizeof(listen), "%s:%u", cf->listen_host, cf->listen_port);
	cJSON_AddStringToObject(o, "listen", listen);
	cJSON_AddStringToObject(o, "config", cf->path);
	cJSON_AddStringToObject(o, "state_dir", cf->state_dir);
	cJSON_AddNumberToObject(o, "connections", (double)add_workers(o, st));
	cJSON_AddNumberToObject(o, "sessions", st->hdr->sessions.count);
	add_tables(o, st, cf);
	return o;
}

/* list_reply - an OK reply with an array called key, to be filled */
static cJSON *
list_reply(const char *key, cJSON **array)
{
	cJSON *o = reply_ok(NULL);

	*array = cJSON_AddArrayToObject(o, key);
	return o;
}

/* list_end - how many there are; whether the reply holds them all */
static void
list_end(cJSON *o, uint32_t total)
{
	cJSON_AddNumberToObject(o, "total", total);
	cJSON_AddBoolToObject(o, "truncated", total > CTL_LIST_MAX);
}

static cJSON *
user_json(const struct shm_user *u)
{
	cJSON *e = cJSON_CreateObject();

	cJSON_AddStringToObject(e, "user", u->name);
	json_add_text(e, "name", u->display, strlen(u->display));
	json_add_text(e, "country", u->country, strlen(u->country));
	add_time(e, "created", u->created);
	cJSON_AddNumberToObject(e, "sessions", u->nsessions);
	cJSON_AddNumberToObject(e, "inbox", u->inbox_count);
	return e;
}

/* admin_users - every user (up to CTL_LIST_MAX), in table order */
cJSON *
admin_users(void)
{
	struct state *st = master_state();
	cJSON *a, *o;
	int n = 0;

	if (master_lock() == -1)
		return busy();
	o = list_reply("users", &a);
	for (uint32_t i = 1; i <= st->hdr->users.hwm && n < CTL_LIST_MAX; i++) {
		const struct shm_user *u = user_at(st, i);
		if (u == NULL)
			continue;
		cJSON_AddItemToArray(a, user_json(u));
		n++;
	}
	list_end(o, st->hdr->users.count);
	state_unlock(st);
	return o;
}

/* session_json - a session, named by the start of its token only */
static cJSON *
session_json(struct state *st, const struct shm_session *s, uint64_t now)
{
	const struct shm_user *u = user_at(st, s->user);
	cJSON *e = cJSON_CreateObject();
	char tok[TOKEN_STR_LEN + 1];

	token_format(s->token, tok);
	tok[8] = '\0';		/* enough to tell them apart, useless to steal */
	cJSON_AddStringToObject(e, "user", u != NULL ? u->name : "?");
	cJSON_AddStringToObject(e, "token", tok);
	add_time(e, "created", s->created);
	add_time(e, "last_seen", s->last_seen);
	cJSON_AddNumberToObject(e, "idle", (double)(now > s->last_seen ?
	    now - s->last_seen : 0));
	cJSON_AddBoolToObject(e, "expired", s->last_seen +
	    master_config()->session_timeout < now);
	return e;
}

/* admin_sessions - every session (up to CTL_LIST_MAX) */
cJSON *
admin_sessions(void)
{
	struct state *st = master_state();
	uint64_t now = now_sec();
	cJSON *a, *o;
	int n = 0;

	if (master_lock() == -1)
		return busy();
	o = list_reply("sessions", &a);
	for (uint32_t i = 1; i <= st->hdr->sessions.hwm && n < CTL_LIST_MAX;
	    i++) {
		const struct shm_session *s = session_at(st, i);
		if (s == NULL)
			continue;
		cJSON_AddItemToArray(a, session_json(st, s, now));
		n++;
	}
	list_end(o, st->hdr->sessions.count);
	state_unlock(st);
	return o;
}

static cJSON *
group_json(struct state *st, const struct shm_group *g)
{
	const struct shm_user *creator = user_at(st, g->creator);
	cJSON *e = cJSON_CreateObject();

	cJSON_AddStringToObject(e, "group", g->name);
	cJSON_AddStringToObject(e, "creator", creator ? creator->name : "");
	add_time(e, "created", g->created);
	cJSON_AddNumberToObject(e, "members", g->nmembers);
	cJSON_AddNumberToObject(e, "history", g->hist_count);
	cJSON_AddBoolToObject(e, "password", g->pwhash[0] != '\0');
	return e;
}

/* admin_groups - every group (up to CTL_LIST_MAX) */
cJSON *
admin_groups(void)
{
	struct state *st = master_state();
	cJSON *a, *o;
	int n = 0;

	if (master_lock() == -1)
		return busy();
	o = list_reply("groups", &a);
	for (uint32_t i = 1; i <= st->hdr->groups.hwm && n < CTL_LIST_MAX; i++) {
		const struct shm_group *g = group_at(st, i);
		if (g == NULL)
			continue;
		cJSON_AddItemToArray(a, group_json(st, g));
		n++;
	}
	list_end(o, st->hdr->groups.count);
	state_unlock(st);
	return o;
}

/* admin_realms - every link to another realm, as listrealm shows it */
cJSON *
admin_realms(void)
{
	struct state *st = master_state();
	cJSON *a, *o;
	uint32_t n = 0;

	if (master_lock() == -1)
		return busy();
	o = list_reply("realms", &a);
	for (uint32_t i = 1; i <= st->hdr->realms.hwm && i <= REALMS_MAX; i++)
		if (realm_at(st, i) != NULL) {
			cJSON_AddItemToArray(a, realm_json(&st->realms[i]));
			n++;
		}
	list_end(o, n);
	state_unlock(st);
	return o;
}

/* sum - counters of every process that is or was, since the start */
static void
sum(struct state *st, struct shm_proc *total)
{
	memset(total, 0, sizeof(*total));
	for (int i = 0; i < SHM_PROCS; i++) {
		const struct shm_proc *p = &st->procs[i];
#define ADD(f)	total->f += __atomic_load_n(&p->f, __ATOMIC_RELAXED)
		ADD(accepted); ADD(requests); ADD(bytes_in); ADD(bytes_out);
		ADD(stored); ADD(delivered); ADD(conns);
		for (int j = 0; j < STAT_COMMANDS; j++)
			ADD(commands[j]);
		for (int j = 0; j < STAT_ERRORS; j++)
			ADD(errors[j]);
#undef ADD
	}
}

/* admin_stats - counters summed over the processes, by name */
cJSON *
admin_stats(void)
{
	struct shm_proc t;
	cJSON *o = reply_ok(NULL), *c, *e;
	const char *name;

	sum(master_state(), &t);
	add_time(o, "since", master_started());
	cJSON_AddNumberToObject(o, "connections", (double)t.conns);
	cJSON_AddNumberToObject(o, "accepted", (double)t.accepted);
	cJSON_AddNumberToObject(o, "requests", (double)t.requests);
	cJSON_AddNumberToObject(o, "bytes_in", (double)t.bytes_in);
	cJSON_AddNumberToObject(o, "bytes_out", (double)t.bytes_out);
	cJSON_AddNumberToObject(o, "stored", (double)t.stored);
	cJSON_AddNumberToObject(o, "delivered", (double)t.delivered);
	c = cJSON_AddObjectToObject(o, "commands");
	for (size_t i = 0; (name = counted_command_name(i)) != NULL; i++)
		cJSON_AddNumberToObject(c, name, (double)t.commands[i]);
	e = cJSON_AddObjectToObject(o, "errors");
	for (int i = 0; i < E_COUNT; i++)
		cJSON_AddNumberToObject(e, code_name(i), (double)t.errors[i]);
	return o;
}

/* end_sessions - end up to KICK_BATCH sessions of user u; how many */
static int
end_sessions(struct state *st, uint32_t u)
{
	int n = 0;

	while (n < KICK_BATCH && st->users[u].sessions != 0) {
		if (session_delete(st, st->users[u].sessions) == -1)
			return -1;
		n++;
	}
	return n;
}

/*
 * admin_kick - end every session of a user; its tokens get NO_SESSION
 * from now on.  -1 with ENOENT if there is no such user, EBUSY if the
 * state stayed locked.
 */
int
admin_kick(const char *name, unsigned *ended)
{
	struct state *st = master_state();
	int n;

	*ended = 0;
	do {
		uint32_t u;

		if (master_lock() == -1)
			return -1;
		txn_begin_locked(st);
		if ((u = user_find_locked(st, name, strlen(name))) == 0) {
			txn_commit(st);
			errno = ENOENT;
			return -1;
		}
		if ((n = end_sessions(st, u)) == -1) {
			txn_abort(st);
			return -1;
		}
		txn_commit(st);
		*ended += (unsigned)n;
	} while (n == KICK_BATCH);
	return 0;
}

/*
 * del_step - one transaction of admin_delrealm: move arrivals home and,
 * once a scan of the whole message table found none left, drop queued
 * messages.  1 when the link is gone, 0 when there is more to do.
 */
static int
del_step(struct state *st, const char *name, struct realm_del *d,
    uint32_t *pos, uint64_t *gone, size_t *ngone)
{
	uint32_t r = realm_find_locked(st, name, strlen(name)), before;
	bool whole;
	int n;

	*ngone = 0;
	if (r == 0) {
		errno = ENOENT;
		return -1;
	}
	if ((n = realm_arrivals_home(st, r, pos, MOVE_BATCH, &whole)) == -1)
		return -1;
	d->moved += (unsigned)n;
	if (!whole)
		return 0;
	before = st->realms[r].out_count;
	if ((n = realm_remove(st, r, gone, ngone, DROP_BATCH)) == -1)
		return -1;
	d->dropped += before - (n == 1 ? 0 : st->realms[r].out_count);
	return n;
}

/*
 * admin_delrealm - drop the link called name.  Messages that arrived
 * over it and wait in inboxes become ordinary inbox messages; messages
 * queued for it are dropped.  realmd closes the connection when it sees
 * the slot free.  -1 with ENOENT if there is no such link, EBUSY if the
 * state stayed locked (what was done by then stays done).
 */
int
admin_delrealm(const char *name, struct realm_del *d)
{
	struct state *st = master_state();
	uint64_t gone[DROP_BATCH];
	uint32_t pos = 1;
	size_t ngone;
	int rc, saved;

	memset(d, 0, sizeof(*d));
	do {
		if (master_lock() == -1)
			return -1;
		txn_begin_locked(st);
		if ((rc = del_step(st, name, d, &pos, gone, &ngone)) == -1) {
			saved = errno;
			txn_abort(st);
			errno = saved;
			return -1;
		}
		txn_commit(st);
		for (size_t i = 0; i < ngone; i++)
			spool_unlink(st, gone[i]);
	} while (rc == 0);
	return 0;
}
