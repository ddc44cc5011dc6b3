/*
 * NAME
 *	fuzz command - request lines through command_run() on a scratch state
 * DESCRIPTION
 *	The input is what one client sends on one connection: up to
 *	MAX_LINES lines, each split and answered by command_run() as a
 *	worker would, so that "register ..." binds a session and the lines
 *	after it act as that user.  Each line is handed over in a buffer of
 *	exactly its length.
 *
 *	Every reply is checked: nothing for an empty line or a realm
 *	handshake, else exactly one JSON object in pure ASCII with a "status"
 *	followed by CRLF CRLF.  Inbox replies are taken as written (their leases
 *	commit), as a worker does once the bytes are out.  After the input
 *	the state must pass state_check().
 *
 *	The state file lives in a mkdtemp() directory with small capacities.
 *	It starts with users messi, henderson and lineker (each logged in),
 *	group jarkom3 (messi's) and realm link beta, and is put back to that
 *	first image before every input (its spool emptied), so that each
 *	input runs alone and a crash replays from the one input that caused
 *	it.  Every input starts on a connection bound to messi's session; the
 *	words @messi, @henderson and @lineker in a line stand for the tokens
 *	of their sessions.  realmd is never reached: the channel is closed
 *	and not retried, so realm commands answer at once (queued or
 *	unreachable), as when realmd is down.
 */
#include <dirent.h>
#include <ftw.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "lib/link.h"
#include "lib/log.h"
#include "lib/reply.h"
#include "worker/worker.h"
#include "tests/fuzz/fuzz.h"

#define MAX_LINES	32

static char		 dir[64];
static struct config	 cf;
static struct state	 st;
static struct worker	 w;
static char		*pristine;	/* the state file as first made */
static bool		 verbose;	/* $FUZZ_VERBOSE: print lines and replies */

/* the users made at start, and their sessions' tokens */
static const char *const users[] = { "messi", "henderson", "lineker" };
static char		 tokens[3][TOKEN_STR_LEN + 1];
static uint8_t		 messi_tok[TOKEN_LEN];

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
cleanup(void)
{
	if (st.base != NULL)
		state_close(&st);
	if (dir[0] != '\0')
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* setup_line - run one line of the first image; its reply's token */
static void
setup_line(struct conn *c, const char *line, char token[TOKEN_STR_LEN + 1])
{
	struct buf out = { 0 };
	const char *t;
	cJSON *j;

	command_run(&w, c, &out, line, strlen(line));
	if ((j = cJSON_ParseWithLength(buf_head(&out), buf_used(&out))) == NULL ||
	    strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j,
	    "status")), "OK") != 0) {
		fprintf(stderr, "fuzz: setup: %s: %.*s\n", line,
		    (int)buf_used(&out), buf_head(&out));
		exit(1);
	}
	if (token != NULL) {
		t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j,
		    "tokenid"));
		if (t == NULL || strlen(t) != TOKEN_STR_LEN)
			exit(1);
		memcpy(token, t, TOKEN_STR_LEN + 1);
	}
	cJSON_Delete(j);
	buf_free(&out);
}

/* populate - users, their sessions, a group and a realm link */
static void
populate(void)
{
	struct conn c = { .fd = -1, .w = &w };
	char line[128];
	uint32_t r;

	for (size_t i = 0; i < ARRAY_LEN(users); i++) {
		snprintf(line, sizeof(line), "register %s pw%zu %s_FC Indonesia",
		    users[i], i, users[i]);
		setup_line(&c, line, tokens[i]);
	}
	snprintf(line, sizeof(line), "addgroup %s jarkom3", tokens[0]);
	setup_line(&c, line, NULL);
	snprintf(line, sizeof(line), "joingroup %s jarkom3", tokens[1]);
	setup_line(&c, line, NULL);
	txn_begin(&st);
	if (realm_insert(&st, "beta", "beta", "127.0.0.1", 8890, RF_DIALER,
	    &r) == -1) {
		perror("realm_insert");
		exit(1);
	}
	txn_commit(&st);
	if (token_parse(tokens[0], TOKEN_STR_LEN, messi_tok) == -1)
		exit(1);
}

/*
 * expand - line[0, len) with @messi, @henderson and @lineker replaced by
 * their tokens, in a buffer of exactly the resulting length
 */
