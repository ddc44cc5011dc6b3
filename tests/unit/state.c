/*
 * NAME
 *	unit_state - the shared state segment (shm/): tables, heap, inboxes,
 *	transactions, the lock, recovery and the consistency check
 * DESCRIPTION
 *	Every test opens a fresh state file with small capacities in its own
 *	mkdtemp() directory.  Tests that need other processes fork children
 *	that share the mapping, as workers do; a child never returns into
 *	cmocka and leaves with _exit().  Every wait on a child is bounded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "lib/config.h"
#include "lib/log.h"
#include "lib/reply.h"
#include "shm/state.h"

/* capacities of a test's state file */
struct caps {
	uint64_t	users, sessions, messages, store;
};

static const struct caps caps_small = { 16, 16, 64, 64 << 10 };
static const struct caps caps_msgs16 = { 16, 16, 16, 64 << 10 };
static const struct caps caps_heap4k = { 16, 16, 64, 4096 };
static const struct caps caps_many = { 16, 16, 400, 64 << 10 };

struct fx {
	char		dir[64];
	char		path[128];	/* the state file */
	struct config	cf;
	struct state	st;
	char		err[1024];
};

#define PW	"$y$j9T$notarealhash$0123456789abcdefghijklmnopqrstuvwxyzABCDEF"

/* ---- fixture ---- */

/*
 * Children not yet reaped.  A failed assertion leaves the test at once;
 * teardown then kills what it left, so that no child outlives its test
 * (holding the lock, or the runner's output pipe).
 */
static pid_t	children[16];
static int	nchildren;

/* spawn - fork a child of this test: 0 in the child, its pid here */
static pid_t
spawn(void)
{
	pid_t pid;

	assert_true(nchildren < (int)(sizeof(children) / sizeof(children[0])));
	fflush(NULL);
	if ((pid = fork()) == 0) {
		/* never outlive the test program either */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		nchildren = 0;
		return 0;
	}
	assert_true(pid > 0);
	children[nchildren++] = pid;
	return pid;
}

/* reaped - pid is gone */
static void
reaped(pid_t pid)
{
	for (int i = 0; i < nchildren; i++)
		if (children[i] == pid) {
			children[i] = children[--nchildren];
			return;
		}
}

