/*
 * NAME
 *	forms - the command forms of the seed families, told apart
 * DESCRIPTION
 *	Five seed documents describe the protocol, and some of their forms
 *	of one command differ: register's word order, the client's own
 *	address after the token of a realm send, a group send that names
 *	no group (the session's current group), a file command that names
 *	a path on the client's machine.  Each function here reads one such
 *	form from the evidence in the line and the state.  Where the line
 *	fits two readings that would do different things, it is refused
 *	with a message naming both; nothing is sent on a guess.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bsd/string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "lib/log.h"
#include "worker/worker.h"

/* addr_shaped - an IPv4 or IPv6 address, or "localhost" */
bool
addr_shaped(const struct word *w)
{
	char text[INET6_ADDRSTRLEN + 1];
	unsigned char bin[sizeof(struct in6_addr)];

	if (arg_copy(w, text, sizeof(text)) == -1)
		return false;
	return strcmp(text, "localhost") == 0 ||
	    inet_pton(AF_INET, text, bin) == 1 ||
	    inet_pton(AF_INET6, text, bin) == 1;
}

/* port_shaped - 1 to 65535 in decimal */
bool
port_shaped(const struct word *w)
{
	char text[8];
	uint64_t v;

	return arg_copy(w, text, sizeof(text)) == 0 &&
	    parse_uint(text, 65535, &v) == 0 && v > 0;
}

static bool
realm_known(struct state *st, const struct word *w)
{
	bool known;

	state_lock(st);
	known = realm_find_locked(st, w->p, w->len) != 0;
	state_unlock(st);
	return known;
}

/*
 * form_src_address - "<cmd> <token> <src_addr> <src_port> <realm> ..."
 * (seed 001): the client's own address follows the token; skip it.  For
 * sendrealm the word after the realm is username_from, kept in rq->from
 * and taken out of the arguments.  A realm named like an address, with a
 * realm also in third place, is refused.  -1 after a reply.
 */
int
form_src_address(struct request *rq, struct request_line *rl, int *first,
    const struct command *cmd)
{
	int i = *first, need = 2 + cmd->max_args + ((cmd->flags & CMD_FROM) != 0);

	if (rl->nwords < i + need && !rl->more)
		return 0;
	if (!addr_shaped(&rl->w[i]) || !port_shaped(&rl->w[i + 1]))
		return 0;
	if (realm_known(rq->w->st, &rl->w[i])) {
		if (!realm_known(rq->w->st, &rl->w[i + 2]))
			return 0;		/* a realm named like an address */
		reply_errorf(rq->out, E_BAD_ARGS, "Ambiguous: '%.*s' is a realm "
		    "and also reads as your address before realm '%.*s'; send "
		    "the command without your address",
		    (int)rl->w[i].len, rl->w[i].p, (int)rl->w[i + 2].len,
		    rl->w[i + 2].p);
		return -1;
	}
	*first = i + 2;
	rq->src_form = true;
	if (cmd->flags & CMD_FROM) {
		rq->from = rl->w[i + 3];
		rl->w[i + 3] = rl->w[i + 2];
		*first = i + 3;
	}
	return 0;
}

/* form_from_ok - username_from of seed 001's sendrealm is the session's */
bool
form_from_ok(struct request *rq)
{
	struct state *st = rq->w->st;
	char name[NAME_LEN + 1];
	bool same;

	if (rq->from.p == NULL)
		return true;
	state_lock(st);
	strlcpy(name, st->users[rq->user].name, sizeof(name));
	state_unlock(st);
	same = rq->from.len == strlen(name) &&
	    memcmp(rq->from.p, name, rq->from.len) == 0;
	if (!same)
		reply_errorf(rq->out, E_BAD_ARGS, "username_from '%.*s' is not "
		    "the user of this session (%s)",
		    (int)(rq->from.len > NAME_LEN ? NAME_LEN : rq->from.len),
		    rq->from.p, name);
	return same;
}

/*
 * form_register - which of register's words are the user, the password,
 * the name and the country (pos[0..3]; -1: absent).  Four words are
 * "<user> <password> <name> <country>" (seeds 000, 003) or "<name>
 * <country> <user> <password>" (seed 001): a country in fourth or in
 * second place decides, then a first word that cannot be a user name;
 * with no evidence, register_order, whose "auto" takes the majority
 * (user first).  -1 after a reply.
 */
