/*
 * NAME
 *	it_fault - a worker killed holding the state lock; damaged state files
 * DESCRIPTION
 *	Lock holder killed: with debug_hooks = yes, "debuglocksleep" makes
 *	the next change of a connection sleep inside the lock with its
 *	transaction open (a group send: history entry and two inbox copies).
 *	The worker is killed -9 while the state file says it owns the lock;
 *	the master rolls back and frees the lock (its log says so), a client
 *	that was blocked meanwhile is answered, the daemon restarts on the
 *	state (which state_check() verifies at start) and the tables hold
 *	exactly the committed changes.  Without debug_hooks the command is
 *	unknown.
 *
 *	Damaged state files, beyond what it_process covers (half the file
 *	cut off, its first 4 KiB overwritten): a file one page short, a
 *	flipped byte in the header's region table, a realm link record
 *	without its terminator, a link's outbox chain that loops or points
 *	at a free slot, an inbox chain that loops, a message whose text lies
 *	outside the heap, a chain of kept files that loops, a damaged undo
 *	log left by a dead writer.  Each is
 *	refused at start with a non-zero exit and a message that says what
 *	is wrong; the daemon never answers a client.  The undamaged copy
 *	then starts and delivers what was queued.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm/shm.h"

/* small tables, so that a state file is a few MiB and can be copied */
#define SMALL_STATE	"max_users = 64\nmax_sessions = 64\nmax_messages = 256\n" \
			"message_store = 1M\nmax_groups = 16\nmax_memberships = 64\n" \
			"max_files = 16\ngroup_members = 16\n"

/* ok_cmd - a command that must succeed */
static void
ok_cmd(struct client *c, const char *line)
{
	cJSON *r = client_cmd(c, "%s", line);

	assert_reply_ok(r);
	cJSON_Delete(r);
}

/* state_path - the daemon's state file */
static void
state_path(struct daemon *d, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s/state/" SHM_FILE, daemon_dir(d));
}

/* lock_owner - the pid in the lock's owner word, read from the file */
static pid_t
lock_owner(struct daemon *d)
{
	char path[1100];
	uint32_t owner = 0;
	int fd;

	state_path(d, path, sizeof(path));
	assert_true((fd = open(path, O_RDONLY)) != -1);
	assert_int_equal(pread(fd, &owner, sizeof(owner),
	    offsetof(struct shm_header, lock) + offsetof(struct shm_lock,
	    owner)), (ssize_t)sizeof(owner));
	close(fd);
	return (pid_t)owner;
}

/* texts - the "msg" of every entry of an inbox or history, joined by | */
static char *
texts(const cJSON *entries)
{
	static char buf[1024];
	const cJSON *e;
	size_t o = 0;

	buf[0] = '\0';
	cJSON_ArrayForEach(e, entries)
		o += snprintf(buf + o, sizeof(buf) - o, "%s%s", o ? "|" : "",
		    json_string(e, "msg"));
	return buf;
}

/* inbox_texts - the messages waiting for user, drained, as texts() */
static char *
inbox_texts(struct daemon *d, const char *user)
{
	struct client *c = client_login(d, user);
	cJSON *all = client_inbox_all(c, 10), *list = cJSON_CreateArray(), *s,
	    *e;
	char *t;

	cJSON_ArrayForEach(s, all)
		cJSON_ArrayForEach(e, s)
			cJSON_AddItemToArray(list, cJSON_Duplicate(e, true));
	t = texts(list);
	cJSON_Delete(list);
	cJSON_Delete(all);
	client_close(c);
	return t;
}

/* history_texts - the history of group crew, as texts() */
static char *
history_texts(struct daemon *d)
{
	struct client *c = client_login(d, "messi");
	cJSON *r = client_cmd(c, "inboxgroup crew");
	char *t;

	assert_reply_ok(r);
	t = texts(cJSON_GetObjectItemCaseSensitive(r, "messages"));
	cJSON_Delete(r);
	client_close(c);
	return t;
}

static void
test_debug_command_unknown_by_default(void **state)
{
	struct daemon *d = *state;
	struct client *c = client_login(d, "messi");
	cJSON *r = client_cmd(c, "debuglocksleep 1000");

	assert_reply_error(r, "BAD_COMMAND");
	cJSON_Delete(r);
	ok_cmd(c, "send henderson still fine");
}

/* wait_owner - within 5 s the state file says pid holds the lock */
static void
wait_owner(struct daemon *d, pid_t pid)
{
	double end = now_s() + 5.0;

	while (lock_owner(d) != pid) {
		if (now_s() > end)
			fail_msg("worker %d did not take the lock within 5 s "
			    "(owner %d)", (int)pid, (int)lock_owner(d));
		sleep_ms(5);
	}
}