static void
kill_children(void)
{
	while (nchildren > 0) {
		pid_t pid = children[--nchildren];
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup(void **state)
{
	const struct caps *c = *state != NULL ? *state : &caps_small;
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/rc-unit-state.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, SHM_FILE);
	config_defaults(&f->cf);
	snprintf(f->cf.state_dir, sizeof(f->cf.state_dir), "%s", f->dir);
	f->cf.max_users = c->users;
	f->cf.realm_users = 16;
	f->cf.max_sessions = c->sessions;
	f->cf.max_messages = c->messages;
	f->cf.message_store = c->store;
	if (state_open(&f->st, &f->cf, f->err, sizeof(f->err)) == -1) {
		fprintf(stderr, "state_open: %s\n", f->err);
		return -1;
	}
	if (state_proc_claim(&f->st, PROC_MASTER) != 0)
		return -1;
	state_set_proc(&f->st, 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	kill_children();
	if (f->st.base != NULL)
		state_close(&f->st);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* reopen - state_close then state_open of the same file */
static void
reopen(struct fx *f)
{
	state_close(&f->st);
	if (state_open(&f->st, &f->cf, f->err, sizeof(f->err)) == -1)
		fail_msg("reopen: %s", f->err);
	assert_int_equal(state_proc_claim(&f->st, PROC_MASTER), 0);
	state_set_proc(&f->st, 0);
}

/* ---- helpers ---- */

static void
check_ok(struct state *st)
{
	char err[512];

	if (state_check(st, err, sizeof(err)) == -1)
		fail_msg("state_check: %s", err);
	assert_int_equal(st->hdr->undo_used, 0);
}

/* check_fails - state_check refuses the state with a message containing want */
static void
check_fails(struct state *st, const char *want)
{
	char err[512] = "";

	if (state_check(st, err, sizeof(err)) != -1)
		fail_msg("state_check passed; expected \"%s\"", want);
	if (strstr(err, want) == NULL)
		fail_msg("state_check: \"%s\"; expected \"%s\"", err, want);
}

/* check_fails_any - state_check refuses the state, with a message */
static void
check_fails_any(struct state *st)
{
	char err[512] = "";

	if (state_check(st, err, sizeof(err)) != -1)
		fail_msg("state_check passed a damaged state");
	assert_true(err[0] != '\0');
}

/* try_user - insert a user in its own transaction; -1 with errno */
static int
try_user(struct state *st, const char *name, uint32_t *idx)
{
	struct user_fields uf = { name, name, "Indonesia", PW };
	int rc, saved;

	txn_begin(st);
	rc = user_insert(st, &uf, idx);
	saved = errno;
	if (rc == -1)
		txn_abort(st);
	else
		txn_commit(st);
	errno = saved;
	return rc;
}

static uint32_t
add_user(struct state *st, const char *name)
{
	uint32_t i = 0;

	if (try_user(st, name, &i) == -1)
		fail_msg("user_insert %s: %s", name, strerror(errno));
	assert_int_not_equal(i, 0);
	return i;
}

static uint32_t
find_user(struct state *st, const char *name)
{
	uint32_t i;

	state_lock(st);
	i = user_find_locked(st, name, strlen(name));
	state_unlock(st);
	return i;
}

/* try_send - enqueue one text message in its own transaction */
static int
try_send(struct state *st, uint32_t from, uint32_t to, const char *text,
    uint32_t quota, uint64_t *id)
{
	struct msg_new m = {
		.from = from, .to = to, .text = text, .len = strlen(text),
		.kind = MSG_TEXT, .time = 1700000000,
	};
	uint64_t dummy;
	int rc, saved;

	txn_begin(st);
	rc = msg_enqueue(st, &m, quota, id != NULL ? id : &dummy);
	saved = errno;
	if (rc == -1)
		txn_abort(st);
	else
		txn_commit(st);
	errno = saved;
	return rc;
}

static uint64_t
send_ok(struct state *st, uint32_t from, uint32_t to, const char *text)
{
	uint64_t id = 0;

	if (try_send(st, from, to, text, 1000, &id) == -1)
		fail_msg("msg_enqueue \"%s\": %s", text, strerror(errno));
	return id;
}

/* inbox_str - the user's queue as "text|text|...", checking its links */
static const char *
inbox_str(struct state *st, uint32_t user, char *buf, size_t size)
{
	struct shm_user *u = user_at(st, user);
	uint32_t n = 0, last = 0;
	size_t len = 0;

	assert_non_null(u);
	buf[0] = '\0';
	for (uint32_t i = u->inbox_head; i != 0; i = st->msgs[i].next) {
		struct shm_msg *m = msg_at(st, i);
		assert_non_null(m);
		assert_int_equal(m->to, user);
		assert_true(++n <= u->inbox_count);
		len += (size_t)snprintf(buf + len, size - len, "%s%.*s",
		    n > 1 ? "|" : "", (int)m->len, heap_ptr(st, m->text));
		assert_true(len < size);
		last = i;
	}
	assert_int_equal(n, u->inbox_count);
	assert_int_equal(last, u->inbox_tail);
	return buf;
}

/* leased_str - texts of the messages in idx[] */
static const char *
leased_str(struct state *st, const uint32_t *idx, size_t n, char *buf,
    size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t k = 0; k < n; k++) {
		struct shm_msg *m = msg_at(st, idx[k]);
		assert_non_null(m);
		len += (size_t)snprintf(buf + len, size - len, "%s%.*s",
		    k ? "|" : "", (int)m->len, heap_ptr(st, m->text));
		assert_true(len < size);
	}
	return buf;
}

/* a lease of this process's slot, as a worker's inbox reply makes */
static struct lease
my_lease(struct state *st, uint32_t serial)
{
	struct lease l = {
		.proc = (uint32_t)st->proc + 1,
		.gen = __atomic_load_n(&st->procs[st->proc].gen, __ATOMIC_ACQUIRE),
		.serial = serial,
	};
	return l;
}

static size_t
lease(struct state *st, uint32_t user, const struct lease *l, uint32_t *out,
    size_t max, bool *more)
{
	size_t n;

	state_lock(st);
	n = inbox_lease_locked(st, user, 0, l, out, max, UINT64_MAX, more);
	state_unlock(st);
	return n;
}

static void
release(struct state *st, uint32_t user, const struct lease *l)
{
	state_lock(st);
	inbox_release_locked(st, user, l);
	state_unlock(st);
}

/* hist_str - a group's history as "text|text|...", checking its links */
static const char *
hist_str(struct state *st, uint32_t group, char *buf, size_t size)
{
	struct shm_group *g = group_at(st, group);
	uint32_t n = 0, last = 0;
	size_t len = 0;

	assert_non_null(g);
	buf[0] = '\0';
	for (uint32_t i = g->hist_head; i != 0; i = st->msgs[i].next) {
		struct shm_msg *m = msg_at(st, i);
		assert_non_null(m);
		assert_int_equal(m->group, group);
		assert_int_equal(m->to, 0);
		assert_true(++n <= g->hist_count);
		len += (size_t)snprintf(buf + len, size - len, "%s%.*s",
		    n > 1 ? "|" : "", (int)m->len, heap_ptr(st, m->text));
		assert_true(len < size);
		last = i;
	}
	assert_int_equal(n, g->hist_count);
	assert_int_equal(last, g->hist_tail);
	return buf;
}

static uint32_t
find_group(struct state *st, const char *name)
{
	uint32_t i;

	state_lock(st);
	i = group_find_locked(st, name, strlen(name));
	state_unlock(st);
	return i;
}

/* try_session - session_create in its own transaction; 0 with errno */
static uint32_t
try_session(struct state *st, uint32_t user, uint64_t now, uint32_t per_user,
    uint8_t tok[TOKEN_LEN])
{
	uint32_t s = 0;
	int saved;

	txn_begin(st);
	if (session_create(st, user, now, per_user, tok, &s) == -1) {
		saved = errno;
		txn_abort(st);
		errno = saved;
		return 0;
	}
	txn_commit(st);
	assert_int_not_equal(s, 0);
	return s;
}

static uint32_t
new_session(struct state *st, uint32_t user, uint64_t now, uint32_t per_user,
    uint8_t tok[TOKEN_LEN])
{
	uint32_t s = try_session(st, user, now, per_user, tok);

	if (s == 0)
		fail_msg("session_create: %s", strerror(errno));
	return s;
}

static uint32_t
find_session(struct state *st, const uint8_t tok[TOKEN_LEN], uint64_t now,
    uint64_t timeout)
{
	uint32_t s;

	state_lock(st);
	s = session_find_locked(st, tok, now, timeout);
	state_unlock(st);
	return s;
}

static int
delete_session(struct state *st, uint32_t s)
{
	int rc, saved;

	txn_begin(st);
	rc = session_delete(st, s);
	saved = errno;
	if (rc == -1)
		txn_abort(st);
	else
		txn_commit(st);
	errno = saved;
	return rc;
}

/*
 * A snapshot of everything the tables can reach: the table part of the
 * header, the hash buckets, every slot up to each high-water mark, and
 * the text of every live message.  Bytes no table reaches (slots above
 * a high-water mark, free heap blocks) are left out: a rollback need not
 * restore them.
 */
struct snap {
	char	*p;
	size_t	 n;
};

static void
snap_add(struct snap *s, const void *p, size_t n)
{
	s->p = realloc(s->p, s->n + n);
	assert_non_null(s->p);
	memcpy(s->p + s->n, p, n);
	s->n += n;
}

static struct snap
snap_take(struct state *st)
{
	struct shm_header *h = st->hdr;
	size_t from = offsetof(struct shm_header, seeded);
	struct snap s = { NULL, 0 };

	snap_add(&s, (char *)h + from, sizeof(*h) - from);
	snap_add(&s, st->user_hash,
	    (size_t)h->region[RG_USER_HASH].count * sizeof(uint32_t));
	snap_add(&s, st->session_hash,
	    (size_t)h->region[RG_SESSION_HASH].count * sizeof(uint32_t));
	snap_add(&s, st->users, ((size_t)h->users.hwm + 1) * sizeof(*st->users));
	snap_add(&s, st->sessions,
	    ((size_t)h->sessions.hwm + 1) * sizeof(*st->sessions));
	snap_add(&s, st->msgs, ((size_t)h->msgs.hwm + 1) * sizeof(*st->msgs));
	snap_add(&s, st->group_hash,
	    (size_t)h->region[RG_GROUP_HASH].count * sizeof(uint32_t));
	snap_add(&s, st->groups, ((size_t)h->groups.hwm + 1) * sizeof(*st->groups));
	snap_add(&s, st->members,
	    ((size_t)h->members.hwm + 1) * sizeof(*st->members));
	snap_add(&s, st->files, ((size_t)h->files.hwm + 1) * sizeof(*st->files));
	for (uint32_t i = 1; i <= h->msgs.hwm; i++) {
		struct shm_msg *m = msg_at(st, i);
		if (m != NULL && m->len > 0)
			snap_add(&s, heap_ptr(st, m->text), m->len);
	}
	/* the free block lists, through the links kept in the blocks */
	for (int k = 0; k < HEAP_CLASSES; k++) {
		uint64_t off = h->heap_free[k];
		for (int n = 0; off != 0 && n < 100000; n++) {
			snap_add(&s, &off, sizeof(off));
			if (off + sizeof(off) > h->heap_top)
				break;
			memcpy(&off, heap_ptr(st, off), sizeof(off));
		}
	}
	return s;
}

static void
snap_same(struct snap *a, struct snap *b)
{
	if (a->n != b->n)
		fail_msg("state differs: snapshot of %zu bytes, now %zu",
		    a->n, b->n);
	for (size_t i = 0; i < a->n; i++)
		if (a->p[i] != b->p[i])
			fail_msg("state differs at snapshot byte %zu", i);
	free(a->p);
	free(b->p);
	a->p = b->p = NULL;
}

/* ---- children ---- */

/* pipe_read - one byte from fd within ms; -1 on timeout or EOF */
static int
pipe_read(int fd, int ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char c;

	if (poll(&p, 1, ms) != 1 || read(fd, &c, 1) != 1)
		return -1;
	return (unsigned char)c;
}

static void
pipe_write(int fd, char c)
{
	if (write(fd, &c, 1) != 1)
		_exit(99);
}

/* wait_child - reap pid within seconds (killing it if late); its status */
static int
wait_child(pid_t pid, int seconds)
{
	int status;

	for (int i = 0; i < seconds * 100; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid) {
			reaped(pid);
			return status;
		}
		assert_int_equal(r, 0);
		usleep(10 * 1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	reaped(pid);
	fail_msg("child %d did not finish in %d s", (int)pid, seconds);
	return -1;
}

static void
kill_and_reap(pid_t pid)
{
	int status;

	assert_int_equal(kill(pid, SIGKILL), 0);
	status = wait_child(pid, 10);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
}

/* in_child - become a process of the tree: the lock knows us by pid */
static void
in_child(struct state *st)
{
	st->pid = (uint32_t)getpid();
}

/* wait_sleepers - until n processes are counted asleep on the lock */
static void
wait_sleepers(struct state *st, uint32_t n)
{
	for (int i = 0; i < 10000; i++) {
		if (__atomic_load_n(&st->hdr->lock.waiters, __ATOMIC_SEQ_CST) >= n)
			return;
		usleep(1000);
	}
	fail_msg("no process went to sleep on the lock");
}

/* ====================================================================== */

static void
test_open_fresh(void **state)
{
	struct fx *f = *state;
	struct shm_header *h = f->st.hdr;
	struct stat sb;

	assert_memory_equal(h->magic, SHM_MAGIC, 8);
	assert_int_equal(h->version, SHM_VERSION);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal((uint64_t)sb.st_size, h->total_size);
	assert_int_equal(f->st.size, h->total_size);
	assert_true((sb.st_mode & 077) == 0);		/* private to us */
	assert_int_equal(h->region[RG_USERS].count, 16 + 16 + 1);	/* + realm_users */
	assert_int_equal(h->region[RG_SESSIONS].count, 16 + 1);
	assert_int_equal(h->region[RG_MSGS].count, 64 + 1);
	assert_int_equal(h->region[RG_HEAP].count, 64 << 10);
	assert_int_equal(h->users.count, 0);
	assert_int_equal(h->users.hwm, 0);
	assert_int_equal(h->sessions.count, 0);
	assert_int_equal(h->msgs.count, 0);
	assert_int_equal(h->undo_used, 0);
	assert_int_equal(h->lock.owner, 0);
	assert_int_equal(h->next_msg_id, 1);
	assert_int_equal(h->heap_top, 16);		/* offset 0 is "none" */
	assert_int_equal(h->heap_used, 0);
	assert_int_equal(h->epoch, 1);
	assert_int_equal(f->st.pid, (uint32_t)getpid());
	assert_int_equal(f->st.procs[0].pid, getpid());
	/* the build file does not linger */
	char tmp[160];
	snprintf(tmp, sizeof(tmp), "%s.new", f->path);
	assert_int_equal(access(tmp, F_OK), -1);
	check_ok(&f->st);
	assert_null(user_at(&f->st, 0));
	assert_null(user_at(&f->st, 1));
	assert_null(session_at(&f->st, 1));
	assert_null(msg_at(&f->st, 1));
}

static void
test_users(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t idx[16], i;
	char name[40];

	for (int k = 0; k < 16; k++) {
		snprintf(name, sizeof(name), "user%d", k);
		idx[k] = add_user(st, name);
		for (int j = 0; j < k; j++)
			assert_int_not_equal(idx[k], idx[j]);
	}
	assert_int_equal(st->hdr->users.count, 16);
	check_ok(st);
	for (int k = 0; k < 16; k++) {
		snprintf(name, sizeof(name), "user%d", k);
		assert_int_equal(find_user(st, name), idx[k]);
		struct shm_user *u = user_at(st, idx[k]);
		assert_non_null(u);
		assert_string_equal(u->name, name);
		assert_string_equal(u->display, name);
		assert_string_equal(u->country, "Indonesia");
		assert_string_equal(u->pwhash, PW);
		assert_int_equal(u->inbox_count, 0);
		assert_int_equal(u->nsessions, 0);
		assert_true(u->created > 0);
	}
	/* lookups are by the whole name, of exactly len bytes */
	assert_int_equal(find_user(st, "user"), 0);
	assert_int_equal(find_user(st, "user16"), 0);
	assert_int_equal(find_user(st, "user1x"), 0);
	assert_int_equal(find_user(st, ""), 0);
	state_lock(st);
	assert_int_equal(user_find_locked(st, "user12", 5), idx[1]);
	assert_int_equal(user_find_locked(st, "user12", 6), idx[12]);
	memset(name, 'u', sizeof(name));
	assert_int_equal(user_find_locked(st, name, NAME_LEN + 1), 0);
	state_unlock(st);

	/* a taken name, then a full table */
	assert_int_equal(try_user(st, "user3", &i), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(try_user(st, "newcomer", &i), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(try_user(st, "user3", &i), -1);
	assert_int_equal(errno, EEXIST);		/* taken beats full */
	assert_int_equal(st->hdr->users.count, 16);
	assert_int_equal(find_user(st, "newcomer"), 0);
	assert_null(user_at(st, 17));
	check_ok(st);
}

static void
test_user_longest_name(void **state)
{
	struct fx *f = *state;
	char name[NAME_LEN + 1];
	uint32_t i;

	memset(name, 'n', NAME_LEN);
	name[NAME_LEN] = '\0';
	i = add_user(&f->st, name);
	assert_int_equal(find_user(&f->st, name), i);
	assert_string_equal(user_at(&f->st, i)->name, name);
	check_ok(&f->st);
}

static void
test_sessions_basic(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), b = add_user(st, "bob");
	uint8_t ta[TOKEN_LEN], tb[TOKEN_LEN], none[TOKEN_LEN];
	uint32_t sa, sb;

	sa = new_session(st, a, 1000, 4, ta);
	sb = new_session(st, b, 1000, 4, tb);
	assert_int_not_equal(sa, sb);
	assert_memory_not_equal(ta, tb, TOKEN_LEN);
	assert_int_equal(ta[6] & 0xf0, 0x40);		/* a version 4 UUID */
	assert_int_equal(st->hdr->sessions.count, 2);
	assert_int_equal(user_at(st, a)->nsessions, 1);
	assert_int_equal(user_at(st, a)->sessions, sa);
	assert_non_null(session_at(st, sa));
	assert_int_equal(session_at(st, sa)->user, a);
	assert_int_equal(session_at(st, sa)->created, 1000);
	assert_memory_equal(session_at(st, sa)->token, ta, TOKEN_LEN);
	check_ok(st);

	assert_int_equal(find_session(st, ta, 1000, 600), sa);
	assert_int_equal(find_session(st, tb, 1000, 600), sb);
	memset(none, 0, sizeof(none));
	assert_int_equal(find_session(st, none, 1000, 600), 0);
	memcpy(none, ta, TOKEN_LEN);
	none[15] ^= 1;
	assert_int_equal(find_session(st, none, 1000, 600), 0);

	/* idle for exactly the timeout is still alive, and is seen again */
	assert_int_equal(find_session(st, ta, 1600, 600), sa);
	assert_int_equal(session_at(st, sa)->last_seen, 1600);
	assert_int_equal(find_session(st, ta, 2200, 600), sa);
	/* one second more is too long; the session is not refreshed */
	assert_int_equal(find_session(st, ta, 2801, 600), 0);
	assert_int_equal(session_at(st, sa)->last_seen, 2200);
	assert_int_equal(find_session(st, ta, 2800, 600), sa);

	/* delete */
	assert_int_equal(delete_session(st, sa), 0);
	assert_int_equal(find_session(st, ta, 2800, 600), 0);
	assert_null(session_at(st, sa));
	assert_int_equal(user_at(st, a)->nsessions, 0);
	assert_int_equal(user_at(st, a)->sessions, 0);
	assert_int_equal(st->hdr->sessions.count, 1);
	assert_int_equal(find_session(st, tb, 1001, 600), sb);
	check_ok(st);
	assert_int_equal(delete_session(st, sa), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(delete_session(st, 0), -1);
	assert_int_equal(delete_session(st, 999), -1);

	/* the freed slot is used again */
	uint8_t tc[TOKEN_LEN];
	assert_int_equal(new_session(st, a, 3000, 4, tc), sa);
	assert_int_equal(find_session(st, tc, 3000, 600), sa);
	assert_int_equal(find_session(st, ta, 3000, 600), 0);
	check_ok(st);

	/* no such user */
	assert_int_equal(try_session(st, 0, 1000, 4, tc), 0);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(try_session(st, 15, 1000, 4, tc), 0);
	assert_int_equal(errno, ENOENT);
	check_ok(st);
}

static void
test_sessions_per_user_limit(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), b = add_user(st, "bob");
	uint8_t t[6][TOKEN_LEN], tb[TOKEN_LEN];
	uint32_t s[6], sbob;

	sbob = new_session(st, b, 50, 3, tb);		/* oldest of all */
	s[1] = new_session(st, a, 100, 3, t[1]);
	s[2] = new_session(st, a, 200, 3, t[2]);
	s[3] = new_session(st, a, 300, 3, t[3]);
	assert_int_equal(user_at(st, a)->nsessions, 3);
	/* session 1 is used again, so session 2 is now the least recent */
	assert_int_equal(find_session(st, t[1], 400, 10000), s[1]);

	s[4] = new_session(st, a, 500, 3, t[4]);
	assert_int_equal(user_at(st, a)->nsessions, 3);
	assert_int_equal(find_session(st, t[2], 500, 10000), 0);	/* evicted */
	assert_int_equal(find_session(st, t[1], 500, 10000), s[1]);
	assert_int_equal(find_session(st, t[3], 300, 10000), s[3]);
	assert_int_equal(find_session(st, t[4], 500, 10000), s[4]);
	/* another user's sessions do not count and are not evicted */
	assert_int_equal(find_session(st, tb, 500, 10000), sbob);
	assert_int_equal(st->hdr->sessions.count, 4);
	check_ok(st);

	/* now 3 (last seen 300) is the least recent */
	s[5] = new_session(st, a, 600, 3, t[5]);
	assert_int_equal(find_session(st, t[3], 600, 10000), 0);
	assert_int_equal(find_session(st, t[1], 600, 10000), s[1]);
	assert_int_equal(find_session(st, t[4], 600, 10000), s[4]);
	assert_int_equal(find_session(st, t[5], 600, 10000), s[5]);
	assert_int_equal(user_at(st, a)->nsessions, 3);
	check_ok(st);

	/* a limit lowered below the count evicts down to it */
	uint8_t t6[TOKEN_LEN];
	new_session(st, a, 700, 1, t6);
	assert_int_equal(user_at(st, a)->nsessions, 1);
	assert_int_equal(find_session(st, t6, 700, 10000),
	    user_at(st, a)->sessions);
	assert_int_equal(find_session(st, t[5], 700, 10000), 0);
	assert_int_equal(st->hdr->sessions.count, 2);
	check_ok(st);
}

static void
test_session_table_full_and_expire(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t u[4];
	uint8_t t[17][TOKEN_LEN];
	char name[16];

	for (int k = 0; k < 4; k++) {
		snprintf(name, sizeof(name), "u%d", k);
		u[k] = add_user(st, name);
	}
	/* 16 sessions, last seen at 100, 200, ..., 1600 */
	for (int k = 0; k < 16; k++)
		new_session(st, u[k % 4], 100 * (uint64_t)(k + 1), 100, t[k]);
	assert_int_equal(st->hdr->sessions.count, 16);
	assert_int_equal(try_session(st, u[0], 2000, 100, t[16]), 0);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(st->hdr->sessions.count, 16);
	check_ok(st);

	/* at 1000 with timeout 500, the sessions last seen before 500 expire */
	txn_begin(st);
	assert_int_equal(session_expire(st, 1000, 500, 2), 2);	/* at most 2 */
	txn_commit(st);
	assert_int_equal(st->hdr->sessions.count, 14);
	txn_begin(st);
	assert_int_equal(session_expire(st, 1000, 500, 100), 2);
	txn_commit(st);
	assert_int_equal(st->hdr->sessions.count, 12);
	txn_begin(st);
	assert_int_equal(session_expire(st, 1000, 500, 100), 0);
	txn_commit(st);
	for (int k = 0; k < 16; k++) {
		uint32_t s = find_session(st, t[k], 1000, 500);
		if (k < 4)
			assert_int_equal(s, 0);
		else
			assert_int_not_equal(s, 0);
	}
	check_ok(st);
	for (int k = 0; k < 4; k++)
		assert_int_equal(user_at(st, u[k])->nsessions, 3);

	/* room again */
	assert_int_not_equal(try_session(st, u[0], 2000, 100, t[16]), 0);
	assert_int_equal(st->hdr->sessions.count, 13);
	check_ok(st);
}

static void
test_msg_fifo(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), b = add_user(st, "bob");
	uint32_t c = add_user(st, "carol");
	uint64_t id, last = 0;
	char text[32], buf[1024];

	for (int k = 0; k < 10; k++) {
		snprintf(text, sizeof(text), "to-bob-%d", k);
		id = send_ok(st, a, b, text);
		assert_true(id > last);
		last = id;
		if (k % 3 == 0) {
			snprintf(text, sizeof(text), "to-carol-%d", k);
			id = send_ok(st, b, c, text);
			assert_true(id > last);
			last = id;
		}
	}
	assert_string_equal(inbox_str(st, b, buf, sizeof(buf)),
	    "to-bob-0|to-bob-1|to-bob-2|to-bob-3|to-bob-4|to-bob-5|to-bob-6|"
	    "to-bob-7|to-bob-8|to-bob-9");
	assert_string_equal(inbox_str(st, c, buf, sizeof(buf)),
	    "to-carol-0|to-carol-3|to-carol-6|to-carol-9");
	assert_string_equal(inbox_str(st, a, buf, sizeof(buf)), "");
	assert_int_equal(st->hdr->msgs.count, 14);
	assert_int_equal(st->hdr->next_msg_id, last + 1);

	struct shm_msg *m = msg_at(st, user_at(st, b)->inbox_head);
	assert_int_equal(m->from, a);
	assert_int_equal(m->to, b);
	assert_int_equal(m->kind, MSG_TEXT);
	assert_int_equal(m->time, 1700000000);
	assert_int_equal(m->len, strlen("to-bob-0"));
	assert_int_equal(m->lease_proc, 0);
	check_ok(st);

	/* a message to nobody */
	assert_int_equal(try_send(st, a, 0, "x", 10, NULL), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(try_send(st, a, 12, "x", 10, NULL), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(st->hdr->msgs.count, 14);
	check_ok(st);
}

static void
test_msg_quota(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), b = add_user(st, "bob");
	uint32_t c = add_user(st, "carol");
	uint32_t idx[8];
	char buf[256];
	bool more;

	for (int k = 0; k < 3; k++)
		assert_int_equal(try_send(st, a, b, k == 0 ? "one" : k == 1 ?
		    "two" : "three", 3, NULL), 0);
	assert_int_equal(try_send(st, a, b, "four", 3, NULL), -1);
	assert_int_equal(errno, EDQUOT);
	assert_int_equal(try_send(st, c, b, "four", 3, NULL), -1);
	assert_int_equal(errno, EDQUOT);
	/* the quota is per recipient */
	assert_int_equal(try_send(st, b, c, "hi carol", 3, NULL), 0);
	/* a larger quota lets it in */
	assert_int_equal(try_send(st, a, b, "four", 4, NULL), 0);
	assert_string_equal(inbox_str(st, b, buf, sizeof(buf)),
	    "one|two|three|four");
	check_ok(st);

	/* once read, there is room again */
	struct lease l = my_lease(st, 1);
	assert_int_equal(lease(st, b, &l, idx, 2, &more), 2);
	assert_true(more);
	assert_int_equal(inbox_commit(st, b, &l, false), 2);
	assert_int_equal(try_send(st, a, b, "five", 3, NULL), 0);
	assert_int_equal(try_send(st, a, b, "six", 3, NULL), -1);
	assert_int_equal(errno, EDQUOT);
	assert_string_equal(inbox_str(st, b, buf, sizeof(buf)),
	    "three|four|five");
	check_ok(st);
}

static void
test_msg_table_full(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), b = add_user(st, "bob");
	uint64_t heap_top;
	char text[16];

	for (int k = 0; k < 16; k++) {
		snprintf(text, sizeof(text), "m%d", k);
		assert_int_equal(try_send(st, a, k % 2 ? a : b, text, 100, NULL), 0);
	}
	assert_int_equal(st->hdr->msgs.count, 16);
	heap_top = st->hdr->heap_top;
	assert_int_equal(try_send(st, a, b, "one too many", 100, NULL), -1);
	assert_int_equal(errno, ENOSPC);
	/* the failed send left nothing behind, not even its text block */
	assert_int_equal(st->hdr->msgs.count, 16);
	assert_int_equal(st->hdr->heap_top, heap_top);
	assert_int_equal(user_at(st, b)->inbox_count, 8);
	check_ok(st);

	/* freeing messages makes room */
	struct lease l = my_lease(st, 7);
	uint32_t idx[16];
	bool more;
	assert_int_equal(lease(st, b, &l, idx, 16, &more), 8);
	assert_false(more);
	assert_int_equal(inbox_commit(st, b, &l, false), 8);
	assert_int_equal(st->hdr->msgs.count, 8);
	for (int k = 0; k < 8; k++)
		assert_int_equal(try_send(st, a, b, "again", 100, NULL), 0);
	assert_int_equal(try_send(st, a, b, "again", 100, NULL), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(st->hdr->msgs.hwm, 16);	/* reused, not grown */
	check_ok(st);
}

static void
test_heap_full(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), b = add_user(st, "bob");
	char big[1001];
	uint64_t used, top;

	/* 1000 bytes take a 1024-byte block; 4096 - 16 bytes hold three */
	memset(big, 'x', 1000);
	big[1000] = '\0';
	for (int k = 0; k < 3; k++)
		assert_int_equal(try_send(st, a, b, big, 100, NULL), 0);
	assert_int_equal(st->hdr->heap_used, 3 * 1024);
	used = st->hdr->heap_used;
	top = st->hdr->heap_top;
	assert_int_equal(try_send(st, a, b, big, 100, NULL), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(st->hdr->heap_used, used);
	assert_int_equal(st->hdr->heap_top, top);
	assert_int_equal(st->hdr->msgs.count, 3);
	check_ok(st);

	/* smaller texts still fit in what is left */
	assert_int_equal(try_send(st, a, b, "small", 100, NULL), 0);
	check_ok(st);

	/* a freed block is used again for a text of its class */
	struct lease l = my_lease(st, 1);
	uint32_t idx[1];
	bool more;
	assert_int_equal(lease(st, b, &l, idx, 1, &more), 1);
	assert_int_equal(inbox_commit(st, b, &l, false), 1);
	memset(big, 'y', 600);
	big[600] = '\0';
	assert_int_equal(try_send(st, a, b, big, 100, NULL), 0);
	assert_int_equal(st->hdr->heap_top, top + 16);	/* "small" only */
	char buf[8192];
	inbox_str(st, b, buf, sizeof(buf));
	assert_int_equal(strlen(buf), 1000 + 1 + 1000 + 1 + 5 + 1 + 600);
	check_ok(st);
}

static void
test_heap_alloc_release(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	struct shm_header *h = st->hdr;
	uint64_t a, b, c, d, e, z, top0 = h->heap_top;

	txn_begin(st);
	assert_int_equal(heap_alloc(st, 100, &a), 0);	/* class 128 */
	assert_int_equal(heap_alloc(st, 100, &b), 0);
	assert_true(a != 0 && b != 0 && a != b);
	assert_true(b >= a + 128 || a >= b + 128);	/* no overlap */
	assert_int_equal(h->heap_used, 256);
	assert_int_equal(h->heap_top, top0 + 256);
	assert_int_equal(heap_release(st, a, 100), 0);
	assert_int_equal(h->heap_used, 128);
	/* the same class comes back from the free list */
	assert_int_equal(heap_alloc(st, 128, &c), 0);
	assert_int_equal(c, a);
	assert_int_equal(h->heap_top, top0 + 256);
	/* another class does not */
	assert_int_equal(heap_release(st, c, 128), 0);
	assert_int_equal(heap_alloc(st, 20, &d), 0);	/* class 32 */
	assert_int_not_equal(d, a);
	assert_int_equal(h->heap_top, top0 + 256 + 32);
	assert_int_equal(heap_alloc(st, 65, &e), 0);	/* class 128 again */
	assert_int_equal(e, a);
	/* empty and tiny texts take the smallest block */
	assert_int_equal(heap_alloc(st, 0, &z), 0);
	assert_int_not_equal(z, 0);
	assert_int_equal(h->heap_used, 128 + 128 + 32 + 16);
	/* the blocks are usable memory of the region */
	memset(heap_ptr(st, e), 'e', 65);
	memset(heap_ptr(st, b), 'b', 100);
	memset(heap_ptr(st, d), 'd', 20);
	assert_int_equal(heap_ptr(st, e)[64], 'e');
	assert_int_equal(heap_ptr(st, b)[0], 'b');
	txn_commit(st);

	/* several frees of one class come back last freed first */
	txn_begin(st);
	assert_int_equal(heap_release(st, b, 100), 0);
	assert_int_equal(heap_release(st, e, 65), 0);
	assert_int_equal(heap_alloc(st, 100, &c), 0);
	assert_int_equal(c, e);
	assert_int_equal(heap_alloc(st, 100, &c), 0);
	assert_int_equal(c, b);
	assert_int_equal(heap_alloc(st, 100, &c), 0);	/* list empty: new */
	assert_int_equal(c, h->heap_top - 128);
	txn_commit(st);

	/* more than the region: ENOSPC, and far more than any class: E2BIG */
	txn_begin(st);
	assert_int_equal(heap_alloc(st, 64 << 10, &c), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(heap_alloc(st, (size_t)1 << 40, &c), -1);
	assert_int_equal(errno, E2BIG);
	txn_abort(st);
	check_ok(st);
}

static void
test_inbox_lease_release_commit(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), b = add_user(st, "bob");
	uint32_t idx[16];
	char buf[512];
	bool more;
	size_t n;

	send_ok(st, a, b, "m1");
	send_ok(st, a, b, "m2");
	send_ok(st, a, b, "m3");
	send_ok(st, a, b, "m4");
	send_ok(st, a, b, "m5");

	struct lease l1 = my_lease(st, 1), l2 = my_lease(st, 2),
	    l3 = my_lease(st, 3);
	n = lease(st, b, &l1, idx, 2, &more);
	assert_int_equal(n, 2);
	assert_true(more);
	assert_string_equal(leased_str(st, idx, n, buf, sizeof(buf)), "m1|m2");
	for (size_t k = 0; k < n; k++)
		assert_true(lease_live_locked(st, msg_at(st, idx[k])));

	/* a second reply skips what the first holds */
	n = lease(st, b, &l2, idx, 10, &more);
	assert_int_equal(n, 3);
	assert_false(more);
	assert_string_equal(leased_str(st, idx, n, buf, sizeof(buf)),
	    "m3|m4|m5");
	n = lease(st, b, &l3, idx, 10, &more);
	assert_int_equal(n, 0);
	assert_false(more);
	/* leasing changes nothing the check sees */
	assert_string_equal(inbox_str(st, b, buf, sizeof(buf)),
	    "m1|m2|m3|m4|m5");
	check_ok(st);

	/* released messages come back, in order */
	release(st, b, &l1);
	n = lease(st, b, &l3, idx, 10, &more);
	assert_int_equal(n, 2);
	assert_string_equal(leased_str(st, idx, n, buf, sizeof(buf)), "m1|m2");

	/* committing l1 now removes nothing: it no longer holds anything */
	assert_int_equal(inbox_commit(st, b, &l1, false), 0);
	assert_int_equal(user_at(st, b)->inbox_count, 5);

	/* committed messages are gone, the others stay */
	assert_int_equal(inbox_commit(st, b, &l2, false), 3);
	assert_string_equal(inbox_str(st, b, buf, sizeof(buf)), "m1|m2");
	assert_int_equal(st->hdr->msgs.count, 2);
	check_ok(st);
	n = lease(st, b, &l1, idx, 10, &more);
	assert_int_equal(n, 0);				/* l3 still holds them */
	assert_int_equal(inbox_commit(st, b, &l3, false), 2);
	assert_string_equal(inbox_str(st, b, buf, sizeof(buf)), "");
	assert_int_equal(user_at(st, b)->inbox_head, 0);
	assert_int_equal(user_at(st, b)->inbox_tail, 0);
	assert_int_equal(st->hdr->msgs.count, 0);
	assert_int_equal(st->hdr->heap_used, 0);
	check_ok(st);

	/* the queue works again after being emptied */
	send_ok(st, a, b, "m6");
	assert_string_equal(inbox_str(st, b, buf, sizeof(buf)), "m6");
	check_ok(st);

	/* an unknown user has no inbox */
	assert_int_equal(lease(st, 9, &l1, idx, 10, &more), 0);
	assert_false(more);
	assert_int_equal(inbox_commit(st, 9, &l1, false), 0);
}

static void
test_inbox_commit_middle_and_tail(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), b = add_user(st, "bob");
	uint32_t idx[4];
	char buf[512];
	bool more;

	send_ok(st, a, b, "m1");
	send_ok(st, a, b, "m2");
	send_ok(st, a, b, "m3");
	send_ok(st, a, b, "m4");
	struct lease la = my_lease(st, 10), lb = my_lease(st, 11),
	    lc = my_lease(st, 12), ld = my_lease(st, 13);
	assert_int_equal(lease(st, b, &la, idx, 1, &more), 1);	/* m1 */
	assert_int_equal(lease(st, b, &lb, idx, 1, &more), 1);	/* m2 */
	assert_int_equal(lease(st, b, &lc, idx, 1, &more), 1);	/* m3 */
	assert_int_equal(lease(st, b, &ld, idx, 1, &more), 1);	/* m4 */
	assert_false(more);

	/* from the middle */
	assert_int_equal(inbox_commit(st, b, &lb, false), 1);
	assert_string_equal(inbox_str(st, b, buf, sizeof(buf)), "m1|m3|m4");
	check_ok(st);
	/* the tail */
	assert_int_equal(inbox_commit(st, b, &ld, false), 1);
	assert_string_equal(inbox_str(st, b, buf, sizeof(buf)), "m1|m3");
	check_ok(st);
	/* a new message goes after the new tail */
	send_ok(st, a, b, "m5");
	assert_string_equal(inbox_str(st, b, buf, sizeof(buf)), "m1|m3|m5");
	/* the head */
	assert_int_equal(inbox_commit(st, b, &la, false), 1);
	assert_string_equal(inbox_str(st, b, buf, sizeof(buf)), "m3|m5");
	check_ok(st);
	release(st, b, &lc);
	struct lease le = my_lease(st, 14);
	assert_int_equal(lease(st, b, &le, idx, 4, &more), 2);
	assert_int_equal(inbox_commit(st, b, &le, false), 2);
	assert_string_equal(inbox_str(st, b, buf, sizeof(buf)), "");
	send_ok(st, a, b, "m6");
	assert_string_equal(inbox_str(st, b, buf, sizeof(buf)), "m6");
	check_ok(st);
}

static void
test_lease_lapses_with_generation(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), b = add_user(st, "bob");
	uint32_t idx[4];
	char buf[128];
	bool more;
	int slot = state_proc_claim(st, PROC_WORKER);

	assert_int_equal(slot, 1);
	send_ok(st, a, b, "m1");
	send_ok(st, a, b, "m2");

	/* a worker in slot 1 leases both, then dies */
	struct lease dead = {
		.proc = (uint32_t)slot + 1, .gen = st->procs[slot].gen,
		.serial = 1,
	};
	assert_int_equal(lease(st, b, &dead, idx, 4, &more), 2);
	struct lease mine = my_lease(st, 1);
	assert_int_equal(lease(st, b, &mine, idx, 4, &more), 0);
	state_proc_release(st, slot);
	assert_false(lease_live_locked(st, msg_at(st, idx[0])));

	/* its lease lapsed: the messages can be read again */
	assert_int_equal(lease(st, b, &mine, idx, 4, &more), 2);
	assert_string_equal(leased_str(st, idx, 2, buf, sizeof(buf)), "m1|m2");
	/* and the dead lease no longer names them */
	assert_int_equal(inbox_commit(st, b, &dead, false), 0);
	assert_int_equal(user_at(st, b)->inbox_count, 2);
	assert_int_equal(inbox_commit(st, b, &mine, false), 2);
	assert_int_equal(user_at(st, b)->inbox_count, 0);
	check_ok(st);
}

static void
test_inbox_commit_many(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), b = add_user(st, "bob");
	static uint32_t idx[400];
	char text[16];
	bool more;

	/* more than one commit transaction's worth */
	for (int k = 0; k < 390; k++) {
		snprintf(text, sizeof(text), "%d", k);
		assert_int_equal(try_send(st, a, b, text, 1000, NULL), 0);
	}
	/*
	 * Lease three of every four messages (292 of them, more than one
	 * commit transaction removes), so kept and removed ones interleave.
	 */
	struct lease l = my_lease(st, 5), hold = my_lease(st, 6);
	for (int k = 0; k < 390; k++)
		assert_int_equal(lease(st, b, k % 4 == 0 ? &hold : &l, idx, 1,
		    &more), 1);
	assert_int_equal(inbox_commit(st, b, &l, false), 292);
	assert_int_equal(user_at(st, b)->inbox_count, 98);
	assert_int_equal(st->hdr->msgs.count, 98);
	check_ok(st);
	release(st, b, &hold);
	assert_int_equal(lease(st, b, &l, idx, 400, &more), 98);
	for (int k = 0; k < 98; k++) {
		struct shm_msg *m = msg_at(st, idx[k]);
		snprintf(text, sizeof(text), "%d", 4 * k);
		assert_int_equal(m->len, strlen(text));
		assert_memory_equal(heap_ptr(st, m->text), text, m->len);
	}
	assert_int_equal(inbox_commit(st, b, &l, false), 98);
	assert_int_equal(user_at(st, b)->inbox_count, 0);
	assert_int_equal(st->hdr->msgs.count, 0);
	assert_int_equal(st->hdr->heap_used, 0);
	check_ok(st);
}

static void
test_lease_byte_limit(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), b = add_user(st, "bob");
	char text[101], buf[512];
	uint32_t idx[8];
	bool more;
	size_t n;

	for (int k = 0; k < 3; k++) {
		memset(text, 'a' + k, 100);
		text[100] = '\0';
		send_ok(st, a, b, text);
	}
	struct lease l = my_lease(st, 1);
	state_lock(st);
	n = inbox_lease_locked(st, b, 0, &l, idx, 8, 250, &more);
	state_unlock(st);
	assert_int_equal(n, 2);				/* 200 of 250 bytes */
	assert_true(more);
	release(st, b, &l);

	/* at least one message goes, however large */
	state_lock(st);
	n = inbox_lease_locked(st, b, 0, &l, idx, 8, 50, &more);
	state_unlock(st);
	assert_int_equal(n, 1);
	assert_true(more);
	assert_int_equal(msg_at(st, idx[0])->len, 100);
	assert_int_equal(heap_ptr(st, msg_at(st, idx[0])->text)[0], 'a');
	release(st, b, &l);

	state_lock(st);
	n = inbox_lease_locked(st, b, 0, &l, idx, 8, 300, &more);
	state_unlock(st);
	assert_int_equal(n, 3);				/* exactly the limit */
	assert_false(more);
	assert_int_equal(inbox_commit(st, b, &l, false), 3);
	assert_string_equal(inbox_str(st, b, buf, sizeof(buf)), "");
	check_ok(st);
}

