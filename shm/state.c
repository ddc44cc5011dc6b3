/*
 * NAME
 *	state - create, attach, verify and recover the state segment
 * DESCRIPTION
 *	state_open() maps state_dir/realmchat.state, creating it from the
 *	configured capacities when it does not exist (built under a temporary
 *	name and renamed, so a crash never leaves half a file).  An existing
 *	file must carry our magic, version and an intact layout, or it is
 *	refused with a message that says why.  The caller becomes the only
 *	user of the file (flock); its children inherit the descriptor and so
 *	the flock, so a second daemon cannot attach while any process of the
 *	first one lives.
 *
 *	The file's disk blocks are reserved when it is created and again at
 *	every open (posix_fallocate): a mapped page that the disk cannot
 *	back would kill its process with SIGBUS.  A disk too small is
 *	refused at start, with a message saying so.
 *
 *	Opening also recovers: a transaction left by a killed process is
 *	rolled back, the lock is re-made, and every lease of the previous run
 *	is voided by bumping the process generations.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <bsd/stdlib.h>

#include "lib/log.h"
#include "shm/state.h"

#define PAGE		4096
#define UNDO_MIN	(1u << 20)
#define UNDO_PER_MEMBER	512	/* undo bytes one recipient of a group send takes */
#define FLOCK_WAIT_MS	5000

static uint64_t
round_page(uint64_t n)
{
	return (n + PAGE - 1) & ~(uint64_t)(PAGE - 1);
}

static uint32_t
pow2_at_least(uint64_t n)
{
	uint32_t p = 16;

	while (p < n)
		p <<= 1;
	return p;
}

/* layout_sum - checksum of the layout fields, to catch a damaged header */
static uint64_t
layout_sum(const struct shm_header *h)
{
	uint32_t a = hash_str(0, (const char *)h,
	    offsetof(struct shm_header, layout_sum));
	uint32_t b = hash_str(1, (const char *)h->region, sizeof(h->region));

	return ((uint64_t)a << 32) | b;
}

/* plan_layout - place every region for the configured capacities */
static void
plan_layout(struct shm_header *h, const struct config *cf)
{
	struct {
		uint64_t count, elem;
	} want[RG_COUNT] = {
		[RG_UNDO] = { UNDO_MIN + cf->group_members * UNDO_PER_MEMBER, 1 },
		[RG_PROCS] = { SHM_PROCS, sizeof(struct shm_proc) },
		/* local users, and the room kept for remote ones */
		[RG_USERS] = { cf->max_users + cf->realm_users + 1,
		    sizeof(struct shm_user) },
		[RG_USER_HASH] = { pow2_at_least(cf->max_users), sizeof(uint32_t) },
		[RG_SESSIONS] = { cf->max_sessions + 1, sizeof(struct shm_session) },
		[RG_SESSION_HASH] = { pow2_at_least(cf->max_sessions), sizeof(uint32_t) },
		[RG_MSGS] = { cf->max_messages + 1, sizeof(struct shm_msg) },
		[RG_HEAP] = { cf->message_store, 1 },
		[RG_GROUPS] = { cf->max_groups + 1, sizeof(struct shm_group) },
		[RG_GROUP_HASH] = { pow2_at_least(cf->max_groups), sizeof(uint32_t) },
		[RG_MEMBERS] = { cf->max_memberships + 1, sizeof(struct shm_member) },
		[RG_FILES] = { cf->max_files + 1, sizeof(struct shm_file) },
		[RG_REALMS] = { REALMS_MAX + 1, sizeof(struct shm_realm) },
	};
	uint64_t off = round_page(sizeof(*h));

	memset(h, 0, sizeof(*h));
	memcpy(h->magic, SHM_MAGIC, sizeof(h->magic));
	h->version = SHM_VERSION;
	h->header_size = sizeof(*h);
	for (int i = 0; i < RG_COUNT; i++) {
		h->region[i].off = off;
		h->region[i].count = (uint32_t)want[i].count;
		h->region[i].elem = (uint32_t)want[i].elem;
		h->region[i].size = round_page(want[i].count * want[i].elem);
		off += h->region[i].size;
	}
	h->total_size = off;
	h->hash_key = ((uint64_t)arc4random() << 32) | arc4random();
	h->instance = ((uint64_t)arc4random() << 32) | arc4random();
	h->remote_cap = (uint32_t)cf->realm_users;
	h->created = now_sec();
	h->users.mask = h->region[RG_USER_HASH].count - 1;
	h->sessions.mask = h->region[RG_SESSION_HASH].count - 1;
	h->groups.mask = h->region[RG_GROUP_HASH].count - 1;
	h->heap_top = 1 << HEAP_MIN_SHIFT;	/* offset 0 means "none" */
	h->next_msg_id = 1;
	h->layout_sum = layout_sum(h);
}