/* reply_ok_quiet - the next reply on c (read through a probe line) is OK */
static bool
reply_ok_quiet(struct client *c, int timeout_ms)
{
	cJSON *r = NULL;
	bool ok = client_try_cmd(c, "whoami", &r, timeout_ms) == 0 &&
	    strcmp(json_string(r, "status"), "OK") == 0;

	cJSON_Delete(r);
	return ok;
}

/*
 * blocked_send - c sent "auth lineker" and "send henderson during" while
 * the lock was held: the seconds from kill_at until the send is OK.  If
 * c died with the killed worker (its lines were never run), they are
 * sent again on a new connection.
 */
static double
blocked_send(struct daemon *d, struct client *c, double kill_at)
{
	double end = kill_at + 10.0;

	/* replies come in order; each probe line reads the one before it */
	while (!reply_ok_quiet(c, 10000) || !reply_ok_quiet(c, 10000)) {
		client_close(c);
		if (now_s() > end)
			fail_msg("no OK for a send within 10 s of the kill");
		sleep_ms(20);
		if ((c = client_try_connect(daemon_port(d))) == NULL)
			continue;
		client_send(c, "auth lineker " SEED_PASSWORD "\r\n"
		    "send henderson during\r\n");
	}
	client_close(c);
	return now_s() - kill_at;
}

static void
test_lock_holder_killed(void **state)
{
	struct daemon *d = *state;
	struct client *m = client_login(d, "messi"), *l, *h;
	char want[160], *log;
	cJSON *r;
	pid_t pid;
	double kill_at, waited;

	ok_cmd(m, "addgroup crew");
	h = client_login(d, "henderson");
	ok_cmd(h, "joingroup crew");
	l = client_login(d, "lineker");
	ok_cmd(l, "joingroup crew");
	ok_cmd(m, "sendgroup crew before");

	r = client_cmd(m, "debuglocksleep 30000");
	assert_reply_ok(r);
	pid = (pid_t)cJSON_GetObjectItemCaseSensitive(r, "pid")->valuedouble;
	cJSON_Delete(r);
	client_send(m, "sendgroup crew doomed\r\n");
	wait_owner(d, pid);
	/* a client of either worker now waits for the lock */
	client_close(l);
	assert_non_null(l = client_try_connect(daemon_port(d)));
	client_send(l, "auth lineker " SEED_PASSWORD "\r\n"
	    "send henderson during\r\n");
	sleep_ms(300);
	assert_int_equal(lock_owner(d), pid);

	kill_at = now_s();
	assert_int_equal(kill(pid, SIGKILL), 0);
	waited = blocked_send(d, l, kill_at);
	client_expect_eof(m, 5000);	/* the doomed send got no reply */
	client_close(m);
	print_message("# lock holder %d killed: a blocked client was served "
	    "%.3f s after the kill\n", (int)pid, waited);
	assert_true(waited < 3.0);
	assert_int_equal(lock_owner(d), 0);

	snprintf(want, sizeof(want), "process %d died holding the state lock: "
	    "transaction rolled back, lock recovered", (int)pid);
	log = daemon_log_text(d);
	if (strstr(log, want) == NULL)
		fail_msg("no \"%s\" in the log", want);
	free(log);
	assert_string_equal(history_texts(d), "before");

	/* a start verifies the whole state (state_check) before serving */
	daemon_restart(d);
	assert_string_equal(history_texts(d), "before");
	assert_string_equal(inbox_texts(d, "henderson"), "before|during");
	assert_string_equal(inbox_texts(d, "lineker"), "before");
	assert_string_equal(inbox_texts(d, "messi"), "");
	client_close(h);
}

static int
setup_hooks(void **state)
{
	*state = daemon_start("debug_hooks = yes\n");
	return 0;
}

/* ---------------------------------------------------------------- */
/* Damaged state files                                               */
/* ---------------------------------------------------------------- */

/* The image of a good state file, and where things are in it. */
struct image {
	struct daemon	*alpha;
	char		 path[1100];
	char		*good;
	size_t		 size;
};