static void
test_groups(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), b = add_user(st, "bob");
	uint32_t c = add_user(st, "carol");
	uint32_t g, g2;
	uint64_t id, gone, last = 0;
	char buf[256];

	txn_begin(st);
	assert_int_equal(group_create(st, "crew", "", a, &g), 0);
	assert_int_equal(group_at(st, g)->nmembers, 1);		/* the creator */
	assert_int_equal(group_at(st, g)->creator, a);
	assert_int_equal(member_add(st, g, b, 2), 0);
	assert_int_equal(member_add(st, g, b, 2), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(member_add(st, g, c, 2), -1);		/* limit 2 */
	assert_int_equal(errno, EDQUOT);
	assert_int_equal(member_add(st, g, 12, 10), -1);	/* no such user */
	assert_int_equal(errno, ENOENT);
	assert_int_equal(member_add(st, 9, c, 10), -1);		/* no such group */
	assert_int_equal(errno, ENOENT);
	assert_int_equal(group_create(st, "crew", "", b, &g2), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(group_create(st, "locked", "$y$somehash", b, &g2), 0);
	txn_commit(st);
	check_ok(st);

	assert_int_equal(find_group(st, "crew"), g);
	assert_int_equal(find_group(st, "locked"), g2);
	assert_int_equal(find_group(st, "cre"), 0);
	assert_int_equal(find_group(st, "crew2"), 0);
	assert_string_equal(group_at(st, g2)->pwhash, "$y$somehash");
	assert_string_equal(group_at(st, g)->pwhash, "");
	state_lock(st);
	assert_int_not_equal(member_find_locked(st, g, a), 0);
	assert_int_not_equal(member_find_locked(st, g, b), 0);
	assert_int_equal(member_find_locked(st, g, c), 0);
	assert_int_equal(member_find_locked(st, g2, a), 0);
	state_unlock(st);

	/* the history keeps the newest 3 */
	for (int k = 1; k <= 5; k++) {
		char text[8];
		struct msg_new m = { .from = k % 2 ? a : b, .text = text,
		    .kind = MSG_TEXT, .time = 1 };
		m.len = (size_t)snprintf(text, sizeof(text), "g%d", k);
		txn_begin(st);
		assert_int_equal(group_post(st, g, &m, 3, &id, &gone), 0);
		txn_commit(st);
		assert_true(id > last);
		last = id;
		assert_int_equal(gone, 0);
	}
	assert_string_equal(hist_str(st, g, buf, sizeof(buf)), "g3|g4|g5");
	assert_int_equal(st->hdr->msgs.count, 3);
	assert_int_equal(st->hdr->heap_used, 3 * 16);
	check_ok(st);

	/* leaving */
	txn_begin(st);
	assert_int_equal(member_remove(st, g, b), 0);
	assert_int_equal(member_remove(st, g, b), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(member_remove(st, g2, c), -1);
	assert_int_equal(errno, ENOENT);
	txn_commit(st);
	assert_int_equal(group_at(st, g)->nmembers, 1);
	assert_int_equal(st->hdr->members.count, 2);
	check_ok(st);

	/* and back in, in the freed slot */
	txn_begin(st);
	assert_int_equal(member_add(st, g, c, 2), 0);
	txn_commit(st);
	assert_int_equal(st->hdr->members.hwm, 3);
	check_ok(st);

	reopen(f);
	assert_int_equal(find_group(st, "crew"), g);
	assert_string_equal(hist_str(st, g, buf, sizeof(buf)), "g3|g4|g5");
	state_lock(st);
	assert_int_not_equal(member_find_locked(st, g, c), 0);
	assert_int_equal(member_find_locked(st, g, b), 0);
	state_unlock(st);
	check_ok(st);

	/* damage is found */
	struct shm_group *gr = group_at(st, g);
	gr->hist_count++;
	check_fails(st, "history of group crew is damaged");
	gr->hist_count--;
	gr->nmembers++;
	check_fails(st, "members of group crew are damaged");
	gr->nmembers--;
	st->msgs[gr->hist_head].group = g2;
	check_fails(st, "history of group crew is damaged");
	st->msgs[gr->hist_head].group = g;
	check_ok(st);
}

/* put_body - a file body in the spool, as a worker writes it */
static void
put_body(struct state *st, uint64_t id, bool tmp, const char *data)
{
	char path[PATH_MAX + 64];
	FILE *fp;

	spool_path(st, id, tmp, path, sizeof(path));
	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(fputs(data, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static bool
body_exists(struct state *st, uint64_t id, bool tmp)
{
	char path[PATH_MAX + 64];

	spool_path(st, id, tmp, path, sizeof(path));
	return access(path, F_OK) == 0;
}

static void
test_files_and_spool(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), b = add_user(st, "bob");
	uint64_t id = 0x0123456789abcdefULL, mid;
	uint32_t fi, fj, idx[4];
	char path[PATH_MAX + 64], want[PATH_MAX + 64];
	struct stat sb;
	bool more;

	assert_int_equal(stat(st->spool, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	spool_path(st, id, false, path, sizeof(path));
	snprintf(want, sizeof(want), "%s/spool/0123456789abcdef", f->dir);
	assert_string_equal(path, want);
	spool_path(st, 0xff, true, path, sizeof(path));
	snprintf(want, sizeof(want), "%s/spool/tmp.00000000000000ff", f->dir);
	assert_string_equal(path, want);

	/* one body, sent to two users */
	put_body(st, id, false, "hello");
	txn_begin(st);
	assert_int_equal(file_create(st, id, 5, "hello.txt", 0, 1 << 20, &fi), 0);
	struct msg_new m = { .from = a, .to = b, .kind = MSG_FILE, .time = 1,
	    .file = fi };
	assert_int_equal(msg_enqueue(st, &m, 10, &mid), 0);
	m.from = b;
	m.to = a;
	assert_int_equal(msg_enqueue(st, &m, 10, &mid), 0);
	txn_commit(st);
	assert_non_null(file_at(st, fi));
	assert_int_equal(file_at(st, fi)->refs, 2);
	assert_string_equal(file_at(st, fi)->name, "hello.txt");
	assert_int_equal(st->hdr->spool_bytes, 5);
	assert_int_equal(st->hdr->heap_used, 0);	/* no text */
	check_ok(st);

	/* the spool limit */
	txn_begin(st);
	assert_int_equal(file_create(st, 77, (1 << 20) - 4, "big", 0, 1 << 20,
	    &fj), -1);
	assert_int_equal(errno, EDQUOT);
	txn_abort(st);
	check_ok(st);

	/* a file counts its size against an inbox reply's byte limit */
	send_ok(st, a, b, "after the file");
	struct lease l = my_lease(st, 1);
	state_lock(st);
	assert_int_equal(inbox_lease_locked(st, b, 0, &l, idx, 4, 5, &more), 1);
	state_unlock(st);
	assert_true(more);
	assert_int_equal(msg_at(st, idx[0])->kind, MSG_FILE);

	/* the body stays while a message still points at it */
	assert_int_equal(inbox_commit(st, b, &l, false), 1);
	assert_int_equal(file_at(st, fi)->refs, 1);
	assert_true(body_exists(st, id, false));
	check_ok(st);
	l = my_lease(st, 2);
	assert_int_equal(lease(st, a, &l, idx, 4, &more), 1);
	assert_int_equal(inbox_commit(st, a, &l, false), 1);
	/* the last reference went: slot and body are gone */
	assert_null(file_at(st, fi));
	assert_false(body_exists(st, id, false));
	assert_int_equal(st->hdr->spool_bytes, 0);
	assert_int_equal(st->hdr->files.count, 0);
	check_ok(st);

	/* a damaged reference count is found */
	put_body(st, id, false, "hello");
	txn_begin(st);
	assert_int_equal(file_create(st, id, 5, "again", 0, 1 << 20, &fi), 0);
	m.from = a;
	m.to = b;
	m.file = fi;
	assert_int_equal(msg_enqueue(st, &m, 10, &mid), 0);
	txn_commit(st);
	check_ok(st);
	st->files[fi].refs = 2;
	check_fails(st, "references");
	st->files[fi].refs = 1;
	st->hdr->spool_bytes = 6;
	check_fails(st, "spool holds 6 bytes");
	st->hdr->spool_bytes = 5;
	check_ok(st);

	/* what a crash leaves in the spool is cleared at the next start */
	put_body(st, 0xee, false, "orphan");
	put_body(st, 0xdd, true, "half written");
	snprintf(path, sizeof(path), "%s/stray", st->spool);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	reopen(f);
	assert_false(body_exists(st, 0xee, false));
	assert_false(body_exists(st, 0xdd, true));
	assert_int_equal(access(path, F_OK), -1);
	assert_true(body_exists(st, id, false));	/* still referenced */
	assert_non_null(file_at(st, fi));
	check_ok(st);

	/* a state whose file lost its body is refused */
	spool_path(st, id, false, path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	state_close(st);
	assert_int_equal(state_open(st, &f->cf, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "missing or wrong size"));
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("hello!", fp);				/* the wrong size */
	fclose(fp);
	assert_int_equal(state_open(st, &f->cf, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "missing or wrong size"));
	assert_int_equal(truncate(path, 5), 0);
	reopen(f);
	check_ok(st);
}

/*
 * kept files: a file an inbox reply showed moves to the kept chain with
 * its hold on the body; kept_expire frees it after keep; the checker
 * vouches for the chain and finds it damaged; a rollback and a reopen
 * keep it whole.
 */
static void
test_kept_files(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), b = add_user(st, "bob"), fi, idx[4], k;
	uint64_t id = 0x00000000000abcdeULL, mid, gone[4], now = now_sec();
	size_t ngone;
	bool more;

	put_body(st, id, false, "kept!");
	txn_begin(st);
	assert_int_equal(file_create(st, id, 5, "k.txt", 0, 1 << 20, &fi), 0);
	struct msg_new m = { .from = a, .to = b, .kind = MSG_FILE, .time = 1,
	    .file = fi };
	assert_int_equal(msg_enqueue(st, &m, 10, &mid), 0);
	txn_commit(st);
	send_ok(st, a, b, "text goes");
	struct lease l = my_lease(st, 1);
	assert_int_equal(lease(st, b, &l, idx, 4, &more), 2);
	assert_int_equal(inbox_commit(st, b, &l, true), 2);
	assert_int_equal(st->users[b].inbox_count, 0);
	assert_int_equal(st->hdr->kept_count, 1);
	assert_int_equal(st->hdr->msgs.count, 1);
	k = st->hdr->kept_head;
	assert_int_equal(k, st->hdr->kept_tail);
	assert_true(st->msgs[k].flags & MF_KEPT);
	assert_int_equal(st->msgs[k].to, b);
	assert_int_equal(st->msgs[k].lease_proc, 0);
	assert_true(st->msgs[k].shown >= now && st->msgs[k].shown <= now + 5);
	assert_true(kept_live(&st->msgs[k], now, 60));
	assert_false(kept_live(&st->msgs[k], st->msgs[k].shown + 60, 60));
	assert_int_equal(file_at(st, fi)->refs, 1);
	assert_true(body_exists(st, id, false));
	check_ok(st);

	/* not yet due: nothing goes */
	txn_begin(st);
	assert_int_equal(kept_expire(st, now, 3600, 4, gone, &ngone), 0);
	txn_commit(st);
	assert_int_equal(st->hdr->kept_count, 1);

	/* a rolled-back expiry leaves the chain as it was */
	txn_begin(st);
	assert_int_equal(kept_expire(st, now + 7200, 3600, 4, gone, &ngone), 1);
	assert_int_equal(st->hdr->kept_count, 0);
	txn_abort(st);
	assert_int_equal(st->hdr->kept_count, 1);
	assert_int_equal(st->hdr->kept_head, k);
	assert_int_equal(file_at(st, fi)->refs, 1);
	check_ok(st);

	/* damage is found */
	st->hdr->kept_count = 2;
	check_fails(st, "kept files are damaged");
	st->hdr->kept_count = 1;
	st->msgs[k].flags &= ~(uint32_t)MF_KEPT;
	check_fails(st, "kept files are damaged");
	st->msgs[k].flags |= MF_KEPT;
	st->hdr->kept_tail = 0;
	check_fails(st, "kept files are damaged");
	st->hdr->kept_tail = k;
	check_ok(st);

	/* the chain outlives a reopen, then expires: slot and body go */
	reopen(f);
	assert_int_equal(st->hdr->kept_count, 1);
	check_ok(st);
	txn_begin(st);
	assert_int_equal(kept_expire(st, now + 7200, 3600, 4, gone, &ngone), 1);
	txn_commit(st);
	assert_int_equal(ngone, 1);
	assert_int_equal(gone[0], id);
	spool_unlink(st, gone[0]);
	assert_false(body_exists(st, id, false));
	assert_null(file_at(st, fi));
	assert_int_equal(st->hdr->kept_head, 0);
	assert_int_equal(st->hdr->kept_tail, 0);
	assert_int_equal(st->hdr->msgs.count, 0);
	assert_int_equal(st->hdr->spool_bytes, 0);
	check_ok(st);
}

/* kept_make_room: the oldest kept files go until a new body fits */
static void
test_kept_make_room(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), b = add_user(st, "bob"), fi, idx[8];
	struct evicted ev = { .n = 0 };
	uint64_t mid;
	bool more;

	/* three kept files of 4 bytes, then one still in the inbox */
	for (uint64_t id = 1; id <= 4; id++) {
		put_body(st, id, false, "body");
		txn_begin(st);
		assert_int_equal(file_create(st, id, 4, "f", 0, 1 << 20, &fi), 0);
		struct msg_new m = { .from = a, .to = b, .kind = MSG_FILE,
		    .time = 1, .file = fi };
		assert_int_equal(msg_enqueue(st, &m, 10, &mid), 0);
		txn_commit(st);
		if (id == 3) {
			struct lease l = my_lease(st, 9);
			assert_int_equal(lease(st, b, &l, idx, 8, &more), 3);
			assert_int_equal(inbox_commit(st, b, &l, true), 3);
		}
	}
	assert_int_equal(st->hdr->kept_count, 3);
	assert_int_equal(st->hdr->spool_bytes, 16);

	/* room for 9 more under 20: the two oldest go, in a transaction */
	txn_begin(st);
	assert_int_equal(kept_make_room(st, 9, 20, &ev), 0);
	txn_commit(st);
	assert_int_equal(ev.n, 2);
	assert_int_equal(ev.gone[0], 1);
	assert_int_equal(ev.gone[1], 2);
	evicted_unlink(st, &ev);
	assert_int_equal(ev.n, 0);
	assert_false(body_exists(st, 1, false));
	assert_true(body_exists(st, 3, false));
	assert_int_equal(st->hdr->kept_count, 1);
	assert_int_equal(st->hdr->spool_bytes, 8);
	check_ok(st);

	/* not enough even with every kept file gone: EDQUOT, rolled back */
	txn_begin(st);
	assert_int_equal(kept_make_room(st, 100, 20, &ev), -1);
	assert_int_equal(errno, EDQUOT);
	txn_abort(st);
	ev.n = 0;
	assert_int_equal(st->hdr->kept_count, 1);
	assert_true(body_exists(st, 3, false));
	check_ok(st);

	/* file_create_room does both */
	put_body(st, 5, false, "body5");
	txn_begin(st);
	assert_int_equal(file_create_room(st, 5, 5, "g", 0, 12, &fi, &ev), 0);
	struct msg_new m = { .from = a, .to = b, .kind = MSG_FILE, .time = 1,
	    .file = fi };
	assert_int_equal(msg_enqueue(st, &m, 10, &mid), 0);
	txn_commit(st);
	assert_int_equal(ev.n, 1);
	evicted_unlink(st, &ev);
	assert_false(body_exists(st, 3, false));
	assert_int_equal(st->hdr->kept_count, 0);
	assert_int_equal(st->hdr->spool_bytes, 9);
	check_ok(st);
}

static void
test_check_detects_damage(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), b = add_user(st, "bob");
	uint8_t t1[TOKEN_LEN], t2[TOKEN_LEN], t3[TOKEN_LEN];
	uint32_t s2;

	send_ok(st, a, b, "hello");
	send_ok(st, a, b, "again");
	send_ok(st, b, a, "reply");
	new_session(st, a, 100, 8, t1);
	s2 = new_session(st, a, 100, 8, t2);
	new_session(st, b, 100, 8, t3);
	assert_int_equal(delete_session(st, s2), 0);
	check_ok(st);

	struct shm_user *ub = user_at(st, b), *ua = user_at(st, a);
	uint32_t saved32;
	uint64_t saved64;
	char savedname[NAME_LEN + 1];

#define DAMAGE(field, value, message) do {				\
		saved64 = (uint64_t)(field);				\
		(field) = (value);					\
		check_fails(st, message);				\
		(field) = saved64;					\
		check_ok(st);						\
	} while (0)

	DAMAGE(ub->inbox_count, ub->inbox_count + 1, "inbox of user bob is damaged");
	DAMAGE(ub->inbox_count, ub->inbox_count - 1, "inbox of user bob is damaged");
	DAMAGE(ub->inbox_tail, ub->inbox_head, "inbox of user bob is damaged");
	DAMAGE(ua->inbox_head, 60, "inbox of user alice is damaged");
	DAMAGE(st->msgs[ub->inbox_head].to, a, "inbox of user bob is damaged");
	DAMAGE(st->msgs[ub->inbox_head].from, 9, "inbox of user bob is damaged");
	DAMAGE(st->msgs[ub->inbox_head].len, 0, "inbox of user bob is damaged");
	DAMAGE(st->msgs[ub->inbox_head].text, st->hdr->heap_top,
	    "inbox of user bob is damaged");
	DAMAGE(ua->nsessions, 3, "sessions of user alice are damaged");
	DAMAGE(ub->sessions, 0, "sessions of user bob are damaged");
	DAMAGE(st->hdr->sessions.count, 3, "session free list holds 1 slots, "
	    "expected 0");
	DAMAGE(st->hdr->users.count, 3, "user table counters out of range");
	DAMAGE(st->hdr->msgs.hwm, 65, "message table counters out of range");
	DAMAGE(st->hdr->heap_top, (64 << 10) + 16,
	    "message heap counters out of range");
	DAMAGE(st->hdr->heap_used, st->hdr->heap_top + 1,
	    "message heap counters out of range");
	DAMAGE(st->user_hash[hash_str(st->hdr->hash_key, "bob", 3) &
	    st->hdr->users.mask], 0, "user hash");
	DAMAGE(st->sessions[s2].state, SLOT_USED, "session free list is damaged");
	DAMAGE(st->hdr->sessions.free, 0, "session free list holds 0 slots");
#undef DAMAGE

	memcpy(savedname, ub->name, sizeof(savedname));
	/*
	 * A damaged name is found by the record check, or first by the hash
	 * check when it no longer hashes to its bucket (depends on the key).
	 */
	strcpy(ub->name, "bad name");
	check_fails_any(st);
	memset(ub->name, 'x', sizeof(ub->name));	/* no terminator */
	check_fails_any(st);
	memcpy(ub->name, savedname, sizeof(savedname));
	check_ok(st);

	/* a cycle in an inbox is found, not followed forever */
	uint32_t head = ub->inbox_head, tail = ub->inbox_tail;
	saved32 = st->msgs[tail].next;
	st->msgs[tail].next = head;
	check_fails(st, "inbox of user bob is damaged");
	st->msgs[tail].next = saved32;
	check_ok(st);
}

static void
test_open_refuses_damaged_file(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t b;
	uint64_t where;
	uint32_t count, bad;
	int fd;

	add_user(st, "alice");
	b = add_user(st, "bob");
	send_ok(st, find_user(st, "alice"), b, "hi");
	where = st->hdr->region[RG_USERS].off + b * sizeof(struct shm_user) +
	    offsetof(struct shm_user, inbox_count);
	count = user_at(st, b)->inbox_count;
	assert_int_equal(count, 1);

	/* damage the file while it is closed, as a crash or bug might */
	state_close(st);
	fd = open(f->path, O_RDWR);
	assert_true(fd >= 0);
	bad = 5;
	assert_int_equal(pwrite(fd, &bad, sizeof(bad), (off_t)where), sizeof(bad));
	assert_int_equal(state_open(st, &f->cf, f->err, sizeof(f->err)), -1);
	assert_null(st->base);
	assert_non_null(strstr(f->err, f->path));
	assert_non_null(strstr(f->err, "inbox of user bob is damaged"));

	/* repaired, it opens again with its contents */
	assert_int_equal(pwrite(fd, &count, sizeof(count), (off_t)where),
	    sizeof(count));
	reopen(f);
	assert_int_equal(find_user(st, "bob"), b);
	assert_int_equal(user_at(st, b)->inbox_count, 1);
	state_close(st);

	/* the wrong version */
	uint32_t version, other = SHM_VERSION + 1;
	off_t voff = offsetof(struct shm_header, version);
	assert_int_equal(pread(fd, &version, 4, voff), 4);
	assert_int_equal(pwrite(fd, &other, 4, voff), 4);
	assert_int_equal(state_open(st, &f->cf, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "layout version"));
	assert_int_equal(pwrite(fd, &version, 4, voff), 4);

	/* a damaged layout */
	uint64_t off, junk = 12345;
	off_t roff = offsetof(struct shm_header, region) +
	    RG_MSGS * sizeof(struct shm_region);
	assert_int_equal(pread(fd, &off, 8, roff), 8);
	assert_int_equal(pwrite(fd, &junk, 8, roff), 8);
	assert_int_equal(state_open(st, &f->cf, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "header is damaged"));
	assert_int_equal(pwrite(fd, &off, 8, roff), 8);

	/* not a state file */
	assert_int_equal(pwrite(fd, "NOTMAGIC", 8, 0), 8);
	assert_int_equal(state_open(st, &f->cf, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "bad magic"));
	assert_int_equal(pwrite(fd, SHM_MAGIC, 8, 0), 8);

	/* a truncated file */
	struct stat sb;
	assert_int_equal(fstat(fd, &sb), 0);
	assert_int_equal(ftruncate(fd, sb.st_size - 4096), 0);
	assert_int_equal(state_open(st, &f->cf, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "truncated"));
	assert_int_equal(ftruncate(fd, sb.st_size), 0);
	close(fd);

	/* whole again */
	reopen(f);
	check_ok(st);
	assert_int_equal(find_user(st, "bob"), b);
}

static void
test_reopen_keeps_everything(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), b = add_user(st, "bob");
	uint8_t ta[TOKEN_LEN], tb[TOKEN_LEN];
	uint32_t sa, sb, idx[8];
	uint64_t next_id, heap_top, heap_used, hash_key, epoch;
	char buf[256];
	bool more;

	sa = new_session(st, a, now_sec(), 4, ta);
	sb = new_session(st, b, now_sec(), 4, tb);
	send_ok(st, a, b, "first");
	send_ok(st, a, b, "second");
	send_ok(st, b, a, "back");
	/* a reply in flight when the daemon stops */
	struct lease l = my_lease(st, 1);
	assert_int_equal(lease(st, b, &l, idx, 1, &more), 1);
	next_id = st->hdr->next_msg_id;
	heap_top = st->hdr->heap_top;
	heap_used = st->hdr->heap_used;
	hash_key = st->hdr->hash_key;
	epoch = st->hdr->epoch;

	reopen(f);
	check_ok(st);
	assert_int_equal(st->hdr->epoch, epoch + 1);
	assert_int_equal(st->hdr->hash_key, hash_key);
	assert_int_equal(st->hdr->users.count, 2);
	assert_int_equal(find_user(st, "alice"), a);
	assert_int_equal(find_user(st, "bob"), b);
	assert_int_equal(find_session(st, ta, now_sec(), 600), sa);
	assert_int_equal(find_session(st, tb, now_sec(), 600), sb);
	assert_string_equal(inbox_str(st, b, buf, sizeof(buf)), "first|second");
	assert_string_equal(inbox_str(st, a, buf, sizeof(buf)), "back");
	assert_int_equal(st->hdr->next_msg_id, next_id);
	assert_int_equal(st->hdr->heap_top, heap_top);
	assert_int_equal(st->hdr->heap_used, heap_used);
	assert_int_equal(st->hdr->lock.owner, 0);

	/* the old run's lease lapsed: all of bob's messages can be read */
	l = my_lease(st, 1);
	assert_int_equal(lease(st, b, &l, idx, 8, &more), 2);
	assert_string_equal(leased_str(st, idx, 2, buf, sizeof(buf)),
	    "first|second");

	/* and it keeps working: ids go on increasing */
	assert_true(send_ok(st, b, a, "later") >= next_id);
	assert_int_equal(inbox_commit(st, b, &l, false), 2);
	reopen(f);
	assert_string_equal(inbox_str(st, b, buf, sizeof(buf)), "");
	assert_string_equal(inbox_str(st, a, buf, sizeof(buf)), "back|later");
	check_ok(st);
}

static void
test_open_larger_config_keeps_file(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint64_t size = st->size;

	add_user(st, "alice");
	/* capacities only matter when the file is made */
	f->cf.max_users = 1000;
	f->cf.max_messages = 5000;
	reopen(f);
	assert_int_equal(st->size, size);
	assert_int_equal(st->hdr->region[RG_USERS].count, 33);
	assert_int_not_equal(find_user(st, "alice"), 0);
}

/* ---- transactions ---- */

/*
 * busy_state - users, sessions, messages and a group with a history,
 * with freed slots and freed heap blocks, so that a transaction reuses
 * some and grows into others
 */
static void
busy_state(struct state *st, uint32_t *a, uint32_t *b, uint8_t ta[TOKEN_LEN],
    uint8_t tb[TOKEN_LEN], uint32_t *sa, uint32_t *sb)
{
	uint32_t idx[8], g;
	uint64_t id, gone;
	bool more;

	*a = add_user(st, "alice");
	*b = add_user(st, "bob");
	*sa = new_session(st, *a, 100, 8, ta);
	*sb = new_session(st, *b, 100, 8, tb);

	txn_begin(st);
	assert_int_equal(group_create(st, "base", "", *a, &g), 0);
	assert_int_equal(member_add(st, g, *b, 100), 0);
	for (int k = 1; k <= 2; k++) {
		char text[8];
		struct msg_new m = { .from = *a, .text = text, .kind = MSG_TEXT,
		    .time = 7 };
		m.len = (size_t)snprintf(text, sizeof(text), "h%d", k);
		assert_int_equal(group_post(st, g, &m, 2, &id, &gone), 0);
		assert_int_equal(gone, 0);
	}
	txn_commit(st);

	send_ok(st, *a, *b, "one");
	send_ok(st, *a, *b, "two, a longer text in a larger block");
	send_ok(st, *b, *a, "three");
	struct lease l = my_lease(st, 99);
	assert_int_equal(lease(st, *b, &l, idx, 1, &more), 1);
	/* frees "one": a message slot and a heap block for reuse */
	assert_int_equal(inbox_commit(st, *b, &l, false), 1);
	assert_int_equal(st->hdr->msgs.free, idx[0]);
	assert_int_not_equal(st->hdr->heap_free[0], 0);
	check_ok(st);
}

#define GHOST_FILE_ID	0x00c0ffee00c0ffeeULL

/*
 * change_many - in the open transaction: touch every table.  0, or the
 * line that failed (children use it too, so no cmocka asserts here).
 */
static int
change_many(struct state *st, uint32_t a, uint32_t b, uint32_t sb)
{
	struct user_fields uf = { "ghost", "Ghost", "Nowhere", PW };
	uint8_t tok[TOKEN_LEN];
	uint32_t g, s, base, crew, file;
	uint64_t id, off, gone;
	char text[64];

	if (user_insert(st, &uf, &g) == -1)
		return __LINE__;
	for (int k = 0; k < 5; k++) {
		struct msg_new m = {
			.from = k % 2 ? a : g, .to = k % 2 ? g : b,
			.text = text, .kind = MSG_TEXT, .time = 5,
		};
		m.len = (size_t)snprintf(text, sizeof(text), "uncommitted %d", k);
		if (msg_enqueue(st, &m, 100, &id) == -1)
			return __LINE__;
	}
	/* per user 1: alice's session is evicted for the new one */
	if (session_create(st, a, 200, 1, tok, &s) == -1 ||
	    session_create(st, g, 200, 1, tok, &s) == -1)
		return __LINE__;
	if (session_delete(st, sb) == -1)
		return __LINE__;
	if (heap_alloc(st, 3000, &off) == -1)
		return __LINE__;

	/* groups: leave one, post past the history limit, make another */
	if ((base = group_find_locked(st, "base", 4)) == 0 ||
	    member_remove(st, base, b) == -1)
		return __LINE__;
	struct msg_new h = { .from = g, .text = "h3", .len = 2,
	    .kind = MSG_TEXT, .time = 8 };
	if (group_post(st, base, &h, 2, &id, &gone) == -1)
		return __LINE__;
	if (group_create(st, "crew", "", g, &crew) == -1 ||
	    member_add(st, crew, a, 100) == -1)
		return __LINE__;

	/* a file, sent to bob */
	if (file_create(st, GHOST_FILE_ID, 5, "ghost.txt", 0, 1 << 20,
	    &file) == -1)
		return __LINE__;
	struct msg_new fm = { .from = g, .to = b, .kind = MSG_FILE,
	    .time = 9, .file = file };
	if (msg_enqueue(st, &fm, 100, &id) == -1)
		return __LINE__;

	if (st->hdr->users.count != 3 || st->hdr->groups.count != 2 ||
	    st->hdr->files.count != 1 || st->hdr->undo_used == 0)
		return __LINE__;
	return 0;
}

/* The users and session change_many() works on, for a child. */
struct busy {
	uint32_t	a, b, sb;
};

/* busy_change - change_many() as a change for a child in a transaction */
static int
busy_change(struct state *st, void *arg)
{
	const struct busy *k = arg;

	return change_many(st, k->a, k->b, k->sb);
}

/* ghost_change - insert the user "ghost", for a child in a transaction */
static int
ghost_change(struct state *st, void *arg)
{
	struct user_fields uf = { "ghost", "", "", PW };
	uint32_t g;

	return user_insert(st, &uf, &g) == -1 ? __LINE__ : 0;
}

/* How a child that dies inside its transaction dies. */
enum death {
	KILLED,		/* it waits there; the caller kills it */
	KILLS_ITSELF,	/* SIGKILL by its own hand, reaped here */
};

/*
 * child_in_txn - fork a process of the tree that begins a transaction,
 * makes change in it and dies there, holding the lock.  KILLED: returns
 * once the child sits in its transaction.  KILLS_ITSELF: returns once it
 * is dead and reaped.  Either way nothing is recovered yet.
 */
static pid_t
child_in_txn(struct state *st, int (*change)(struct state *, void *),
    void *arg, enum death how)
{
	int p[2], status;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	if ((pid = spawn()) == 0) {
		close(p[0]);
		in_child(st);
		txn_begin(st);
		if (change(st, arg) != 0)
			_exit(2);
		if (how == KILLS_ITSELF)
			raise(SIGKILL);
		pipe_write(p[1], 'c');
		for (;;)
			pause();
	}
	assert_true(pid > 0);
	close(p[1]);
	if (how == KILLED)
		assert_int_equal(pipe_read(p[0], 10000), 'c');
	close(p[0]);
	if (how == KILLS_ITSELF) {
		status = wait_child(pid, 10);
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), SIGKILL);
	}
	return pid;
}

