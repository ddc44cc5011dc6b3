/*
 * NAME
 *	command - the command table and the one place requests are checked
 * DESCRIPTION
 *	command_run() splits a line, finds the command by name or alias
 *	(case-insensitive), takes a UUID-shaped first argument as the
 *	session token, checks the argument count, resolves the session, and
 *	only then calls the handler, which sees a request that is already
 *	well-formed.
 */
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <strings.h>
#include <unistd.h>

#include "lib/link.h"
#include "worker/worker.h"

#define S	CMD_SESSION
#define T	CMD_TEXT
#define A	CMD_ADDR
#define N	CMD_ANON
#define H	CMD_SHORT
#define F	CMD_FROM

static const struct command commands[] = {	/* named in shm/counters.c */
	{ "auth", { NULL }, 2, 2, 0, cmd_auth },
	{ "register", { NULL }, 2, 4, 0, cmd_register },
	{ "logout", { NULL }, 0, 0, S, cmd_logout },
	{ "send", { "sendprivate" }, 2, 2, S | T, cmd_send },
	{ "inbox", { NULL }, 0, 0, S, cmd_inbox },
	{ "watch", { NULL }, 0, 1, S, cmd_watch },
	{ "info", { "login_info", "logininfo" }, 0, 0, S, cmd_info },
	{ "whoami", { "sessioncheck" }, 0, 0, S, cmd_whoami },
	{ "addgroup", { "creategroup" }, 1, 2, S, cmd_addgroup },
	{ "joingroup", { NULL }, 1, 2, S, cmd_joingroup },
	{ "leavegroup", { NULL }, 1, 1, S, cmd_leavegroup },
	{ "sendgroup", { NULL }, 2, 2, S | T | H, cmd_sendgroup },
	{ "inboxgroup", { NULL }, 1, 1, S, cmd_inboxgroup },
	{ "listgroups", { "getgroups" }, 0, 0, S, cmd_listgroups },
	{ "groupmembers", { "listmembers" }, 1, 1, S, cmd_groupmembers },
	{ "sendfile", { "sendprivatefile" }, 3, 3, S | T | H, cmd_sendfile },
	{ "sendgroupfile", { NULL }, 3, 3, S | T | H, cmd_sendgroupfile },
	{ "downloadfile", { "getfile" }, 1, 2, S, cmd_downloadfile },
	{ "downloadgroupfile", { NULL }, 2, 3, S, cmd_downloadgroupfile },
	{ "downloadrealmfile", { NULL }, 2, 3, S, cmd_downloadrealmfile },
	{ "downloadgrouprealmfile", { NULL }, 3, 4, S,
	    cmd_downloadgrouprealmfile },
	{ "addrealm", { NULL }, 3, 5, S | N, cmd_addrealm },
	{ "listrealm", { "connectedrealm", "getrealms", "checkrealm" }, 0, 0, S,
	    cmd_listrealm },
	{ "ackrealm", { NULL }, 1, 5, S, cmd_ackrealm },
	{ "sendrealm", { "sendprivaterealm" }, 3, 3, S | T | A | F, cmd_sendrealm },
	{ "sendfilerealm", { "sendprivatefilerealm", "sendrealmfile" }, 4, 4,
	    S | T | A | H, cmd_sendfilerealm },
	{ "sendgrouprealm", { NULL }, 3, 3, S | T | A | H, cmd_sendgrouprealm },
	{ "sendgroupfilerealm", { "sendgrouprealmfile" }, 4, 4, S | T | A | H,
	    cmd_sendgroupfilerealm },
	{ "inboxrealm", { "getrealminbox" }, 1, 1, S, cmd_inboxrealm },
	{ "joingrouprealm", { NULL }, 2, 3, S, cmd_joingrouprealm },
	{ "inboxgrouprealm", { NULL }, 2, 2, S, cmd_inboxgrouprealm },
	{ LINK_COMMAND, { NULL }, 1, 1, T, cmd_realmlink },
};

#undef S
#undef T
#undef A
#undef N
#undef H
#undef F

static void cmd_debuglocksleep(struct request *);

/*
 * Commands for tests, known only with debug_hooks = yes (otherwise they
 * are BAD_COMMAND like any unknown word) and never counted.
 */
static const struct command debug_commands[] = {
	{ "debuglocksleep", { NULL }, 1, 1, CMD_DEBUG, cmd_debuglocksleep },
};

/* "group <word> ...": the word names a command of the table above. */
static const struct {
	const char	*word;
	const char	*command;
} group_words[] = {
	{ "add", "addgroup" }, { "create", "addgroup" },
	{ "join", "joingroup" }, { "leave", "leavegroup" },
	{ "send", "sendgroup" }, { "inbox", "inboxgroup" },
	{ "get", "listgroups" }, { "list", "listgroups" },
	{ "members", "groupmembers" },
};