int
form_register(struct request *rq, int pos[4])
{
	const struct word *a = rq->args;
	bool c1, c3, name_first = false;

	for (int i = 0; i < 4; i++)
		pos[i] = i < rq->nargs ? i : -1;
	if (rq->nargs < 4 || rq->w->cf->register_order == REG_USER_FIRST)
		return 0;
	if (rq->w->cf->register_order == REG_NAME_FIRST)
		name_first = true;
	else {
		c1 = country_known(a[1].p, a[1].len);
		c3 = country_known(a[3].p, a[3].len);
		if (c1 && c3) {
			reply_errorf(rq->out, E_BAD_ARGS, "Ambiguous: either user "
			    "'%.*s' from %.*s or user '%.*s' from %.*s; send "
			    "register <username> <password> <name> <country>",
			    (int)a[0].len, a[0].p, (int)a[3].len, a[3].p,
			    (int)a[2].len, a[2].p, (int)a[1].len, a[1].p);
			return -1;
		}
		name_first = c1 || (!c3 && !name_valid(a[0].p, a[0].len) &&
		    name_valid(a[2].p, a[2].len));
	}
	if (name_first) {
		pos[0] = 2;
		pos[1] = 3;
		pos[2] = 0;
		pos[3] = 1;
	}
	return 0;
}

/*
 * form_file_path - a file command whose last word is a path on the
 * client's machine (seeds 000, 003), not the content: say what to send
 */
void
form_file_path(struct request *rq)
{
	char usage[256];
	size_t n;

	n = (size_t)snprintf(usage, sizeof(usage), "%.*s", (int)(rq->verb->len >
	    32 ? 32 : rq->verb->len), rq->verb->p);
	for (int i = 0; i < rq->nargs && n < sizeof(usage); i++)
		n += (size_t)snprintf(usage + n, sizeof(usage) - n, " %.*s",
		    (int)(rq->args[i].len > 64 ? 64 : rq->args[i].len),
		    rq->args[i].p);
	reply_errorf(rq->out, E_BAD_FILE, "'%.*s' is a file on your machine and "
	    "the server cannot read it: send %s <file name> <the file's "
	    "content in base64>", (int)(rq->textlen > 128 ? 128 : rq->textlen),
	    rq->text, usage);
}