/* same_as_busy - what busy_state() made, and nothing else */
static void
same_as_busy(struct state *st, uint32_t a, uint32_t b,
    const uint8_t ta[TOKEN_LEN], const uint8_t tb[TOKEN_LEN], uint32_t sa,
    uint32_t sb)
{
	uint32_t base;
	char buf[256];

	assert_int_equal(st->hdr->undo_used, 0);
	assert_int_equal(st->hdr->users.count, 2);
	assert_int_equal(st->hdr->sessions.count, 2);
	assert_int_equal(st->hdr->msgs.count, 4);
	assert_int_equal(st->hdr->groups.count, 1);
	assert_int_equal(st->hdr->members.count, 2);
	assert_int_equal(st->hdr->files.count, 0);
	assert_int_equal(st->hdr->spool_bytes, 0);
	assert_int_equal(find_user(st, "ghost"), 0);
	assert_int_equal(find_user(st, "alice"), a);
	assert_int_equal(find_session(st, ta, 100, 600), sa);
	assert_int_equal(find_session(st, tb, 100, 600), sb);
	assert_int_equal(user_at(st, a)->nsessions, 1);
	assert_string_equal(inbox_str(st, b, buf, sizeof(buf)),
	    "two, a longer text in a larger block");
	assert_string_equal(inbox_str(st, a, buf, sizeof(buf)), "three");
	assert_int_equal(find_group(st, "crew"), 0);
	assert_int_not_equal(base = find_group(st, "base"), 0);
	assert_string_equal(hist_str(st, base, buf, sizeof(buf)), "h1|h2");
	state_lock(st);
	assert_int_not_equal(member_find_locked(st, base, b), 0);
	state_unlock(st);
	check_ok(st);
}

