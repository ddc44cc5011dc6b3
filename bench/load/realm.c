/*
 * NAME
 *	realm - the realm and drain modes, and what arrived at the far side
 * DESCRIPTION
 *	Every realm text is unique (kind, run, source, sequence in its first
 *	bytes), so the far realm's inboxrealm can be checked message by
 *	message: delivered, lost, doubled, stray.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "bench/load/load.h"

/*
 * Every realm text starts "<kind><run>.<source>.<seq>." (kind 'L' for the
 * closed loop, whose sources are its connections, 'Q' for drain, one
 * source): unique over runs, so the far side can tell each one apart.
 */
struct track {
	uint64_t	 n, cap;
	uint8_t		*sent;		/* the sender's OK came */
	uint8_t		*got;		/* times it arrived at the far side */
};

static struct track *tracks;
static unsigned ntracks;
static unsigned run_tag;
static char text_kind;

static struct {
	uint64_t	 expected;	/* sent with an OK */
	uint64_t	 unique;	/* of those, arrived */
	uint64_t	 delivered;	/* arrivals, doubles included */
	uint64_t	 doubled, stray, errors;
} vf;

/* tracks_init - n sources of texts of this kind ('L' or 'Q') */
static void
tracks_init(unsigned n, char kind)
{
	ntracks = n;
	text_kind = kind;
	if ((tracks = calloc(n, sizeof(*tracks))) == NULL)
		die("out of memory");
	run_tag = (unsigned)getpid();
}

/* track_sent - message seq of source src got its OK */
void
track_sent(unsigned src, uint64_t seq)
{
	struct track *t = &tracks[src];

	if (seq >= t->cap) {
		uint64_t cap = t->cap ? t->cap : 1024;
		while (cap <= seq)
			cap *= 2;
		if ((t->sent = realloc(t->sent, cap)) == NULL ||
		    (t->got = realloc(t->got, cap)) == NULL)
			die("out of memory");
		memset(t->sent + t->cap, 0, cap - t->cap);
		memset(t->got + t->cap, 0, cap - t->cap);
		t->cap = cap;
	}
	if (seq >= t->n)
		t->n = seq + 1;
	if (!t->sent[seq])
		vf.expected++;
	t->sent[seq] = 1;
}

/* realm_text - the text of message seq of source src, opt.msg_size long or more */
int
realm_text(char *p, size_t room, unsigned src, uint64_t seq)
{
	int n = snprintf(p, room, "%c%u.%u.%llu.", text_kind, run_tag, src,
	    (unsigned long long)seq);

	if ((size_t)n < opt.msg_size && opt.msg_size < room) {
		fill_text(p + n, opt.msg_size - (size_t)n);
		n = (int)opt.msg_size;
		p[n] = '\0';
	}
	return n;
}

/* arrived - one text that arrived at the far side (as JSON, unescaped) */
static void
arrived(const char *p, size_t len)
{
	char buf[64], *e;
	unsigned long tag, src;
	unsigned long long seq;

	vf.delivered++;
	if (len < 2 || p[0] != text_kind)
		goto stray;
	memcpy(buf, p + 1, len - 1 < sizeof(buf) - 1 ? len - 1 : sizeof(buf) - 1);
	buf[len - 1 < sizeof(buf) - 1 ? len - 1 : sizeof(buf) - 1] = '\0';
	tag = strtoul(buf, &e, 10);
	if (*e != '.' || tag != run_tag)
		goto stray;
	src = strtoul(e + 1, &e, 10);
	if (*e != '.' || src >= ntracks)
		goto stray;
	seq = strtoull(e + 1, &e, 10);
	if (*e != '.' || seq >= tracks[src].n || !tracks[src].sent[seq])
		goto stray;
	if (tracks[src].got[seq] < 255)
		tracks[src].got[seq]++;
	if (tracks[src].got[seq] == 1)
		vf.unique++;
	else
		vf.doubled++;
	return;
stray:
	vf.stray++;
}

/* arrivals - every "msg" of an inboxrealm reply; true if it says "more" */
static bool
arrivals(const char *b, size_t len)
{
	static const char key[] = "\"msg\":\"";
	const char *p = b, *end = b + len, *q;

	while ((p = memmem(p, (size_t)(end - p), key, sizeof(key) - 1)) != NULL) {
		p += sizeof(key) - 1;
		if ((q = memchr(p, '"', (size_t)(end - p))) == NULL)
			break;
		arrived(p, (size_t)(q - p));
		p = q;
	}
	return memmem(b, len, "\"more\":true", 11) != NULL;
}

/* link_state - from listrealm: the link's state (0 if unknown) and queue */
static bool
realm_link_state(struct bconn *b, char *state, size_t room, long *queued)
{
	char key[128];
	const char *p, *e, *s, *q;

	bcall(b, "listrealm\r\n");
	snprintf(key, sizeof(key), "\"id\":\"%s\"", opt.link);
	if ((p = strstr(b->buf, key)) == NULL)
		die("listrealm does not show link %s: %.300s", opt.link, b->buf);
	if ((e = strchr(p, '}')) == NULL ||
	    (s = strstr(p, "\"state\":\"")) == NULL || s > e ||
	    (q = strstr(p, "\"queued\":")) == NULL || q > e)
		die("listrealm: %.300s", b->buf);
	s += 9;
	snprintf(state, room, "%.*s", (int)strcspn(s, "\""), s);
	*queued = strtol(q + 9, NULL, 10);
	return strcmp(state, "up") == 0;
}

/*
 * verify_far - drain "inboxrealm <far-link>" of users first .. first+count-1
 * at the far realm, one connection each, pass after pass, until every
 * message sent with an OK has arrived (then one pass more, for doubles)
 * or opt.verify_secs have passed.  Prints the counts.
 */