_Static_assert(ARRAY_LEN(commands) == COUNTED_COMMANDS,
    "shm/counters.c names every counted command");
_Static_assert(E_COUNT <= STAT_ERRORS, "too many error codes to count");

/* One entry per name or alias, sorted, for bsearch. */
struct name_entry {
	const char		*name;
	const struct command	*cmd;
};

static struct name_entry names[ARRAY_LEN(commands) * 5];
static size_t nnames;

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct name_entry *)a)->name,
	    ((const struct name_entry *)b)->name);
}

/* command_init - index every name and alias */
void
command_init(void)
{
	nnames = 0;
	for (size_t i = 0; i < ARRAY_LEN(commands); i++) {
		names[nnames].name = commands[i].name;
		names[nnames++].cmd = &commands[i];
		for (size_t j = 0; j < ARRAY_LEN(commands[i].aliases) &&
		    commands[i].aliases[j] != NULL; j++) {
			names[nnames].name = commands[i].aliases[j];
			names[nnames++].cmd = &commands[i];
		}
	}
	qsort(names, nnames, sizeof(names[0]), name_cmp);
}

static const struct command *
lookup_name(const char *lower)
{
	struct name_entry key = { lower, NULL }, *e;

	e = bsearch(&key, names, nnames, sizeof(names[0]), name_cmp);
	return e ? e->cmd : NULL;
}

/*
 * lookup - the command named by the first word(s) of rl, or NULL;
 * *first is set to the index of its first argument.
 */
static const struct command *
lookup(const struct request_line *rl, int *first)
{
	char lower[32];
	const struct word *w = &rl->w[0];

	*first = 1;
	if (w->len >= sizeof(lower))
		return NULL;
	for (size_t i = 0; i < w->len; i++)
		lower[i] = (char)(w->p[i] >= 'A' && w->p[i] <= 'Z' ?
		    w->p[i] + 32 : w->p[i]);
	lower[w->len] = '\0';
	if (strcmp(lower, "group") != 0)
		return lookup_name(lower);
	if (rl->nwords < 2)
		return NULL;
	*first = 2;
	for (size_t i = 0; i < ARRAY_LEN(group_words); i++)
		if (word_is(&rl->w[1], group_words[i].word))
			return lookup_name(group_words[i].command);
	return NULL;
}

/* lookup_debug - a debug command by its exact lower-case name, or NULL */
static const struct command *
lookup_debug(const struct worker *w, const struct request_line *rl)
{
	if (!w->cf->debug_hooks)
		return NULL;
	for (size_t i = 0; i < ARRAY_LEN(debug_commands); i++)
		if (word_is(&rl->w[0], debug_commands[i].name))
			return &debug_commands[i];
	return NULL;
}

/*
 * cmd_debuglocksleep - "debuglocksleep <ms>": the next request on this
 * connection that changes the state sleeps ms inside the lock before it
 * commits.  The reply names the worker's pid, for the test to kill.
 */
static void
cmd_debuglocksleep(struct request *rq)
{
	char num[16], *end;
	unsigned long ms;
	cJSON *o;

	if (arg_copy(&rq->args[0], num, sizeof(num)) == -1 ||
	    (ms = strtoul(num, &end, 10)) == 0 || *end != '\0' ||
	    ms > 600000) {
		reply_error(rq->out, E_BAD_ARGS, NULL);
		return;
	}
	rq->c->debug_lock_sleep = (uint32_t)ms;
	o = reply_ok("next change sleeps inside the lock");
	cJSON_AddNumberToObject(o, "pid", (double)getpid());
	cJSON_AddNumberToObject(o, "ms", (double)ms);
	reply_finish(rq->out, o);
}

/* arg_copy - a word as a C string; -1 if it does not fit */
int
arg_copy(const struct word *w, char *dst, size_t size)
{
	if (w->len >= size)
		return -1;
	memcpy(dst, w->p, w->len);
	dst[w->len] = '\0';
	return 0;
}

/* session_bind - later requests on this connection use this session */
void
session_bind(struct conn *c, const uint8_t tok[TOKEN_LEN])
{
	memcpy(c->token, tok, TOKEN_LEN);
	c->has_token = true;
}

/* session_resolve - live session of a token (and its user), 0 if none */
uint32_t
session_resolve(struct worker *w, const uint8_t tok[TOKEN_LEN], uint32_t *user)
{
	uint32_t s;

	state_lock(w->st);
	s = session_find_locked(w->st, tok, now_sec(), w->cf->session_timeout);
	if (s != 0)
		*user = w->st->sessions[s].user;
	state_unlock(w->st);
	return s;
}

/*
 * client_addr_first - "<their ip> <their port> <tokenid> ...": the words
 * at first are the client's own address.  All three must look the part,
 * so that a UUID in a message's text is never taken for a token.
 */