static void
test_txn_rollback(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint8_t ta[TOKEN_LEN], tb[TOKEN_LEN];
	uint32_t a, b, sa, sb;
	struct snap before, after;

	busy_state(st, &a, &b, ta, tb, &sa, &sb);
	before = snap_take(st);

	txn_begin(st);
	assert_int_equal(change_many(st, a, b, sb), 0);
	assert_int_equal(txn_rollback_locked(st), 0);
	state_unlock(st);

	after = snap_take(st);
	snap_same(&before, &after);
	same_as_busy(st, a, b, ta, tb, sa, sb);
	assert_int_equal(st->hdr->lock.owner, 0);

	/* txn_abort is the same */
	before = snap_take(st);
	txn_begin(st);
	assert_int_equal(change_many(st, a, b, sb), 0);
	txn_abort(st);
	after = snap_take(st);
	snap_same(&before, &after);
	same_as_busy(st, a, b, ta, tb, sa, sb);

	/* and the same changes commit cleanly afterwards */
	txn_begin(st);
	assert_int_equal(change_many(st, a, b, sb), 0);
	txn_commit(st);
	check_ok(st);
	assert_int_equal(st->hdr->users.count, 3);
	assert_int_not_equal(find_user(st, "ghost"), 0);
	assert_int_equal(find_session(st, ta, 200, 600), 0);
	assert_int_equal(find_session(st, tb, 200, 600), 0);
	/* 2 + 6 queued, "h2" and "h3" in the history */
	assert_int_equal(st->hdr->msgs.count, 10);
	assert_int_equal(st->hdr->groups.count, 2);
	assert_int_equal(st->hdr->files.count, 1);
	assert_int_equal(st->hdr->spool_bytes, 5);
	char buf[256];
	assert_string_equal(hist_str(st, find_group(st, "base"), buf,
	    sizeof(buf)), "h2|h3");
}