/*
 * reserve_blocks - give the whole file its disk blocks now.  The file is
 * mapped: a page touched later on a full disk would be SIGBUS, not an
 * error anyone could answer.  -1 with err set if the disk cannot hold it.
 */
static int
reserve_blocks(int fd, const char *path, uint64_t size, char *err,
    size_t errlen)
{
	int rc = posix_fallocate(fd, 0, (off_t)size);

	if (rc == 0)
		return 0;
	if (rc == ENOSPC || rc == EFBIG)
		snprintf(err, errlen, "%s: the disk cannot hold the state file "
		    "(%llu MiB): lower the capacities or free space", path,
		    (unsigned long long)(size >> 20));
	else
		snprintf(err, errlen, "%s: reserving %llu MiB: %s", path,
		    (unsigned long long)(size >> 20), strerror(rc));
	return -1;
}

/* create_file - write a fresh state file under a temporary name, then rename */
static int
create_file(const char *path, const struct config *cf, char *err, size_t errlen)
{
	char tmp[PATH_MAX + 8];
	struct shm_header h;
	int fd;

	plan_layout(&h, cf);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if ((fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) == -1) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	if (reserve_blocks(fd, path, h.total_size, err, errlen) == -1) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (ftruncate(fd, (off_t)h.total_size) == -1 ||
	    pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    fsync(fd) == -1 || rename(tmp, path) == -1) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	log_notice("created state file %s (%llu MiB, %llu users, %llu messages)",
	    path, (unsigned long long)(h.total_size >> 20),
	    (unsigned long long)cf->max_users,
	    (unsigned long long)cf->max_messages);
	return 0;
}

/* take_flock - wait a little for a previous tree to finish exiting */
static int
take_flock(int fd, const char *path, char *err, size_t errlen)
{
	for (int waited = 0; flock(fd, LOCK_EX | LOCK_NB) == -1; waited += 100) {
		if (errno != EWOULDBLOCK || waited >= FLOCK_WAIT_MS) {
			snprintf(err, errlen, "%s: in use by another realmchatd", path);
			return -1;
		}
		usleep(100 * 1000);
	}
	return 0;
}

/* check_layout - the header describes a file we can read, of this size */
static int
check_layout(const struct shm_header *h, uint64_t fsize, char *err, size_t errlen)
{
	static const uint32_t elem[RG_COUNT] = {
		[RG_UNDO] = 1, [RG_PROCS] = sizeof(struct shm_proc),
		[RG_USERS] = sizeof(struct shm_user),
		[RG_USER_HASH] = sizeof(uint32_t),
		[RG_SESSIONS] = sizeof(struct shm_session),
		[RG_SESSION_HASH] = sizeof(uint32_t),
		[RG_MSGS] = sizeof(struct shm_msg), [RG_HEAP] = 1,
		[RG_GROUPS] = sizeof(struct shm_group),
		[RG_GROUP_HASH] = sizeof(uint32_t),
		[RG_MEMBERS] = sizeof(struct shm_member),
		[RG_FILES] = sizeof(struct shm_file),
		[RG_REALMS] = sizeof(struct shm_realm),
	};
	uint64_t end = round_page(sizeof(*h));

	if (memcmp(h->magic, SHM_MAGIC, sizeof(h->magic)) != 0) {
		snprintf(err, errlen, "not a realmchat state file (bad magic)");
		return -1;
	}
	if (h->version != SHM_VERSION) {
		snprintf(err, errlen, "state file has layout version %u; this "
		    "realmchatd reads version %u", h->version, SHM_VERSION);
		return -1;
	}
	if (h->header_size != sizeof(*h) || h->layout_sum != layout_sum(h)) {
		snprintf(err, errlen, "state file header is damaged");
		return -1;
	}
	if (h->total_size != fsize) {
		snprintf(err, errlen, "state file is %llu bytes, its header says "
		    "%llu (truncated?)", (unsigned long long)fsize,
		    (unsigned long long)h->total_size);
		return -1;
	}
	for (int i = 0; i < RG_COUNT; i++) {
		const struct shm_region *r = &h->region[i];
		if (r->off != end || r->elem != elem[i] ||
		    (uint64_t)r->count * r->elem > r->size ||
		    r->off + r->size > fsize || r->count < 2) {
			snprintf(err, errlen, "state file region %d is damaged", i);
			return -1;
		}
		end = r->off + r->size;
	}
	if (h->region[RG_PROCS].count != SHM_PROCS ||
	    h->region[RG_REALMS].count != REALMS_MAX + 1 ||
	    h->users.mask + 1 != h->region[RG_USER_HASH].count ||
	    h->sessions.mask + 1 != h->region[RG_SESSION_HASH].count ||
	    h->groups.mask + 1 != h->region[RG_GROUP_HASH].count) {
		snprintf(err, errlen, "state file tables are damaged");
		return -1;
	}
	return 0;
}