/* drain_reply - an inboxrealm reply at the far side; more asked if it has more */
void
drain_reply(struct conn *c, bool ok, size_t len)
{
	vf.errors += !ok;
	if (ok && arrivals(c->in, len))
		start_request(c, c->req[1], c->reqlen[1]);
	else
		c->phase = P_READY;	/* this pass is done */
}

/*
 * realm_await_link - before the realm mode's window: the link up and its
 * queue empty, or replies would say queued
 */
void
realm_await_link(void)
{
	struct bconn b;
	char state[32];
	long waiting;
	uint64_t begun = now_ns();

	bopen(&b, opt.first);
	while (!realm_link_state(&b, state, sizeof(state), &waiting) ||
	    waiting != 0) {
		if (now_ns() - begun > 30 * NS)
			die("realm: link %s %s with %ld queued after 30 s",
			    opt.link, state, waiting);
		usleep(20 * 1000);
	}
	close(b.fd);
	free(b.buf);
	tracks_init(opt.conns, 'L');
}

void
verify_far(unsigned first, unsigned count)
{
	struct thread t = { .epfd = epoll_create1(EPOLL_CLOEXEC) };
	struct conn *conns = calloc(count, sizeof(*conns));
	uint64_t begun = now_ns(), deadline = begun + (uint64_t)(opt.verify_secs * NS);
	unsigned passes = 0;
	bool last = false;

	if (t.epfd == -1 || conns == NULL)
		die("out of memory");
	dial_to = &far_target;
	window.ready = 0;
	window.total = count;
	for (unsigned i = 0; i < count; i++) {
		conn_init(&conns[i], &t, R_DRAINER, first + i, 0);
		conns[i].keep = true;
		send_auth(&conns[i]);
	}
	while (window.ready < count) {
		if (now_ns() > deadline)
			die("verify: logins at the far realm not done");
		dispatch_events(&t, 100);
	}
	for (;;) {
		unsigned busy = count;

		passes++;
		for (unsigned i = 0; i < count; i++) {
			conns[i].phase = P_BUSY;
			start_request(&conns[i], conns[i].req[1], conns[i].reqlen[1]);
		}
		while (busy > 0) {
			if (now_ns() > deadline + 10 * NS)
				die("verify: inboxrealm replies stopped coming");
			dispatch_events(&t, 100);
			busy = 0;
			for (unsigned i = 0; i < count; i++)
				busy += conns[i].phase == P_BUSY;
		}
		if (last || now_ns() > deadline)
			break;
		if (vf.unique >= vf.expected)
			last = true;	/* one more pass: doubles come late */
		else
			usleep(20 * 1000);
	}
	printf(" expected=%llu delivered=%llu lost=%llu doubled=%llu stray=%llu "
	    "verify_errors=%llu verify_passes=%u verify_ms=%.0f",
	    (unsigned long long)vf.expected, (unsigned long long)vf.delivered,
	    (unsigned long long)(vf.expected - vf.unique),
	    (unsigned long long)vf.doubled, (unsigned long long)vf.stray,
	    (unsigned long long)vf.errors, passes,
	    (double)(now_ns() - begun) / 1e6);
	for (unsigned i = 0; i < count; i++)
		hang_up(conns[i].fd);
	close(t.epfd);
	dial_to = &target;
}

void
mode_drain(char **argv)
{
	struct thread t = { .epfd = -1 };
	struct bconn b;
	char state[32];
	long queued, q0;
	uint64_t begun, t_exec = 0, t_up = 0, t_done = 0, limit;
	pid_t pid = 0;
	double secs;

	if (opt.fill_count == 0) {
		opt.fill_first = opt.first;
		opt.fill_count = opt.conns;
	}
	tracks_init(1, 'Q');
	bopen(&b, opt.first);
	/* the link must be down, and its queue empty */
	begun = now_ns();
	while (realm_link_state(&b, state, sizeof(state), &q0) || q0 != 0) {
		if (now_ns() - begun > 30 * NS)
			die("drain: link %s still %s with %ld queued after 30 s",
			    opt.link, state, q0);
		usleep(20 * 1000);
	}
	secs = fill_run(&t);
	realm_link_state(&b, state, sizeof(state), &q0);
	printf("mode=drain messages=%llu errors=%llu queued_replies=%llu "
	    "queue_seconds=%.3f queue_per_s=%.0f queued_before=%ld",
	    (unsigned long long)t.all_ops, (unsigned long long)t.all_errors,
	    (unsigned long long)t.queued, secs, (double)t.all_ops / secs, q0);
	fflush(stdout);
	if (argv[0] != NULL) {
		t_exec = now_ns();
		pid = spawn_command(argv);
	}
	limit = now_ns() + 120 * NS;
	for (;;) {
		uint64_t now;
		bool up = realm_link_state(&b, state, sizeof(state), &queued);

		now = now_ns();
		if (up && t_up == 0)
			t_up = now;
		if (t_up != 0 && queued == 0) {
			t_done = now;
			break;
		}
		if (now > limit)
			die("drain: link %s %s, %ld queued after 120 s", opt.link,
			    state, queued);
		usleep(2000);
	}
	printf(" up_ms=%.1f drain_ms=%.1f per_s=%.0f pid=%d",
	    t_exec ? (double)(t_up - t_exec) / 1e6 : 0.0,
	    (double)(t_done - t_up) / 1e6,
	    (double)q0 / ((double)(t_done - t_up) / NS), (int)pid);
	close(b.fd);
	verify_far(opt.fill_first, opt.fill_count);
	printf("\n");
}