static void
test_txn_log_region_full(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	struct snap before, after;
	uint64_t off;
	size_t undo = st->hdr->region[RG_UNDO].size, chunk = 16 << 10;
	int logged = 0;

	add_user(st, "alice");
	txn_begin(st);
	assert_int_equal(heap_alloc(st, chunk, &off), 0);
	txn_commit(st);
	memset(heap_ptr(st, off), 'A', chunk);
	before = snap_take(st);

	/* log the same heap range until the undo region is full */
	txn_begin(st);
	for (;;) {
		if (txn_log(st, heap_ptr(st, off), chunk) == -1)
			break;
		memset(heap_ptr(st, off), 'a' + logged % 26, chunk);
		logged++;
		assert_true((size_t)logged * chunk <= undo);
	}
	assert_int_equal(errno, ENOSPC);
	/* each record is a 16-byte head and the bytes: as many as fit */
	assert_int_equal(logged, undo / (16 + chunk));
	txn_abort(st);
	after = snap_take(st);
	snap_same(&before, &after);
	/* the oldest value comes back although the range was logged many times */
	for (size_t i = 0; i < chunk; i++)
		if (heap_ptr(st, off)[i] != 'A')
			fail_msg("heap byte %zu not restored", i);
	check_ok(st);
}

/* ---- other processes ---- */

static void
test_crash_in_transaction_recover_dead(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint8_t ta[TOKEN_LEN], tb[TOKEN_LEN];
	uint32_t a, b, sa, sb;
	struct snap before, after;
	uint64_t recovered = st->hdr->lock.recovered;
	struct busy k;
	pid_t pid;

	busy_state(st, &a, &b, ta, tb, &sa, &sb);
	before = snap_take(st);
	k = (struct busy){ a, b, sb };
	pid = child_in_txn(st, busy_change, &k, KILLED);
	/* the child sits in its transaction, holding the lock */
	assert_int_equal(st->hdr->lock.owner, (uint32_t)pid);
	assert_int_not_equal(st->hdr->undo_used, 0);
	assert_int_equal(st->hdr->users.count, 3);

	kill_and_reap(pid);
	state_recover_dead(st, pid);
	assert_int_equal(st->hdr->lock.owner, 0);
	assert_int_equal(st->hdr->undo_used, 0);
	assert_int_equal(st->hdr->lock.recovered, recovered + 1);
	after = snap_take(st);
	snap_same(&before, &after);
	same_as_busy(st, a, b, ta, tb, sa, sb);

	/* the lock is free and the state usable */
	state_lock(st);
	state_unlock(st);
	assert_int_not_equal(add_user(st, "ghost"), 0);
	check_ok(st);

	/* a pid that holds nothing: nothing to do */
	state_recover_dead(st, pid);
	assert_int_equal(st->hdr->lock.recovered, recovered + 1);
	assert_int_not_equal(find_user(st, "ghost"), 0);
}

static void
test_crash_self_kill(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint8_t ta[TOKEN_LEN], tb[TOKEN_LEN];
	uint32_t a, b, sa, sb;
	struct snap before, after;
	struct busy k;
	pid_t pid;

	busy_state(st, &a, &b, ta, tb, &sa, &sb);
	before = snap_take(st);
	k = (struct busy){ a, b, sb };
	pid = child_in_txn(st, busy_change, &k, KILLS_ITSELF);
	assert_int_equal(st->hdr->lock.owner, (uint32_t)pid);
	state_recover_dead(st, pid);
	assert_int_equal(st->hdr->lock.owner, 0);
	after = snap_take(st);
	snap_same(&before, &after);
	same_as_busy(st, a, b, ta, tb, sa, sb);
	txn_begin(st);
	txn_commit(st);
}

static void
test_crash_recovered_at_open(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint8_t ta[TOKEN_LEN], tb[TOKEN_LEN];
	uint32_t a, b, sa, sb;
	struct snap before, after;
	struct busy k;

	busy_state(st, &a, &b, ta, tb, &sa, &sb);
	before = snap_take(st);
	k = (struct busy){ a, b, sb };
	kill_and_reap(child_in_txn(st, busy_change, &k, KILLED));

	/* the whole tree stopped: the next start rolls back */
	reopen(f);
	assert_int_equal(st->hdr->lock.owner, 0);
	after = snap_take(st);
	snap_same(&before, &after);
	same_as_busy(st, a, b, ta, tb, sa, sb);
}

static void
test_committed_child_survives(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), b = add_user(st, "bob");
	char buf[64];
	int status;
	pid_t pid;

	if ((pid = spawn()) == 0) {
		in_child(st);
		struct msg_new m = { .from = a, .to = b, .text = "kept",
		    .len = 4, .kind = MSG_TEXT, .time = 1 };
		uint64_t id;
		txn_begin(st);
		if (msg_enqueue(st, &m, 10, &id) == -1)
			_exit(2);
		txn_commit(st);
		_exit(0);
	}
	assert_true(pid > 0);
	status = wait_child(pid, 10);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	state_recover_dead(st, pid);			/* nothing to undo */
	assert_string_equal(inbox_str(st, b, buf, sizeof(buf)), "kept");
	check_ok(st);
}

/*
 * file_steps - the file part of worker_loop: every 4th turn a file to b,
 * every 5th the oldest kept files expire, as the master's sweep does
 */
static void
file_steps(struct state *st, uint32_t a, uint32_t b, uint32_t k)
{
	uint64_t fid = ((uint64_t)getpid() << 32) | k, mid, gone[2];
	size_t ngone = 0;
	uint32_t fi;

	if (k % 4 == 1) {
		struct msg_new m = { .from = a, .to = b, .kind = MSG_FILE,
		    .time = k };
		put_body(st, fid, false, "body");
		txn_begin(st);
		if (file_create(st, fid, 4, "f", 0, 1 << 20, &fi) == -1 ||
		    (m.file = fi, msg_enqueue(st, &m, 20, &mid) == -1)) {
			txn_abort(st);
			spool_unlink(st, fid);
		} else
			txn_commit(st);
	}
	if (k % 5 == 0) {
		txn_begin(st);
		if (kept_expire(st, UINT64_MAX, 0, 2, gone, &ngone) == -1)
			txn_abort(st);
		else {
			txn_commit(st);
			for (size_t i = 0; i < ngone; i++)
				spool_unlink(st, gone[i]);
		}
	}
}

/*
 * worker_loop - what a busy worker does, forever: send texts and files,
 * read inboxes (keeping the files shown, at times), expire kept files,
 * log in, expire sessions, register (mostly refused: names taken, table
 * full).  Every change is a transaction, as in the daemon.
 */
static void
worker_loop(struct state *st, int slot, uint32_t a, uint32_t b)
{
	state_set_proc(st, slot);
	for (uint32_t k = 0;; k++) {
		char text[80];
		struct msg_new m = { .from = a, .to = b, .text = text,
		    .kind = MSG_TEXT, .time = k };
		uint8_t tok[TOKEN_LEN];
		uint32_t idx[8], s;
		uint64_t id;
		bool more;

		m.len = (size_t)snprintf(text, sizeof(text), "msg %u %s", k,
		    k % 2 ? "" : "with a longer tail to vary the block class");
		txn_begin(st);
		if (msg_enqueue(st, &m, 20, &id) == -1)
			txn_abort(st);
		else
			txn_commit(st);
		file_steps(st, a, b, k);

		if (k % 3 == 0) {
			struct lease l = {
				.proc = (uint32_t)slot + 1,
				.gen = st->procs[slot].gen, .serial = k,
			};
			state_lock(st);
			size_t n = inbox_lease_locked(st, b, 0, &l, idx, 8,
			    UINT64_MAX, &more);
			state_unlock(st);
			if (n > 0 && k % 2 == 0)
				inbox_commit(st, b, &l, k % 4 == 0);
			else if (n > 0) {
				state_lock(st);
				inbox_release_locked(st, b, &l);
				state_unlock(st);
			}
		}

		txn_begin(st);
		if (session_create(st, k % 2 ? a : b, k, 3, tok, &s) == -1)
			txn_abort(st);
		else
			txn_commit(st);

		if (k % 7 == 0) {
			txn_begin(st);
			if (session_expire(st, k, 5, 4) == -1)
				txn_abort(st);
			else
				txn_commit(st);
		}
		if (k % 11 == 0) {
			struct user_fields uf = { text, text, "", PW };
			uint32_t u;
			snprintf(text, sizeof(text), "reg%u", k % 40);
			txn_begin(st);
			if (user_insert(st, &uf, &u) == -1)
				txn_abort(st);
			else
				txn_commit(st);
		}
	}
}

/*
 * slowdown - how much slower this run is than a plain one: TEST_SLOWDOWN
 * (tests/valgrind sets it), so that timed kills still land mid-work
 */
static unsigned
slowdown(void)
{
	const char *v = getenv("TEST_SLOWDOWN");
	int n = v != NULL ? atoi(v) : 1;

	return n > 0 ? (unsigned)n : 1;
}

static void
test_crash_at_random_moments(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), b = add_user(st, "bob");
	uint64_t recovered0 = st->hdr->lock.recovered;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	int rounds = 0;

	srand(seed);
	while (rounds < 200 &&
	    (rounds < 40 || st->hdr->lock.recovered - recovered0 < 5)) {
		int slot = state_proc_claim(st, PROC_WORKER);
		pid_t pid;

		assert_true(slot > 0);
		if ((pid = spawn()) == 0)
			worker_loop(st, slot, a, b);
		assert_true(pid > 0);
		usleep((500 + (useconds_t)(rand() % 4000)) * slowdown());
		kill_and_reap(pid);
		state_recover_dead(st, pid);
		state_proc_release(st, slot);
		rounds++;

		char err[512];
		if (state_check(st, err, sizeof(err)) == -1)
			fail_msg("round %d (seed %u): %s", rounds, seed, err);
		assert_int_equal(st->hdr->undo_used, 0);
		assert_int_equal(st->hdr->lock.owner, 0);
	}
	/* the kills did land inside transactions, and were undone */
	if (st->hdr->lock.recovered == recovered0)
		fail_msg("no kill landed while the lock was held in %d rounds",
		    rounds);
	/* the survivor can go on */
	send_ok(st, b, a, "still here");
	check_ok(st);
	reopen(f);
	check_ok(st);
}

static void
test_lock_excludes_and_wakes(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint64_t contended = st->hdr->lock.contended;
	int p[2], status;
	pid_t pid;

	state_lock(st);
	assert_int_equal(st->hdr->lock.owner, (uint32_t)getpid());
	assert_int_equal(pipe(p), 0);
	if ((pid = spawn()) == 0) {
		close(p[0]);
		in_child(st);
		pipe_write(p[1], 'w');
		state_lock(st);
		pipe_write(p[1], 'L');
		state_unlock(st);
		_exit(0);
	}
	assert_true(pid > 0);
	close(p[1]);
	assert_int_equal(pipe_read(p[0], 10000), 'w');
	/* it cannot get in while we hold the lock, and sleeps */
	wait_sleepers(st, 1);
	assert_int_equal(pipe_read(p[0], 100), -1);
	assert_int_equal(st->hdr->lock.owner, (uint32_t)getpid());
	state_unlock(st);
	/* and gets in once we let go */
	assert_int_equal(pipe_read(p[0], 10000), 'L');
	close(p[0]);
	status = wait_child(pid, 10);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(st->hdr->lock.owner, 0);
	assert_true(st->hdr->lock.contended > contended);
	state_lock(st);
	state_unlock(st);
}