static char *
expand(const uint8_t *line, size_t len, size_t *outlen)
{
	size_t n = 0;
	char *out = malloc(len * 6 + 1);	/* "@messi" (6) becomes 36 */

	if (out == NULL)
		abort();
	for (size_t i = 0; i < len; ) {
		size_t k;

		for (k = 0; k < ARRAY_LEN(users); k++) {
			size_t ul = strlen(users[k]);
			if (line[i] == '@' && len - i - 1 >= ul &&
			    memcmp(line + i + 1, users[k], ul) == 0) {
				memcpy(out + n, tokens[k], TOKEN_STR_LEN);
				n += TOKEN_STR_LEN;
				i += 1 + ul;
				break;
			}
		}
		if (k == ARRAY_LEN(users))
			out[n++] = (char)line[i++];
	}
	*outlen = n;
	return realloc(out, n > 0 ? n : 1);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[1024];
	int slot;

	verbose = getenv("FUZZ_VERBOSE") != NULL;
	log_init("fuzz", true, verbose ? LOG_DEBUG : LOG_CRIT);
	snprintf(dir, sizeof(dir), "/tmp/rc-fuzz-command.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	atexit(cleanup);
	config_defaults(&cf);
	snprintf(cf.state_dir, sizeof(cf.state_dir), "%s", dir);
	snprintf(cf.realm_name, sizeof(cf.realm_name), "fuzz");
	snprintf(cf.realm_secret, sizeof(cf.realm_secret), "secret");
	cf.password_cost = 1;
	cf.max_message = 1024;
	cf.max_file = 4096;
	cf.inbox_quota = 8;
	cf.inbox_batch = 4;
	cf.sessions_per_user = 2;
	cf.group_history = 4;
	cf.group_members = 4;
	cf.realm_queue = 4;
	cf.max_users = 16;
	cf.max_sessions = 16;
	cf.max_messages = 32;
	cf.message_store = 16 << 10;
	cf.max_groups = 16;
	cf.max_memberships = 16;
	cf.max_files = 16;
	cf.session_timeout = 1ULL << 32;	/* the first image's sessions */
	if (state_open(&st, &cf, err, sizeof(err)) == -1) {
		fprintf(stderr, "state_open: %s\n", err);
		exit(1);
	}
	if ((slot = state_proc_claim(&st, PROC_WORKER)) < 0) {
		fprintf(stderr, "no process slot\n");
		exit(1);
	}
	state_set_proc(&st, slot);

	command_init();
	w.cf = &cf;
	w.st = &st;
	w.me = &st.procs[slot];
	w.epfd = w.lfd = w.sigfd = -1;
	w.realmd.fd = -1;
	w.realmd.retry_at = UINT64_MAX;		/* never dial realmd */
	if ((w.msg_idx = calloc(cf.inbox_batch, sizeof(uint32_t))) == NULL) {
		perror("calloc");
		exit(1);
	}
	populate();
	if ((pristine = malloc(st.size)) == NULL) {
		perror("malloc");
		exit(1);
	}
	memcpy(pristine, st.base, st.size);
	return 0;
}

/* reset - the state file as it was made, with an empty spool */
static void
reset(void)
{
	struct dirent *de;
	DIR *d;

	memcpy(st.base, pristine, st.size);
	if ((d = opendir(st.spool)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char path[PATH_MAX + 300];

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", st.spool, de->d_name);
		unlink(path);
	}
	closedir(d);
}

/* check_reply - out[0, len) is what one line was answered with */
static void
check_reply(const struct request_line *rl, const char *out, size_t len)
{
	const char *end;
	cJSON *j;

	if (len == 0) {
		/* only an empty line or a realm handshake gets no answer */
		fuzz_assert(rl->nwords == 0 || word_is(&rl->w[0], LINK_COMMAND));
		return;
	}
	if (len < sizeof(REPLY_END) - 1 ||
	    memcmp(out + len - (sizeof(REPLY_END) - 1), REPLY_END,
	    sizeof(REPLY_END) - 1) != 0)
		fuzz_fail("reply does not end with CRLF CRLF: %.*s",
		    (int)(len > 200 ? 200 : len), out);
	len -= sizeof(REPLY_END) - 1;
	if (memchr(out, '\r', len) != NULL || memchr(out, '\n', len) != NULL)
		fuzz_fail("reply holds a line end: %.*s",
		    (int)(len > 200 ? 200 : len), out);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)out[i] >= 0x80)
			fuzz_fail("reply byte %zu is not ASCII: %.*s", i,
			    (int)(len > 200 ? 200 : len), out);
	j = cJSON_ParseWithLengthOpts(out, len, &end, false);
	if (j == NULL || end != out + len)
		fuzz_fail("reply is not one JSON value: %.*s",
		    (int)(len > 200 ? 200 : len), out);
	fuzz_assert(cJSON_IsObject(j));
	fuzz_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "status")));
	cJSON_Delete(j);
}

/* written - the client took every reply: commit the inbox leases */
static void
written(struct conn *c)
{
	struct pending *p;

	c->written = c->queued;
	while ((p = c->pending) != NULL) {
		fuzz_assert(p->until <= c->written);
		fuzz_assert(inbox_commit(&st, p->user, &p->lease, true) != -1);
		c->pending = p->next;
		free(p);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct conn c = { .fd = -1, .w = &w };
	struct buf out = { 0 };
	char err[1024];
	int lines = 0;

	reset();
	session_bind(&c, messi_tok);
	while (p < end && lines++ < MAX_LINES) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		struct request_line rl;
		const char *reply;
		size_t rlen;
		char *line = expand(p, n, &n);

		if (line == NULL)
			abort();
		p = nl != NULL ? nl + 1 : end;
		/* conn.c drops the CR of a CRLF before command_run */
		if (n > 0 && line[n - 1] == '\r')
			n--;
		buf_reset(&out);
		command_run(&w, &c, &out, line, n);
		rlen = buf_used(&out);
		reply = rlen > 0 ? buf_head(&out) : "";
		c.queued += rlen;
		for (struct pending *q = c.pending; q != NULL; q = q->next)
			if (q->until == UINT64_MAX)
				q->until = c.queued;
		if (verbose)
			fprintf(stderr, "> %.*s\n< %.*s", (int)n, line, (int)rlen,
			    reply);
		request_split(line, n, &rl);
		check_reply(&rl, reply, rlen);
		free(line);
		written(&c);
		fuzz_assert(__atomic_load_n(&st.hdr->lock.owner,
		    __ATOMIC_RELAXED) == 0);
		/* a realm handshake, or a wait on realmd: nothing more is read */
		fuzz_assert(c.wait_for == 0);
		if (c.handoff != NULL)
			break;
	}
	buf_free(&out);
	free(c.handoff);
	watch_close(&c);		/* a watch ends with its connection */
	if (state_check(&st, err, sizeof(err)) == -1)
		fuzz_fail("state_check: %s", err);
	return 0;
}