static void
set_pointers(struct state *st)
{
	struct shm_header *h = st->hdr;
#define AT(r)	((void *)(st->base + h->region[r].off))
	st->undo = AT(RG_UNDO);
	st->procs = AT(RG_PROCS);
	st->users = AT(RG_USERS);
	st->user_hash = AT(RG_USER_HASH);
	st->sessions = AT(RG_SESSIONS);
	st->session_hash = AT(RG_SESSION_HASH);
	st->msgs = AT(RG_MSGS);
	st->heap = AT(RG_HEAP);
	st->groups = AT(RG_GROUPS);
	st->group_hash = AT(RG_GROUP_HASH);
	st->members = AT(RG_MEMBERS);
	st->files = AT(RG_FILES);
	st->realms = AT(RG_REALMS);
#undef AT
}

/* recover - make the state whole after the previous run, however it ended */
static int
recover(struct state *st, char *err, size_t errlen)
{
	struct shm_header *h = st->hdr;

	if (h->undo_used != 0) {
		log_warn("rolling back a transaction cut off by the last stop");
		if (txn_rollback_locked(st) == -1) {
			snprintf(err, errlen, "state file undo log is damaged");
			return -1;
		}
	}
	state_lock_init(st);
	h->epoch++;
	for (int i = 0; i < SHM_PROCS; i++) {
		st->procs[i].pid = 0;
		st->procs[i].role = PROC_NONE;
		st->procs[i].conns = 0;
		st->procs[i].gen++;
	}
	watch_reset_locked(st);
	return 0;
}

/*
 * state_file - the state file's path in cf->state_dir, which is made if
 * need be, and the file too (create_file) when it is absent
 */
static int
state_file(const struct config *cf, char *path, size_t size, char *err,
    size_t errlen)
{
	if (mkdir_p(cf->state_dir, 0700) == -1) {
		snprintf(err, errlen, "%s: %s", cf->state_dir, strerror(errno));
		return -1;
	}
	if ((size_t)snprintf(path, size, "%s/%s", cf->state_dir,
	    SHM_FILE) >= size) {
		snprintf(err, errlen, "%s: path too long", cf->state_dir);
		return -1;
	}
	if (access(path, F_OK) == -1 && errno == ENOENT &&
	    create_file(path, cf, err, errlen) == -1)
		return -1;
	return 0;
}

/*
 * map_file - open the state file at path, lock it for this process tree,
 * reserve its blocks and map it shared into st; on -1, st->fd may be open
 */