static void
test_lock_waiter_wakes_after_holder_dies(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	int pw[2], status;
	pid_t holder, waiter;

	add_user(st, "alice");
	holder = child_in_txn(st, ghost_change, NULL, KILLED);
	assert_int_equal(pipe(pw), 0);
	if ((waiter = spawn()) == 0) {
		close(pw[0]);
		in_child(st);
		pipe_write(pw[1], 'w');
		txn_begin(st);
		/* the dead holder's change must be gone by now */
		struct user_fields uf = { "ghost", "", "", PW };
		uint32_t g;
		int rc = user_insert(st, &uf, &g);
		txn_commit(st);
		pipe_write(pw[1], rc == 0 ? 'L' : 'X');
		_exit(0);
	}
	assert_true(waiter > 0);
	close(pw[1]);
	assert_int_equal(pipe_read(pw[0], 10000), 'w');
	wait_sleepers(st, 1);				/* asleep on the lock */
	assert_int_equal(pipe_read(pw[0], 100), -1);

	kill_and_reap(holder);
	state_recover_dead(st, holder);
	/* the sleeper is woken and finds the state as before the dead one */
	assert_int_equal(pipe_read(pw[0], 10000), 'L');
	close(pw[0]);
	status = wait_child(waiter, 10);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(st->hdr->lock.owner, 0);
	assert_int_equal(st->hdr->users.count, 2);
	assert_int_not_equal(find_user(st, "ghost"), 0);
	check_ok(st);
}

#define INCREMENTS	10000

static void
test_lock_counter_two_processes(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	volatile uint64_t *counter;
	uint64_t off, acquired = st->hdr->lock.acquired;
	pid_t pid[2];
	int go[2];

	txn_begin(st);
	assert_int_equal(heap_alloc(st, sizeof(uint64_t), &off), 0);
	txn_commit(st);
	counter = (volatile uint64_t *)(void *)heap_ptr(st, off);
	*counter = 0;

	assert_int_equal(pipe(go), 0);
	for (int c = 0; c < 2; c++) {
		if ((pid[c] = spawn()) == 0) {
			char x;
			close(go[1]);
			in_child(st);
			if (read(go[0], &x, 1) != 0)	/* wait for the start */
				_exit(3);
			for (int i = 0; i < INCREMENTS; i++) {
				state_lock(st);
				uint64_t v = *counter;
				if ((i & 63) == 0)
					sched_yield();	/* widen the window */
				*counter = v + 1;
				state_unlock(st);
			}
			_exit(0);
		}
		assert_true(pid[c] > 0);
	}
	close(go[0]);
	close(go[1]);				/* both start together */
	for (int c = 0; c < 2; c++) {
		int status = wait_child(pid[c], 60);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(*counter, 2 * INCREMENTS);
	assert_int_equal(st->hdr->lock.owner, 0);
	assert_true(st->hdr->lock.acquired >= acquired + 2 * INCREMENTS);
	/* no sleeper is left counted, and the lock still works */
	state_lock(st);
	state_unlock(st);
	check_ok(st);
}

/* ---- realms ---- */

/* outbox_ids - the ids queued for link r, as "id,id,..." */
static const char *
outbox_ids(struct state *st, uint32_t r, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (uint32_t i = st->realms[r].out_head; i != 0; i = st->msgs[i].next)
		off += (size_t)snprintf(buf + off, size - off, "%s%llu",
		    off ? "," : "", (unsigned long long)st->msgs[i].id);
	return buf;
}

/* queue_for - one "<target>\0<text>" message for link r; its id */
static uint64_t
queue_for(struct state *st, uint32_t r, uint32_t from, const char *target,
    const char *text, uint32_t limit, int *rc)
{
	char blob[128];
	size_t tl = strlen(target), xl = strlen(text);
	struct msg_new m = { .from = from, .kind = MSG_TEXT, .time = 1700000000,
	    .text = blob, .len = tl + 1 + xl };
	uint64_t id = 0;

	memcpy(blob, target, tl + 1);
	memcpy(blob + tl + 1, text, xl);
	txn_begin(st);
	*rc = outbox_append(st, r, &m, limit, &id);
	if (*rc == -1)
		txn_abort(st);
	else
		txn_commit(st);
	return id;
}

static void
test_realm_links_and_outbox(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), r, r2;
	uint64_t id1, id2, id3, gone;
	char buf[128];
	int rc;

	txn_begin(st);
	assert_int_equal(realm_insert(st, "beta", "beta", "127.0.0.1", 8890,
	    RF_DIALER, &r), 0);
	assert_int_equal(realm_insert(st, "beta", "other", "h", 1, 0, &r2), -1);
	assert_int_equal(errno, EEXIST);			/* name taken */
	assert_int_equal(realm_insert(st, "b2", "beta", "h", 1, 0, &r2), -1);
	assert_int_equal(errno, EEXIST);			/* peer taken */
	txn_commit(st);
	state_lock(st);
	assert_int_equal(realm_find_locked(st, "beta", 4), r);
	assert_int_equal(realm_find_locked(st, "bet", 3), 0);
	assert_int_equal(realm_find_peer_locked(st, "beta"), r);
	state_unlock(st);

	id1 = queue_for(st, r, a, "bob", "one", 2, &rc);
	assert_int_equal(rc, 0);
	id2 = queue_for(st, r, a, "bob", "two", 2, &rc);
	assert_int_equal(rc, 0);
	queue_for(st, r, a, "bob", "three", 2, &rc);		/* limit 2 */
	assert_int_equal(rc, -1);
	assert_int_equal(errno, EDQUOT);
	assert_true(id2 > id1);
	check_ok(st);

	/* a verdict for the second first: taken out of the middle */
	state_lock(st);
	uint32_t m2 = outbox_find_locked(st, r, id2);
	assert_int_not_equal(m2, 0);
	assert_int_equal(outbox_find_locked(st, r, id2 + 100), 0);
	state_unlock(st);
	txn_begin(st);
	assert_int_equal(outbox_remove(st, r, m2, &gone), 0);
	txn_commit(st);
	id3 = queue_for(st, r, a, "bob", "three", 2, &rc);
	assert_int_equal(rc, 0);
	snprintf(buf, sizeof(buf), "%llu,%llu", (unsigned long long)id1,
	    (unsigned long long)id3);
	assert_string_equal(outbox_ids(st, r, buf + 64, 64), buf);
	assert_int_equal(st->realms[r].out_count, 2);
	check_ok(st);

	/* removing the link drops its queue */
	uint64_t bodies[4];
	size_t nb;
	txn_begin(st);
	assert_int_equal(realm_remove(st, r, bodies, &nb, 4), 1);
	txn_commit(st);
	assert_null(realm_at(st, r));
	assert_int_equal(st->hdr->msgs.count, 0);
	check_ok(st);
}

/*
 * Remote users have room of their own (realm_users, 16 here): one link
 * takes at most a quarter of it, all links at most all of it, and
 * however many there are, this realm's own users still fill max_users.
 */
static void
test_remote_users_have_their_own_room(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t r[5], u;
	char name[32];

	txn_begin(st);
	for (int k = 0; k < 5; k++) {
		snprintf(name, sizeof(name), "link%d", k);
		assert_int_equal(realm_insert(st, name, name, "h", 1, 0, &r[k]), 0);
	}
	txn_commit(st);
	for (int k = 0; k < 5; k++)
		for (int i = 0; i < 6; i++) {
			int rc;
			snprintf(name, sizeof(name), "ghost%d", i);
			txn_begin(st);
			rc = remote_user(st, r[k], name, "G", &u);
			if (rc == 0)
				txn_commit(st);
			else {
				assert_int_equal(errno, EDQUOT);
				txn_abort(st);
			}
			/* 4 per link; the fifth link finds the room full */
			assert_int_equal(rc, i < 4 && k < 4 ? 0 : -1);
		}
	assert_int_equal(st->hdr->remote_users, 16);
	assert_int_equal(st->realms[r[0]].users, 4);
	for (int i = 0; i < 16; i++) {
		snprintf(name, sizeof(name), "local%d", i);
		add_user(st, name);
	}
	assert_int_equal(try_user(st, "onemore", &u), -1);
	assert_int_equal(errno, ENOSPC);
	check_ok(st);
	/* a count that disagrees with the table is damage */
	st->hdr->remote_users--;
	check_fails(st, "16 remote users listed but 15 counted");
	st->hdr->remote_users++;
}

/* add_name_txn - realm_add_name in a transaction of its own; its result */
static int
add_name_txn(struct state *st, uint32_t r, const char *name)
{
	int rc;

	txn_begin(st);
	rc = realm_add_name(st, r, name);
	if (rc == -1)
		txn_abort(st);
	else
		txn_commit(st);
	return rc;
}

/* find - realm_find_locked of a C string, under the lock */
static uint32_t
find(struct state *st, const char *name)
{
	uint32_t r;

	state_lock(st);
	r = realm_find_locked(st, name, strlen(name));
	state_unlock(st);
	return r;
}

/*
 * A link answers to its name, its peer's realm_name, the peer's id and
 * the names given here; no name answers for two links; a realm's own
 * name outranks a given one; state_check refuses a name on two links.
 */