static bool
client_addr_first(const struct request_line *rl, int first)
{
	return rl->nwords > first + 2 &&
	    token_shaped(rl->w[first + 2].p, rl->w[first + 2].len) &&
	    addr_shaped(&rl->w[first]) && port_shaped(&rl->w[first + 1]);
}

/* nul_free - no argument holds a NUL byte (the text is checked apart) */
static bool
nul_free(const struct request *rq)
{
	for (int i = 0; i < rq->nargs; i++)
		if (memchr(rq->args[i].p, '\0', rq->args[i].len) != NULL)
			return false;
	return true;
}

/*
 * arity_ok - argument count against the table; sets the text argument.
 * A command that takes no argument ignores any words after its name (and
 * after a token, which command_run has taken already).
 */
static bool
arity_ok(const struct command *cmd, const struct request_line *rl, int first,
    struct request *rq)
{
	int n = rl->nwords - first;

	if (cmd->flags & CMD_TEXT) {
		int fixed = cmd->max_args - 1;
		if ((cmd->flags & CMD_SHORT) && n == cmd->max_args - 1 && n >= 1)
			fixed--;		/* the handler reads it */
		else if (n < cmd->max_args)
			return false;
		rq->textlen = request_rest(rl, first + fixed, &rq->text);
		rq->nargs = fixed;
		return true;
	}
	if (cmd->max_args == 0) {
		/* clients send "info {} ", an unfilled format string */
		rq->nargs = 0;
		return true;
	}
	rq->nargs = n;
	return !rl->more && n >= cmd->min_args && n <= cmd->max_args;
}

/*
 * session_needed - resolve the session of a request; false after the
 * NO_SESSION reply.  A CMD_ANON command without any token runs with
 * session 0.
 */
static bool
session_needed(struct worker *w, struct conn *c, const struct command *cmd,
    bool token_arg, struct request *rq)
{
	if (!token_arg && !c->has_token && (cmd->flags & CMD_ANON))
		return true;
	if ((!token_arg && !c->has_token) ||
	    (rq->session = session_resolve(w, rq->token, &rq->user)) == 0) {
		reply_error(rq->out, E_NO_SESSION, NULL);
		return false;
	}
	return true;
}

/* command_run - answer one request line into out */
void
command_run(struct worker *w, struct conn *c, struct buf *out,
    const char *line, size_t len)
{
	struct request_line rl;
	struct request rq = { .w = w, .c = c, .out = out };
	const struct command *cmd;
	bool token_arg = false;
	int first;

	request_split(line, len, &rl);
	if (rl.nwords == 0)
		return;				/* empty lines get no reply */
	if ((cmd = lookup(&rl, &first)) == NULL &&
	    (cmd = lookup_debug(w, &rl)) == NULL) {
		reply_error(out, E_BAD_COMMAND, NULL);
		return;
	}
	if ((cmd->flags & CMD_ADDR) && client_addr_first(&rl, first))
		first += 2;
	if ((cmd->flags & CMD_SESSION) && rl.nwords > first &&
	    token_parse(rl.w[first].p, rl.w[first].len, rq.token) == 0) {
		token_arg = true;
		first++;
	} else if (c->has_token)
		memcpy(rq.token, c->token, TOKEN_LEN);
	/* "<tokenid> <their ip> <their port> ...": seed 001's order */
	if (token_arg && (cmd->flags & CMD_ADDR) &&
	    form_src_address(&rq, &rl, &first, cmd) == -1)
		return;
	if (!arity_ok(cmd, &rl, first, &rq)) {
		reply_error(out, E_BAD_ARGS, NULL);
		return;
	}
	rq.args = &rl.w[first];
	if (!nul_free(&rq)) {
		reply_error(out, E_BAD_ARGS, "Argument contains a NUL byte");
		return;
	}
	rq.verb = &rl.w[0];
	rq.words_form = rl.nwords > 1 && word_is(&rl.w[0], "group");
	if ((cmd->flags & CMD_SESSION) && !session_needed(w, c, cmd, token_arg,
	    &rq))
		return;
	if (rq.from.p != NULL && !form_from_ok(&rq))
		return;
	if (rq.words_form && rq.session != 0)
		form_note_words(&rq);
	if (cmd->flags & CMD_DEBUG) {
		cmd->handler(&rq);		/* not counted */
		return;
	}
	__atomic_fetch_add(&w->me->commands[cmd - commands], 1, __ATOMIC_RELAXED);
	txn_debug_sleep(c->debug_lock_sleep);
	c->debug_lock_sleep = 0;
	cmd->handler(&rq);
	txn_debug_sleep(0);
}

/* command_name - name of command i of the table, or NULL */
const char *
command_name(size_t i)
{
	return i < ARRAY_LEN(commands) ? commands[i].name : NULL;
}