/* map - the state file of img, mapped for writing */
static struct shm_header *
map(struct image *img, int *fd)
{
	void *p;

	assert_true((*fd = open(img->path, O_RDWR)) != -1);
	p = mmap(NULL, img->size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	assert_true(p != MAP_FAILED);
	return p;
}

static void
unmap(struct image *img, struct shm_header *h, int fd)
{
	assert_int_equal(msync(h, img->size, MS_SYNC), 0);
	munmap(h, img->size);
	close(fd);
}

/* restore - put the good image back */
static void
restore(struct image *img)
{
	int fd = open(img->path, O_WRONLY | O_TRUNC);

	assert_true(fd != -1);
	assert_int_equal(write(fd, img->good, img->size), (ssize_t)img->size);
	close(fd);
}

#define REGION(h, r)	((char *)(h) + (h)->region[r].off)

/* first_realm - the first used link of the state */
static struct shm_realm *
first_realm(struct shm_header *h)
{
	struct shm_realm *rl = (struct shm_realm *)(void *)REGION(h, RG_REALMS);

	for (uint32_t i = 1; i <= h->realms.hwm; i++)
		if (rl[i].state == SLOT_USED)
			return &rl[i];
	fail_msg("no realm link in the state");
	return NULL;
}

/* user_named - the user record of name */
static struct shm_user *
user_named(struct shm_header *h, const char *name)
{
	struct shm_user *u = (struct shm_user *)(void *)REGION(h, RG_USERS);

	for (uint32_t i = 1; i <= h->users.hwm; i++)
		if (u[i].state == SLOT_USED && strcmp(u[i].name, name) == 0)
			return &u[i];
	fail_msg("no user %s in the state", name);
	return NULL;
}

static struct shm_msg *
msg(struct shm_header *h, uint32_t i)
{
	return (struct shm_msg *)(void *)REGION(h, RG_MSGS) + i;
}

/* free_msg - a free message slot */
static uint32_t
free_msg(struct shm_header *h)
{
	for (uint32_t i = 1; i < h->region[RG_MSGS].count; i++)
		if (msg(h, i)->state == SLOT_FREE)
			return i;
	fail_msg("no free message slot");
	return 0;
}

enum damage {
	D_SHORT, D_REGION_BYTE, D_REALM_RECORD, D_OUTBOX_LOOP, D_OUTBOX_FREE,
	D_INBOX_LOOP, D_TEXT_OUTSIDE, D_KEPT_LOOP, D_UNDO, D_COUNT
};

static const struct {
	const char	*what;
	const char	*says;		/* in the daemon's refusal */
} damages[D_COUNT] = {
	[D_SHORT] = { "one page short", "(truncated?)" },
	[D_REGION_BYTE] = { "a byte flipped in the region table",
	    "state file header is damaged" },
	[D_REALM_RECORD] = { "a realm link name without its terminator",
	    "has a damaged record" },
	[D_OUTBOX_LOOP] = { "an outbox chain that loops",
	    "queue of realm beta is damaged" },
	[D_OUTBOX_FREE] = { "an outbox chain into a free slot",
	    "queue of realm beta is damaged" },
	[D_INBOX_LOOP] = { "an inbox chain that loops",
	    "inbox of user henderson is damaged" },
	[D_TEXT_OUTSIDE] = { "message text outside the heap",
	    "inbox of user henderson is damaged" },
	[D_KEPT_LOOP] = { "a chain of kept files that loops",
	    "kept files are damaged" },
	[D_UNDO] = { "a damaged undo log left by a dead writer",
	    "undo log damaged" },
};

/* apply - one kind of damage to the state file */
static void
apply(struct image *img, enum damage dm)
{
	struct shm_header *h;
	struct shm_realm *rl;
	struct shm_user *u;
	int fd;

	if (dm == D_SHORT) {
		assert_int_equal(truncate(img->path, (off_t)img->size - 4096), 0);
		return;
	}
	h = map(img, &fd);
	rl = first_realm(h);
	u = user_named(h, "henderson");
	switch (dm) {
	case D_REGION_BYTE:
		((unsigned char *)&h->region[RG_MSGS].off)[1] ^= 0x10;
		break;
	case D_REALM_RECORD:
		memset(rl->name, 'x', sizeof(rl->name));
		break;
	case D_OUTBOX_LOOP:
		assert_true(rl->out_count >= 2);
		msg(h, rl->out_tail)->next = rl->out_head;
		break;
	case D_OUTBOX_FREE:
		rl->out_head = free_msg(h);
		break;
	case D_INBOX_LOOP:
		assert_true(u->inbox_count >= 2);
		msg(h, u->inbox_tail)->next = u->inbox_head;
		break;
	case D_TEXT_OUTSIDE:
		msg(h, u->inbox_head)->text = h->region[RG_HEAP].size + 4096;
		break;
	case D_KEPT_LOOP:
		assert_true(h->kept_count >= 2);
		msg(h, h->kept_tail)->next = h->kept_head;
		break;
	case D_UNDO: {
		uint64_t *rec = (uint64_t *)(void *)REGION(h, RG_UNDO);

		rec[0] = img->size * 2;		/* an offset past the file */
		rec[1] = 8;
		h->undo_used = 64;
		h->lock.owner = 999999;		/* a writer long dead */
		break;
	}
	default:
		abort();
	}
	unmap(img, h, fd);
}

/* refused - the daemon does not start on the file and says why */
static void
refused(struct image *img, enum damage dm)
{
	char *before = daemon_log_text(img->alpha), *after, *said;
	int st;

	if (daemon_try_launch(img->alpha, &st) == 0) {
		daemon_kill9_tree(img->alpha);
		fail_msg("%s: the daemon started and answered",
		    damages[dm].what);
	}
	if (!WIFEXITED(st))
		fail_msg("%s: the daemon died of signal %d instead of "
		    "refusing", damages[dm].what, WTERMSIG(st));
	assert_int_not_equal(WEXITSTATUS(st), 0);
	after = daemon_log_text(img->alpha);
	said = after + strlen(before);
	if (strstr(said, damages[dm].says) == NULL ||
	    strstr(said, img->path) == NULL)
		fail_msg("%s: expected a refusal naming %s and saying \"%s\"; "
		    "the log says: %s", damages[dm].what, img->path,
		    damages[dm].says, said);
	{
		char *nl = strstr(said, damages[dm].says);

		while (nl > said && nl[-1] != '\n')
			nl--;
		print_message("# %s: exit %d, \"%.*s\"\n", damages[dm].what,
		    WEXITSTATUS(st), (int)strcspn(nl, "\n"), nl);
	}
	free(before);
	free(after);
}

/* make_image - alpha linked to beta, beta stopped, two sends queued */
static void
make_image(struct image *img, struct daemon *beta)
{
	struct client *c;
	struct stat sb;
	char line[128];
	int fd;

	c = client_login(img->alpha, "messi");
	snprintf(line, sizeof(line), "addrealm beta 127.0.0.1 %d",
	    daemon_port(beta));
	ok_cmd(c, line);
	daemon_stop(beta);
	ok_cmd(c, "sendrealm beta henderson queued one");
	ok_cmd(c, "sendrealm beta henderson queued two");
	ok_cmd(c, "send henderson local one");
	ok_cmd(c, "send henderson local two");
	ok_cmd(c, "sendfile lineker one.txt b25l");
	ok_cmd(c, "sendfile lineker two.txt dHdv");
	client_close(c);
	c = client_login(img->alpha, "lineker"); /* two files shown, kept */
	ok_cmd(c, "inbox");
	ok_cmd(c, "whoami");
	client_close(c);
	daemon_stop(img->alpha);
	state_path(img->alpha, img->path, sizeof(img->path));
	assert_int_equal(stat(img->path, &sb), 0);
	img->size = (size_t)sb.st_size;
	img->good = malloc(img->size);
	assert_true((fd = open(img->path, O_RDONLY)) != -1);
	assert_int_equal(read(fd, img->good, img->size), (ssize_t)img->size);
	close(fd);
}

static void
test_damaged_state_files_refused(void **state)
{
	struct daemon *beta = daemon_start("realm_name = beta\nrealm_secret = s\n"
	    "realm_backoff_max = 1\n");
	struct image img = { 0 };
	struct client *c;
	char *log;
	double end;

	(void)state;
	img.alpha = daemon_start("realm_name = alpha\nrealm_secret = s\n"
	    "realm_backoff_max = 1\n" SMALL_STATE);
	for (end = now_s() + 5.0;; sleep_ms(20)) {
		bool up;

		log = daemon_log_text(beta);
		up = strstr(log, "serving realm beta") != NULL;
		free(log);
		if (up)
			break;
		if (now_s() > end)
			fail_msg("beta's realmd not serving within 5 s");
	}
	make_image(&img, beta);
	printf("# state file of %zu bytes\n", img.size);
	for (int dm = 0; dm < D_COUNT; dm++) {
		restore(&img);
		apply(&img, (enum damage)dm);
		refused(&img, (enum damage)dm);
	}

	/* the good image serves, and what it queued reaches beta once */
	restore(&img);
	daemon_launch(img.alpha);
	daemon_launch(beta);
	c = client_login(beta, "henderson");
	for (end = now_s() + 10.0;; sleep_ms(100)) {
		cJSON *r = client_cmd(c, "inboxrealm alpha"), *e;
		static char got[256];

		assert_reply_ok(r);
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r,
		    "messages"))
			snprintf(got + strlen(got), sizeof(got) - strlen(got),
			    "%s%s", *got ? "|" : "", json_string(e, "msg"));
		cJSON_Delete(r);
		if (strcmp(got, "queued one|queued two") == 0)
			break;
		if (now_s() > end)
			fail_msg("beta got \"%s\" within 10 s", got);
	}
	client_close(c);
	assert_string_equal(inbox_texts(img.alpha, "henderson"),
	    "local one|local two");
	free(img.good);
	daemon_destroy(img.alpha);
	daemon_destroy(beta);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_debug_command_unknown_by_default, it_setup,
		    it_teardown),
		cmocka_unit_test_setup_teardown(test_lock_holder_killed,
		    setup_hooks, it_teardown),
		cmocka_unit_test(test_damaged_state_files_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