static void
test_realm_names(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	const char *names[REALM_NAMES_MAX];
	uint32_t b, a, x;
	char id[16];

	txn_begin(st);
	assert_int_equal(realm_insert(st, "b", "beta", "h", 1, RF_DIALER, &b), 0);
	assert_int_equal(realm_insert(st, "alpha", "alpha", "h", 0, 0, &a), 0);
	txn_commit(st);
	assert_int_equal(find(st, "b"), b);
	assert_int_equal(find(st, "beta"), b);
	assert_int_equal(find(st, "alpha"), a);
	assert_int_equal(find(st, "nosuch"), 0);

	assert_int_equal(add_name_txn(st, b, "x"), 0);
	assert_int_equal(add_name_txn(st, b, "x"), 0);		/* had it */
	assert_int_equal(add_name_txn(st, b, "beta"), 0);	/* its own */
	assert_int_equal(add_name_txn(st, b, "alpha"), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(add_name_txn(st, b, "bad name"), -1);
	assert_int_equal(find(st, "x"), b);
	for (int k = 1; k < REALM_ALIASES; k++) {
		snprintf(id, sizeof(id), "n%d", k);
		assert_int_equal(add_name_txn(st, b, id), 0);
	}
	assert_int_equal(add_name_txn(st, b, "onemore"), -1);
	assert_int_equal(errno, EDQUOT);
	assert_int_equal(find(st, "onemore"), 0);
	assert_int_equal(realm_names(&st->realms[b], names), 2 + REALM_ALIASES);
	assert_string_equal(names[0], "b");
	assert_string_equal(names[1], "beta");
	assert_string_equal(names[2], "x");
	assert_int_equal(realm_names(&st->realms[a], names), 1);

	/* the peer's id: one, replaced when it changes */
	txn_begin(st);
	assert_int_equal(realm_set_peer_id(st, a, "y"), 0);
	assert_int_equal(realm_set_peer_id(st, a, "x"), -1);
	assert_int_equal(errno, EEXIST);
	txn_commit(st);
	assert_int_equal(find(st, "y"), a);
	txn_begin(st);
	assert_int_equal(realm_set_peer_id(st, a, "z"), 0);
	txn_commit(st);
	assert_int_equal(find(st, "y"), 0);
	assert_int_equal(find(st, "z"), a);
	/* a rolled-back name is gone */
	txn_begin(st);
	assert_int_equal(realm_add_name(st, a, "w"), 0);
	txn_abort(st);
	assert_int_equal(find(st, "w"), 0);

	/* a new link's name must be free; its realm_name takes a given one */
	txn_begin(st);
	assert_int_equal(realm_insert(st, "z", "q", "h", 1, RF_DIALER, &x), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(realm_insert(st, "q", "beta", "h", 1, RF_DIALER, &x),
	    -1);
	assert_int_equal(realm_insert(st, "x", "x", "h", 0, 0, &x), 0);
	assert_int_equal(realm_set_peer(st, b, "alpha"), -1);
	assert_int_equal(errno, EEXIST);
	txn_commit(st);
	assert_int_equal(find(st, "x"), x);
	assert_int_equal(realm_names(&st->realms[b], names), 1 + REALM_ALIASES);
	assert_int_equal(add_name_txn(st, b, "again"), 0);	/* room again */
	check_ok(st);

	/* a name on two links, or a bad one, is a damaged state */
	strcpy(st->realms[a].alias[0], "beta");
	check_fails(st, "names another link too");
	strcpy(st->realms[a].alias[0], "bad name");
	check_fails(st, "damaged record");
	memset(st->realms[a].alias[0], 0, NAME_LEN + 1);
	check_ok(st);
}

static void
test_realm_received_and_refusals(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t r;

	txn_begin(st);
	assert_int_equal(realm_insert(st, "beta", "beta", "h", 1, 0, &r), 0);
	assert_int_equal(realm_received(st, r, 5, 5, -1), 0);	/* stored */
	assert_int_equal(realm_received(st, r, 7, 7, E_NO_USER), 0);	/* refused */
	assert_int_equal(realm_received(st, r, 6, 6, -1), 0);	/* never lowers */
	txn_commit(st);
	state_lock(st);
	assert_int_equal(st->realms[r].recv_hwm, 7);
	assert_int_equal(realm_rejected_locked(st, r, 7), E_NO_USER);
	assert_int_equal(realm_rejected_locked(st, r, 5), -1);
	state_unlock(st);
	/* the ring keeps the last REJECTS_KEPT refusals */
	txn_begin(st);
	for (uint64_t id = 100; id < 100 + REJECTS_KEPT; id++)
		assert_int_equal(realm_received(st, r, id, id, E_NO_GROUP), 0);
	txn_commit(st);
	state_lock(st);
	assert_int_equal(realm_rejected_locked(st, r, 7), -1);
	assert_int_equal(realm_rejected_locked(st, r, 100), E_NO_GROUP);
	assert_int_equal(realm_rejected_locked(st, r, 99 + REJECTS_KEPT),
	    E_NO_GROUP);
	state_unlock(st);
	/* an aborted transaction leaves the mark where it was */
	txn_begin(st);
	assert_int_equal(realm_received(st, r, 1000, 1000, -1), 0);
	txn_abort(st);
	assert_int_equal(st->realms[r].recv_hwm, 99 + REJECTS_KEPT);
	check_ok(st);
}

static void
test_remote_users_and_realm_inbox(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t b = add_user(st, "bob"), r, ru, ru2, counts[REALMS_MAX + 1];
	struct msg_new m = { .to = b, .kind = MSG_TEXT, .time = 1700000000,
	    .text = "over the link", .len = 13 };
	uint32_t idx[8];
	uint64_t id;
	bool more;

	txn_begin(st);
	assert_int_equal(realm_insert(st, "alpha", "alpha", "h", 1, 0, &r), 0);
	assert_int_equal(remote_user(st, r, "messi", "Lionel Messi", &ru), 0);
	assert_int_equal(remote_user(st, r, "messi", "L. Messi", &ru2), 0);
	assert_int_equal(ru, ru2);				/* made once */
	assert_int_equal(remote_user(st, r, "bad name", "x", &ru2), -1);
	txn_commit(st);
	assert_string_equal(st->users[ru].name, "messi@alpha");
	assert_string_equal(st->users[ru].display, "L. Messi");
	assert_int_equal(st->users[ru].realm, r);
	assert_true(user_name_ok(&st->users[ru]));
	state_lock(st);
	assert_int_equal(user_find_locked(st, "messi", 5), 0);	/* not ours */
	state_unlock(st);

	m.from = ru;
	m.realm = r;
	txn_begin(st);
	assert_int_equal(msg_enqueue(st, &m, 100, &id), 0);
	txn_commit(st);
	send_ok(st, b, b, "a local one");
	assert_int_equal(st->users[b].realm_count, 1);
	check_ok(st);

	/* inbox sees only the local message, inboxrealm only the link's */
	struct lease l = my_lease(st, 1);
	state_lock(st);
	assert_int_equal(inbox_lease_locked(st, b, 0, &l, idx, 8, UINT64_MAX,
	    &more), 1);
	assert_int_equal(st->msgs[idx[0]].realm, 0);
	inbox_realm_counts_locked(st, b, counts);
	assert_int_equal(counts[r], 1);
	state_unlock(st);
	assert_int_equal(inbox_commit(st, b, &l, false), 1);
	l = my_lease(st, 2);
	state_lock(st);
	assert_int_equal(inbox_lease_locked(st, b, r, &l, idx, 8, UINT64_MAX,
	    &more), 1);
	assert_int_equal(st->msgs[idx[0]].from, ru);
	state_unlock(st);
	assert_int_equal(inbox_commit(st, b, &l, false), 1);
	assert_int_equal(st->users[b].realm_count, 0);
	assert_int_equal(st->users[b].inbox_count, 0);
	check_ok(st);

	/* a bounce notice is an ordinary message of the sender's own inbox */
	txn_begin(st);
	assert_int_equal(bounce_enqueue(st, b, "alpha", E_NO_USER, "nobody",
	    "User Tidak Ditemukan", 41), 0);
	txn_commit(st);
	assert_int_equal(st->users[b].inbox_count, 1);
	assert_int_equal(st->msgs[st->users[b].inbox_head].flags, MF_BOUNCE);
	assert_int_equal(st->msgs[st->users[b].inbox_head].ref, 41);
	check_ok(st);

	/* damage: "user@realm" on a user that is not remote is refused */
	st->users[ru].realm = 0;
	check_fails(st, "damaged record");
}

/* remove_link - what realmctl del realm does: chunks of max, each checked */
static void
remove_link(struct state *st, uint32_t r, uint32_t max, uint32_t *moved)
{
	uint64_t gone[4];
	uint32_t pos = 1;
	size_t ngone;
	bool whole;
	int n, rc = 0;

	*moved = 0;
	while (rc != 1) {
		txn_begin(st);
		n = realm_arrivals_home(st, r, &pos, max, &whole);
		assert_true(n >= 0);
		*moved += (uint32_t)n;
		if (whole)
			rc = realm_remove(st, r, gone, &ngone, 2);
		assert_true(rc >= 0);
		txn_commit(st);
		check_ok(st);
	}
}

static void
test_realm_remove_moves_arrivals(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), b = add_user(st, "bob"), r, o;
	uint32_t ra, moved, idx[16];
	struct msg_new m = { .from = a, .kind = MSG_TEXT, .time = 1,
	    .text = "x\0hi", .len = 4 };
	struct lease l;
	uint64_t id;
	bool more;

	txn_begin(st);
	assert_int_equal(realm_insert(st, "beta", "beta", "127.0.0.1", 1, 0, &r),
	    0);
	assert_int_equal(realm_insert(st, "gamma", "gamma", "127.0.0.1", 2, 0,
	    &o), 0);
	assert_int_equal(remote_user(st, r, "carol", "Carol", &ra), 0);
	txn_commit(st);
	send_ok(st, a, b, "local");
	/* five arrived over beta, one over gamma, five wait to go to beta */
	for (int i = 0; i < 6; i++) {
		struct msg_new in = { .from = ra, .to = i % 2 ? a : b,
		    .kind = MSG_TEXT, .time = 1, .text = "hello", .len = 5,
		    .realm = i < 5 ? r : o };
		txn_begin(st);
		assert_int_equal(msg_enqueue(st, &in, 100, &id), 0);
		assert_int_equal(outbox_append(st, r, &m, 100, &id), 0);
		txn_commit(st);
	}
	check_ok(st);
	assert_int_equal(st->users[a].realm_count, 3);
	assert_int_equal(st->users[b].realm_count, 3);
	/* two at a time, so the scans wrap round the table */
	remove_link(st, r, 2, &moved);
	assert_int_equal(moved, 5);
	assert_null(realm_at(st, r));
	assert_non_null(realm_at(st, o));
	assert_int_equal(st->hdr->realms.count, 1);
	assert_int_equal(st->users[a].realm_count, 1);
	assert_int_equal(st->users[b].realm_count, 0);
	/* what arrived is in the personal inboxes now */
	l = my_lease(st, 1);
	state_lock(st);
	assert_int_equal(inbox_lease_locked(st, b, 0, &l, idx, 16, 1 << 20,
	    &more), 4);
	state_unlock(st);
	assert_int_equal(inbox_commit(st, b, &l, false), 4);
	assert_int_equal(st->users[b].inbox_count, 0);
	check_ok(st);
	/* a link with nothing queued and nothing arrived goes at once */
	remove_link(st, o, 4096, &moved);
	assert_int_equal(moved, 1);
	assert_int_equal(st->hdr->realms.count, 0);
	assert_int_equal(st->users[a].realm_count, 0);
	assert_int_equal(st->users[a].inbox_count, 3);
}

/* damage: a group's last message also made the queue of a link */
/* a kept file that came over a link points at no link once it goes */
static void
test_realm_remove_frees_kept_arrivals(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t b = add_user(st, "bob"), r, ra, fi, k, moved, idx[4];
	uint64_t id;
	bool more;

	txn_begin(st);
	assert_int_equal(realm_insert(st, "beta", "beta", "127.0.0.1", 1, 0, &r),
	    0);
	assert_int_equal(remote_user(st, r, "carol", "Carol", &ra), 0);
	txn_commit(st);
	put_body(st, 42, false, "over");
	txn_begin(st);
	assert_int_equal(file_create(st, 42, 4, "o.txt", 0, 1 << 20, &fi), 0);
	struct msg_new in = { .from = ra, .to = b, .kind = MSG_FILE, .time = 1,
	    .file = fi, .realm = r };
	assert_int_equal(msg_enqueue(st, &in, 10, &id), 0);
	txn_commit(st);
	struct lease l = my_lease(st, 3);
	state_lock(st);
	assert_int_equal(inbox_lease_locked(st, b, r, &l, idx, 4, 1 << 20, &more),
	    1);
	state_unlock(st);
	assert_int_equal(inbox_commit(st, b, &l, true), 1);
	assert_int_equal(st->users[b].realm_count, 0);
	k = st->hdr->kept_head;
	assert_int_equal(st->msgs[k].realm, r);
	check_ok(st);
	remove_link(st, r, 4, &moved);
	assert_null(realm_at(st, r));
	assert_int_equal(st->msgs[k].realm, 0);
	assert_int_equal(st->users[b].realm_count, 0);
	assert_int_equal(st->hdr->kept_count, 1);
	check_ok(st);
}

static void
test_check_queue_shared_with_history(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), g, r, h;
	struct msg_new m = { .from = a, .kind = MSG_TEXT, .time = 1,
	    .text = "x\0hi", .len = 4 };
	uint64_t id, gone;
	int rc;

	txn_begin(st);
	assert_int_equal(group_create(st, "crew", "", a, &g), 0);
	assert_int_equal(realm_insert(st, "beta", "beta", "h", 1, 0, &r), 0);
	assert_int_equal(group_post(st, g, &m, 10, &id, &gone), 0);
	txn_commit(st);
	queue_for(st, r, a, "bob", "hi", 10, &rc);
	assert_int_equal(rc, 0);
	check_ok(st);
	/* the queued message is left on no chain; counts still add up */
	h = st->groups[g].hist_head;
	st->msgs[h].realm = r;
	st->realms[r].out_head = st->realms[r].out_tail = h;
	check_fails(st, "queue of realm beta is damaged");
}

/* ---- push hints (watch.c) and removing single leased messages ---- */

/* a_worker - a live worker slot with its own eventfd, as the master makes */
static int
a_worker(struct state *st)
{
	int k = state_proc_claim(st, PROC_WORKER);

	assert_true(k > 0);
	st->procs[k].pid = (int32_t)getpid();
	assert_true((st->wake_fd[k] = eventfd(0, EFD_NONBLOCK)) != -1);
	return k;
}

/* wakes - how many wake-ups slot k's eventfd holds (and empty it) */
static uint64_t
wakes(struct state *st, int k)
{
	uint64_t n = 0;

	if (read(st->wake_fd[k], &n, sizeof(n)) == -1)
		assert_int_equal(errno, EAGAIN);
	return n;
}

/* A watched user's message hints its worker, woken once per burst. */
static void
test_watch_hint_wakes_once(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), b = add_user(st, "bob");
	int k = a_worker(st), me = st->proc;
	uint32_t users[WATCH_RING];
	bool lost;

	send_ok(st, a, b, "nobody watches");
	assert_int_equal(st->procs[k].watch_head, 0);
	assert_int_equal(wakes(st, k), 0);

	st->users[b].watch |= 1ULL << k;
	send_ok(st, a, b, "one");
	send_ok(st, a, b, "two");
	assert_int_equal(wakes(st, k), 1);	/* the ring was empty once */
	assert_int_equal(st->procs[k].watch_head, 2);

	st->proc = k;				/* as the worker reads its ring */
	assert_true(watch_hinted(st));
	state_lock(st);
	assert_int_equal(watch_take_locked(st, users, WATCH_RING, &lost), 2);
	state_unlock(st);
	assert_false(lost);
	assert_int_equal(users[0], b);
	assert_int_equal(users[1], b);
	assert_false(watch_hinted(st));
	st->proc = me;

	send_ok(st, a, b, "three");
	assert_int_equal(wakes(st, k), 1);	/* empty again: a new wake-up */
	close(st->wake_fd[k]);
	st->wake_fd[k] = -1;
}

/* More hints than the ring holds: the worker is told to look at all. */
static void
test_watch_ring_overflow(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), b = add_user(st, "bob");
	int k = a_worker(st), me = st->proc;
	uint32_t users[WATCH_RING];
	bool lost;

	st->users[b].watch |= 1ULL << k;
	st->procs[k].watch_head = WATCH_RING;	/* a full ring nobody read */
	send_ok(st, a, b, "one hint too many");
	assert_int_equal(wakes(st, k), 0);	/* its wake-up is on its way */
	st->proc = k;
	state_lock(st);
	assert_int_equal(watch_take_locked(st, users, WATCH_RING, &lost), 0);
	state_unlock(st);
	assert_true(lost);
	assert_false(watch_hinted(st));
	st->proc = me;
	close(st->wake_fd[k]);
	st->wake_fd[k] = -1;
}

/* The bit of a slot whose process is gone is cleared by the next sender. */
static void
test_watch_stale_bit_cleared(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), b = add_user(st, "bob");
	int k = a_worker(st);

	st->users[b].watch |= 1ULL << k;
	state_proc_release(st, k);		/* reaped */
	send_ok(st, a, b, "to a dead watcher");
	assert_int_equal(st->users[b].watch, 0);
	assert_int_equal(wakes(st, k), 0);
	assert_int_equal(st->procs[k].watch_head, 0);
	close(st->wake_fd[k]);
	st->wake_fd[k] = -1;
}

/* watch_set_locked sets and clears this process's bit only. */
static void
test_watch_set(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t b = add_user(st, "bob");

	st->users[b].watch = 1ULL << 5;
	state_lock(st);
	assert_int_equal(watch_set_locked(st, b, true), 0);
	assert_int_equal(st->users[b].watch, 1ULL << 5 | 1ULL << st->proc);
	assert_int_equal(watch_set_locked(st, b, false), 0);
	assert_int_equal(st->users[b].watch, 1ULL << 5);
	assert_int_equal(watch_set_locked(st, 9999, true), -1);
	state_unlock(st);
	reopen(f);				/* start-up forgets every watch */
	assert_int_equal(f->st.users[b].watch, 0);
}

/* LEASE_ANY takes realm mail too; inbox_remove takes only what it names. */
static void
test_inbox_remove_some(void **state)
{
	struct fx *f = *state;
	struct state *st = &f->st;
	uint32_t a = add_user(st, "alice"), b = add_user(st, "bob"), idx[8];
	struct msg_new m = { .from = a, .to = b, .text = "far", .len = 3,
	    .kind = MSG_TEXT, .time = 1700000000, .realm = 1 };
	struct lease l = my_lease(st, 7), l2 = my_lease(st, 8);
	uint64_t id;
	char buf[256];
	bool more;
	size_t n;

	send_ok(st, a, b, "one");
	txn_begin(st);
	assert_int_equal(msg_enqueue(st, &m, 100, &id), 0);
	txn_commit(st);
	send_ok(st, a, b, "three");
	state_lock(st);
	n = inbox_lease_locked(st, b, LEASE_ANY, &l, idx, 8, UINT64_MAX, &more);
	state_unlock(st);
	assert_int_equal(n, 3);
	assert_false(more);
	assert_string_equal(leased_str(st, idx, n, buf, sizeof(buf)),
	    "one|far|three");

	assert_int_equal(inbox_remove(st, b, &l, &idx[1], 1, false), 1);
	assert_string_equal(inbox_str(st, b, buf, sizeof(buf)), "one|three");
	assert_int_equal(st->users[b].realm_count, 0);
	assert_int_equal(lease(st, b, &l2, idx + 4, 8, &more), 0);
	release(st, b, &l);
	assert_int_equal(lease(st, b, &l2, idx + 4, 8, &more), 2);
	/* a message of another lease is not removed */
	assert_int_equal(inbox_remove(st, b, &l, &idx[4], 1, false), 0);
	assert_int_equal(inbox_remove(st, b, &l2, &idx[4], 2, false), 2);
	assert_string_equal(inbox_str(st, b, buf, sizeof(buf)), "");
	check_ok(st);
}

int
main(void)
{
#define T(f)		cmocka_unit_test_setup_teardown(f, setup, teardown)
#define TC(f, c)	cmocka_unit_test_prestate_setup_teardown(f, setup, \
			    teardown, (void *)&(c))
	const struct CMUnitTest tests[] = {
		T(test_open_fresh),
		T(test_users),
		T(test_user_longest_name),
		T(test_sessions_basic),
		T(test_sessions_per_user_limit),
		T(test_session_table_full_and_expire),
		T(test_msg_fifo),
		T(test_watch_hint_wakes_once),
		T(test_watch_ring_overflow),
		T(test_watch_stale_bit_cleared),
		T(test_watch_set),
		T(test_inbox_remove_some),
		T(test_msg_quota),
		TC(test_msg_table_full, caps_msgs16),
		TC(test_heap_full, caps_heap4k),
		T(test_heap_alloc_release),
		T(test_inbox_lease_release_commit),
		T(test_inbox_commit_middle_and_tail),
		T(test_lease_lapses_with_generation),
		TC(test_inbox_commit_many, caps_many),
		T(test_lease_byte_limit),
		T(test_groups),
		T(test_files_and_spool),
		T(test_kept_files),
		T(test_kept_make_room),
		T(test_check_detects_damage),
		T(test_open_refuses_damaged_file),
		T(test_reopen_keeps_everything),
		T(test_open_larger_config_keeps_file),
		T(test_txn_rollback),
		T(test_txn_log_region_full),
		T(test_crash_in_transaction_recover_dead),
		T(test_crash_self_kill),
		T(test_crash_recovered_at_open),
		T(test_committed_child_survives),
		T(test_crash_at_random_moments),
		T(test_lock_excludes_and_wakes),
		T(test_lock_waiter_wakes_after_holder_dies),
		T(test_lock_counter_two_processes),
		T(test_realm_links_and_outbox),
		T(test_realm_received_and_refusals),
		T(test_remote_users_have_their_own_room),
		T(test_realm_names),
		T(test_remote_users_and_realm_inbox),
		T(test_realm_remove_moves_arrivals),
		T(test_realm_remove_frees_kept_arrivals),
		T(test_check_queue_shared_with_history),
	};
#undef T
#undef TC

	/* the state code logs notices (file created, rollbacks): keep quiet */
	log_init("unit_state", true, LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