static int
map_file(struct state *st, const char *path, char *err, size_t errlen)
{
	struct stat sb;
	void *p;

	if ((st->fd = open(path, O_RDWR | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (take_flock(st->fd, path, err, errlen) == -1)
		return -1;
	if (fstat(st->fd, &sb) == -1 || (size_t)sb.st_size < sizeof(struct shm_header)) {
		snprintf(err, errlen, "%s: state file is truncated", path);
		return -1;
	}
	st->size = (size_t)sb.st_size;
	/* a file made sparse by an older version gets its blocks too */
	if (reserve_blocks(st->fd, path, st->size, err, errlen) == -1)
		return -1;
	p = mmap(NULL, st->size, PROT_READ | PROT_WRITE, MAP_SHARED, st->fd, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "%s: mmap: %s", path, strerror(errno));
		return -1;
	}
	st->base = p;
	st->hdr = p;
	return 0;
}

/*
 * state_open - attach the state file of cf->state_dir, creating it if
 * absent; verify, recover, and claim it for this process tree.
 */
int
state_open(struct state *st, const struct config *cf, char *err, size_t errlen)
{
	char path[PATH_MAX];

	memset(st, 0, sizeof(*st));
	st->fd = -1;
	st->proc = -1;
	for (int i = 0; i < SHM_PROCS; i++)
		st->wake_fd[i] = -1;
	st->pid = (uint32_t)getpid();
	if (state_file(cf, path, sizeof(path), err, errlen) == -1)
		return -1;
	if (map_file(st, path, err, errlen) == -1)
		goto fail;
	if (check_layout(st->hdr, st->size, err, errlen) == -1)
		goto prefix;
	set_pointers(st);
	if (recover(st, err, errlen) == -1 || state_check(st, err, errlen) == -1)
		goto prefix;
	st->spool_reserve = cf->spool_reserve;
	if (spool_open(st, cf->state_dir, err, errlen) == -1)
		goto fail;
	return 0;
prefix:
	{
		char why[256];
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "%s: %s", path, why);
	}
fail:
	state_close(st);
	return -1;
}

/* state_close - unmap and drop the flock */
void
state_close(struct state *st)
{
	if (st->base != NULL)
		munmap(st->base, st->size);
	if (st->fd != -1)
		close(st->fd);
	for (int i = 0; i < SHM_PROCS; i++)
		if (st->wake_fd[i] != -1) {
			close(st->wake_fd[i]);
			st->wake_fd[i] = -1;
		}
	st->base = NULL;
	st->hdr = NULL;
	st->fd = -1;
}

/* state_set_proc - in a new child: take the process slot the master chose */
void
state_set_proc(struct state *st, int slot)
{
	st->pid = (uint32_t)getpid();
	st->proc = slot;
	__atomic_store_n(&st->procs[slot].pid, (int32_t)st->pid, __ATOMIC_RELEASE);
}

/*
 * state_proc_claim - master: reserve a process slot before a fork; the
 * parent and the child both write the child's pid into it afterwards.
 */
int
state_proc_claim(struct state *st, enum proc_role role)
{
	for (int i = 0; i < SHM_PROCS; i++) {
		struct shm_proc *p = &st->procs[i];
		if (p->pid == 0 && p->role == PROC_NONE) {
			uint32_t gen = p->gen;
			memset(p, 0, sizeof(*p));
			p->gen = gen;
			p->role = role;
			p->started = now_sec();
			return i;
		}
	}
	return -1;
}

/* state_proc_release - master: the slot's process is gone; void its leases */
void
state_proc_release(struct state *st, int slot)
{
	struct shm_proc *p = &st->procs[slot];

	__atomic_fetch_add(&p->gen, 1, __ATOMIC_SEQ_CST);
	p->pid = 0;
	p->conns = 0;
	p->role = PROC_NONE;
}

/*
 * state_proc_fold - add the counters of a process that ended into those
 * of another (the master's), so that totals outlive the processes.
 */
void
state_proc_fold(struct state *st, int into, int from)
{
	struct shm_proc *to = &st->procs[into], *p = &st->procs[from];

	to->accepted += p->accepted;
	to->requests += p->requests;
	to->bytes_in += p->bytes_in;
	to->bytes_out += p->bytes_out;
	to->stored += p->stored;
	to->delivered += p->delivered;
	for (int i = 0; i < STAT_COMMANDS; i++)
		to->commands[i] += p->commands[i];
	for (int i = 0; i < STAT_ERRORS; i++)
		to->errors[i] += p->errors[i];
}

/*
 * state_recover_dead - master, after reaping pid: if it died holding the
 * lock, roll back its transaction and free the lock.
 */
void
state_recover_dead(struct state *st, pid_t pid)
{
	if (__atomic_load_n(&st->hdr->lock.owner, __ATOMIC_SEQ_CST) !=
	    (uint32_t)pid)
		return;
	if (txn_rollback_locked(st) == -1) {
		log_err("process %d died in a transaction whose undo log is "
		    "damaged; stopping to protect the state", (int)pid);
		abort();
	}
	state_lock_force(st, pid);
	log_warn("process %d died holding the state lock: transaction "
	    "rolled back, lock recovered", (int)pid);
}