/* is_loopback - the client connects from this machine */
static bool
is_loopback(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		return false;
	if (ss.ss_family == AF_INET)
		return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >>
		    24) == 127;
	if (ss.ss_family == AF_INET6) {
		const uint8_t *a = ((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr;
		return IN6_IS_ADDR_LOOPBACK((struct in6_addr *)a) ||
		    (memcmp(a, v4mapped, sizeof(v4mapped)) == 0 && a[12] == 127);
	}
	return false;
}

/*
 * form_anon_addrealm - seed 001's addrealm comes with no session:
 * allowed as addrealm_without_session says.  Besides the loopback, each
 * such attempt counts against the address as a failed login does, so
 * one address cannot make the realm dial hosts at will.  -1 after a
 * reply.
 */
int
form_anon_addrealm(struct request *rq)
{
	struct state *st = rq->w->st;
	int mode = rq->w->cf->addrealm_anon;
	uint32_t wait, now = (uint32_t)now_sec();

	if (mode == ANON_NO || (mode == ANON_LOOPBACK && !is_loopback(rq->c->fd))) {
		reply_error(rq->out, E_NO_SESSION, mode == ANON_NO ?
		    "Session Tidak Ditemukan: log in to add a realm" :
		    "Session Tidak Ditemukan: without a session, a realm is "
		    "added only from the server's own machine");
		return -1;
	}
	if (mode == ANON_LOOPBACK || is_loopback(rq->c->fd))
		return 0;
	state_lock(st);
	if ((wait = guard_auth_wait_locked(rq->c->addr_bucket, now)) == 0)
		guard_auth_failed_locked(rq->c->addr_bucket, NULL, now);
	state_unlock(st);
	if (wait > 0) {
		reply_errorf(rq->out, E_QUOTA, "Too many attempts, retry in %u s",
		    (unsigned)wait);
		return -1;
	}
	return 0;
}

/* form_note_group - the session's current group is now g (a hint) */
void
form_note_group(struct worker *w, uint32_t session, uint32_t user,
    uint32_t g)
{
	struct state *st = w->st;
	struct shm_session *s;

	state_lock(st);
	if ((s = session_at(st, session)) != NULL && s->user == user)
		s->cur_group = g;
	state_unlock(st);
}

/* form_note_words - the session speaks "group <word> ..." (seed 002) */
void
form_note_words(struct request *rq)
{
	struct state *st = rq->w->st;
	struct shm_session *s;

	state_lock(st);
	if ((s = session_at(st, rq->session)) != NULL && s->user == rq->user)
		s->sflags |= SF_GROUP_WORDS;
	state_unlock(st);
}

/* What the state says about a group send's first word. */
struct group_facts {
	char	 current[NAME_LEN + 1];	/* the session's current group, or "" */
	bool	 words;			/* the session used "group <word>" */
	bool	 postable;		/* the word is a group the user may post to */
	bool	 known;			/* the word is a group or a user here */
};

/* group_facts - gather them under one lock; w may be NULL */
static void
group_facts(struct request *rq, const struct word *w, struct group_facts *f)
{
	struct state *st = rq->w->st;
	struct shm_session *s;
	const char *p = w ? w->p : NULL;
	size_t len = w ? w->len : 0, plen = strlen("group:");
	uint32_t g = 0;

	memset(f, 0, sizeof(*f));
	if (len > plen && strncmp(p, "group:", plen) == 0) {
		p += plen;
		len -= plen;
	}
	state_lock(st);
	if ((s = session_at(st, rq->session)) != NULL && s->user == rq->user) {
		f->words = (s->sflags & SF_GROUP_WORDS) != 0;
		if (group_at(st, s->cur_group) != NULL)
			strlcpy(f->current, st->groups[s->cur_group].name,
			    sizeof(f->current));
	}
	if (p != NULL && name_valid(p, len)) {
		g = group_find_locked(st, p, len);
		f->postable = g != 0 && (st->groups[g].pwhash[0] == '\0' ||
		    member_find_locked(st, g, rq->user) != 0);
		f->known = g != 0 || user_find_locked(st, p, len) != 0;
	}
	state_unlock(st);
}

/* to_current - the send goes to the current group, text from word w on */
static int
to_current(struct request *rq, const struct group_facts *f,
    const struct word *w, struct word *to, char *buf)
{
	const char *end = rq->text + rq->textlen;

	if (f->current[0] == '\0') {
		reply_error(rq->out, E_NO_GROUP, "Group belum ada: this session "
		    "has no current group; add, join or name one");
		return -1;
	}
	snprintf(buf, NAME_LEN + 8, "group:%s", f->current);
	to->p = buf;
	to->len = strlen(buf);
	if (w != NULL) {
		rq->text = w->p;
		rq->textlen = (size_t)(end - w->p);
	}
	return 0;
}

/*
 * form_group_target - the target of sendgroup (at 0) or sendgrouprealm
 * (at 1).  "group send <message>" and "sendgrouprealm <realm> <message>"
 * (seed 002) name no group: the session's current group.  A group
 * command never sends to a user: "group send <word> ..." takes word as
 * the group only if the sender may post to it.  sendgrouprealm with a
 * word before the message is seed 000/001/003's target, unless the
 * session speaks seed 002 and the word names nothing here; if it names
 * a group or a user here other than the current group, the line is
 * refused.  buf (NAME_LEN + 8 bytes) may hold the target.  -1 after a
 * reply.
 */
int
form_group_target(struct request *rq, int at, struct word *to, char *buf)
{
	const struct word *w = rq->nargs > at ? &rq->args[at] : NULL;
	struct group_facts f;

	if (at == 0 && !rq->words_form) {
		if (w == NULL) {
			reply_error(rq->out, E_BAD_ARGS, "Usage: sendgroup "
			    "<group> <message>");
			return -1;
		}
		*to = *w;
		return 0;
	}
	if (w != NULL && (rq->src_form || memchr(w->p, ',', w->len) != NULL)) {
		*to = *w;
		return 0;
	}
	group_facts(rq, w, &f);
	if (w == NULL)
		return to_current(rq, &f, NULL, to, buf);
	if (at == 0)
		return f.postable ? (*to = *w, 0) : to_current(rq, &f, w, to, buf);
	if (!f.words || f.current[0] == '\0' || (w->len == strlen(f.current) &&
	    memcmp(w->p, f.current, w->len) == 0) ||
	    (w->len > 6 && strncmp(w->p, "group:", 6) == 0)) {
		*to = *w;
		return 0;
	}
	if (f.known) {
		reply_errorf(rq->out, E_BAD_ARGS, "Ambiguous: either to '%.*s' "
		    "or to your current group %s with the message starting "
		    "'%.*s'; send sendgrouprealm <realm> group:<group> <message>",
		    (int)w->len, w->p, f.current, (int)w->len, w->p);
		return -1;
	}
	return to_current(rq, &f, w, to, buf);
}
