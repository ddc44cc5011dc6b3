/*
 * NAME
 *	watch - push delivery to connections that said "watch"
 * DESCRIPTION
 *	A watching connection gets every message of its user's queues (its
 *	own inbox and the realm inboxes alike) as one object per message,
 *	{"event":"message", ...the fields of an inbox entry}, as soon as the
 *	message is stored.  Delivery is the inbox's, message by message: a
 *	batch of at most PUSH_BATCH waiting messages is leased, written as
 *	pushes, and each message leaves the queue once the connection's
 *	written byte count passes the end of its own push (inbox_remove);
 *	whatever is unwritten when the connection closes is released to the
 *	queue.  A new batch is leased only when the previous one is written
 *	in full and nothing else waits unsent, so a watcher that stops
 *	reading holds one batch at most and the rest stays queued, where
 *	inbox, or another watcher, finds it.
 *
 *	Pushes go between replies, never inside one: they are appended only
 *	between requests (conn.c calls watch_fill before it writes).
 *
 *	Each worker keeps its watching connections in a hash by user, and
 *	tells the state which users it watches (a bit in the user's record,
 *	shm/watch.c).  A sender that queues a message for such a user leaves
 *	a hint in this worker's ring and wakes it through its eventfd; the
 *	worker reads the ring after every pass of its loop (watch_run) and
 *	kicks the connections that watch the users named there.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "lib/log.h"
#include "worker/worker.h"

#define PUSH_BATCH	64		/* messages leased at once for one watcher */
#define PUSH_BYTES	(1 << 20)	/* of text and files in a batch, beyond one */
#define HASH_MIN	64

char watch_mark;

/* A watching connection, and the batch of pushes it has in flight. */
struct push {
	struct conn	*c;
	uint32_t	 user;
	uint8_t		 token[TOKEN_LEN];	/* the session it watches with */
	bool		 watching;	/* false: off, finishing its batch */
	bool		 due;		/* messages may wait for it */
	bool		 failed;	/* a push of the batch could not be built */
	struct lease	 lease;		/* of the batch in flight */
	uint32_t	 n;		/* messages in the batch */
	uint32_t	 done;		/* of them removed from the queue */
	uint32_t	 msg[PUSH_BATCH];
	uint64_t	 end[PUSH_BATCH];	/* conn->queued after each push */
	struct push	*hnext;		/* worker's hash chain, by user */
	struct push	*rnext;		/* worker's ready list */
	struct push	**rprev;	/* NULL: not on it */
};

/* bucket - the hash chain of user */
static struct push **
bucket(struct worker *w, uint32_t user)
{
	return &w->watch_tab[(user * 2654435761u) & (w->watch_mask)];
}

/* hash_grow - double the table once it holds more watchers than chains */
static int
hash_grow(struct worker *w)
{
	uint32_t n = w->watch_mask ? 2 * (w->watch_mask + 1) : HASH_MIN;
	struct push **old = w->watch_tab, **tab;
	uint32_t oldn = w->watch_mask ? w->watch_mask + 1 : 0;

	if (w->nwatch < oldn)
		return 0;
	if ((tab = calloc(n, sizeof(*tab))) == NULL)
		return -1;
	w->watch_tab = tab;
	w->watch_mask = n - 1;
	for (uint32_t i = 0; i < oldn; i++)
		for (struct push *p = old[i], *next; p != NULL; p = next) {
			next = p->hnext;
			p->hnext = *bucket(w, p->user);
			*bucket(w, p->user) = p;
		}
	free(old);
	return 0;
}

/* hash_del - take p off its chain; true if another watcher of its user remains */
static bool
hash_del(struct worker *w, struct push *p)
{
	struct push **link = bucket(w, p->user);
	bool others = false;

	for (; *link != NULL; ) {
		if (*link == p)
			*link = p->hnext;
		else {
			others |= (*link)->user == p->user;
			link = &(*link)->hnext;
		}
	}
	w->nwatch--;
	return others;
}

/* push_ready_add - have the worker come back to p after this pass */
static void
push_ready_add(struct worker *w, struct push *p)
{
	if (p->rprev != NULL)
		return;
	p->rnext = w->watch_ready;
	if (p->rnext != NULL)
		p->rnext->rprev = &p->rnext;
	p->rprev = &w->watch_ready;
	w->watch_ready = p;
}

static void
push_ready_del(struct push *p)
{
	if (p->rprev == NULL)
		return;
	*p->rprev = p->rnext;
	if (p->rnext != NULL)
		p->rnext->rprev = p->rprev;
	p->rprev = NULL;
	p->rnext = NULL;
}

/* unwatch - stop pushing to p; the state forgets us if no other watcher remains */
static void
unwatch(struct worker *w, struct push *p)
{
	if (!p->watching)
		return;
	p->watching = false;
	p->due = false;
	if (!hash_del(w, p)) {
		state_lock(w->st);
		(void)watch_set_locked(w->st, p->user, false);
		state_unlock(w->st);
	}
}

/* push_free - p goes; what of its batch is unwritten goes back to the queue */
static void
push_free(struct conn *c)
{
	struct push *p = c->push;

	unwatch(c->w, p);
	push_ready_del(p);
	if (p->done < p->n || p->failed) {
		state_lock(c->w->st);
		inbox_release_locked(c->w->st, p->user, &p->lease);
		state_unlock(c->w->st);
	}
	free(p);
	c->push = NULL;
}

/*
 * hand_over - c watches another user now: the batch still in flight
 * becomes an ordinary pending lease of c (removed once written, as an
 * inbox reply's), so that pushes already produced are not sent twice.
 */
static void
hand_over(struct conn *c)
{
	struct push *p = c->push;

	unwatch(c->w, p);
	if (p->done < p->n && !p->failed &&
	    conn_add_pending(c, p->user, &p->lease) == 0)
		p->done = p->n;		/* conn.c owns the lease now */
	push_free(c);
}

/* watch_start - c watches user from now on, with the session of tok */
static int
watch_start(struct conn *c, uint32_t user, const uint8_t tok[TOKEN_LEN])
{
	struct worker *w = c->w;
	struct push *p = c->push;

	if (p != NULL && p->user != user)
		hand_over(c);
	if ((p = c->push) == NULL) {
		if ((p = calloc(1, sizeof(*p))) == NULL)
			return -1;
		p->c = c;
		p->user = user;
		c->push = p;
	}
	memcpy(p->token, tok, TOKEN_LEN);
	p->due = true;
	if (p->watching)
		return 0;
	if (hash_grow(w) == -1) {
		if (p->done == p->n)
			push_free(c);
		return -1;
	}
	p->watching = true;
	p->hnext = *bucket(w, user);
	*bucket(w, user) = p;
	w->nwatch++;
	state_lock(w->st);
	(void)watch_set_locked(w->st, user, true);
	state_unlock(w->st);
	return 0;
}

/*
 * cmd_watch - "watch": push every message of the caller's queues to this
 * connection from now on, those waiting first; "watch off" ends it.
 */
void
cmd_watch(struct request *rq)
{
	struct conn *c = rq->c;
	cJSON *o;

	if (rq->nargs == 1 && !word_is(&rq->args[0], "off")) {
		reply_error(rq->out, E_BAD_ARGS, NULL);
		return;
	}
	if (rq->nargs == 1) {
		bool was = c->push != NULL && c->push->watching;

		if (c->push != NULL) {
			unwatch(rq->w, c->push);
			if (c->push->done == c->push->n)
				push_free(c);
		}
		o = reply_ok(was ? "Watch stopped" : "Not watching");
		reply_finish(rq->out, o);
		return;
	}
	if (watch_start(c, rq->user, rq->token) == -1) {
		log_err("watch: %m");
		reply_error(rq->out, E_INTERNAL, NULL);
		return;
	}
	o = reply_ok("Watching");
	cJSON_AddStringToObject(o, "username", rq->w->st->users[rq->user].name);
	reply_finish(rq->out, o);
}

/* push_json - one pushed message: "event" first, then the inbox entry */
static cJSON *
push_json(struct state *st, const struct shm_msg *m)
{
	cJSON *e = message_json(st, m, true);
	cJSON *ev = cJSON_CreateStringReference("message");

	if (e == NULL || ev == NULL) {
		cJSON_Delete(ev);
		return e;
	}
	ev->string = (char *)"event";
	ev->type |= cJSON_StringIsConst;
	if (!cJSON_InsertItemInArray(e, 0, ev))
		cJSON_Delete(ev);
	return e;
}

/* lease_batch - lease the next batch for p; false if the session is gone */
static bool
lease_batch(struct worker *w, struct push *p)
{
	struct state *st = w->st;
	bool more = false, live;
	uint32_t s;

	p->lease.proc = (uint32_t)st->proc + 1;
	p->lease.gen = __atomic_load_n(&w->me->gen, __ATOMIC_ACQUIRE);
	p->lease.serial = ++w->serial;
	p->n = p->done = 0;
	p->failed = false;
	state_lock(st);
	s = session_find_locked(st, p->token, now_sec(), w->cf->session_timeout);
	live = s != 0 && st->sessions[s].user == p->user;
	if (live)
		p->n = (uint32_t)inbox_lease_locked(st, p->user, LEASE_ANY,
		    &p->lease, p->msg, PUSH_BATCH, PUSH_BYTES, &more);
	state_unlock(st);
	p->due = live && more;
	return live;
}

/*
 * watch_fill - push what waits for c's user, if c may take a batch now:
 * the last one is written in full and no other reply waits unsent.
 */
void
watch_fill(struct conn *c)
{
	struct push *p = c->push;
	struct state *st = c->w->st;

	if (p == NULL || !p->watching || !p->due || p->done < p->n ||
	    conn_unsent(c) > 0)
		return;
	if (!lease_batch(c->w, p)) {
		push_free(c);			/* its session ended */
		return;
	}
	/* leased messages are ours alone until removed or released */
	for (uint32_t i = 0; i < p->n; i++)
		if (conn_push(c, push_json(st, &st->msgs[p->msg[i]]),
		    &p->end[i]) == -1) {
			p->failed = true;
			p->msg[i] = 0;		/* stays queued */
		}
}

/*
 * watch_written - c's written count moved: remove the messages whose
 * pushes are out in full.  Then the next batch is due, or p may go.
 */
void
watch_written(struct conn *c)
{
	struct push *p = c->push;
	uint32_t k;
	int n;

	if (p == NULL || p->done == p->n)
		return;
	for (k = p->done; k < p->n && p->end[k] <= c->written; k++)
		;
	if (k == p->done)
		return;
	n = inbox_remove(c->w->st, p->user, &p->lease, p->msg + p->done,
	    k - p->done, c->w->cf->file_keep > 0);
	if (n == -1)
		log_err("push commit: %m");
	else
		__atomic_fetch_add(&c->w->me->delivered, (uint64_t)n,
		    __ATOMIC_RELAXED);
	p->done = k;
	if (p->done < p->n)
		return;
	if (p->failed) {
		state_lock(c->w->st);
		inbox_release_locked(c->w->st, p->user, &p->lease);
		state_unlock(c->w->st);
		p->failed = false;
	}
	if (!p->watching)
		push_free(c);
}

/* watch_again - may c take another batch at once? */
bool
watch_again(const struct conn *c)
{
	const struct push *p = c->push;

	return p != NULL && p->watching && p->due && p->done == p->n &&
	    conn_unsent(c) == 0;
}

/* watch_later - come back to c after this pass of the loop */
void
watch_later(struct conn *c)
{
	if (c->push != NULL)
		push_ready_add(c->w, c->push);
}

/* watch_close - c is closing: its unwritten pushes go back to the queue */
void
watch_close(struct conn *c)
{
	if (c->push != NULL)
		push_free(c);
}

/* hinted - mark the watchers of user due; forget a user nobody here watches */
static void
hinted(struct worker *w, uint32_t user, bool *stale)
{
	bool any = false;

	*stale = false;
	if (w->nwatch == 0) {
		*stale = true;
		return;
	}
	for (struct push *p = *bucket(w, user); p != NULL; p = p->hnext)
		if (p->user == user) {
			p->due = any = true;
			push_ready_add(w, p);
		}
	*stale = !any;
}

/* take_hints - read this worker's ring and mark the watchers it names */
static void
take_hints(struct worker *w)
{
	uint32_t users[WATCH_RING];
	size_t n;
	bool lost, stale;

	state_lock(w->st);
	n = watch_take_locked(w->st, users, WATCH_RING, &lost);
	for (size_t i = 0; i < n; i++) {
		hinted(w, users[i], &stale);
		if (stale)		/* a bit left from an earlier process */
			(void)watch_set_locked(w->st, users[i], false);
	}
	state_unlock(w->st);
	if (!lost)
		return;
	for (uint32_t b = 0; w->nwatch > 0 && b <= w->watch_mask; b++)
		for (struct push *p = w->watch_tab[b]; p != NULL; p = p->hnext) {
			p->due = true;
			push_ready_add(w, p);
		}
}

/*
 * watch_run - after each pass of the loop: take the hints, then serve the
 * watchers that are due (each may close; the list is detached first so
 * that one put back is served on the next pass, not in a loop here).
 */
void
watch_run(struct worker *w)
{
	struct push *list, *p;

	if (watch_hinted(w->st))
		take_hints(w);
	if ((list = w->watch_ready) == NULL)
		return;
	list->rprev = &list;
	w->watch_ready = NULL;
	while ((p = list) != NULL) {
		push_ready_del(p);
		conn_event(p->c, 0);
	}
}

/* watch_wakeup - the eventfd fired: empty it; watch_run does the rest */
void
watch_wakeup(struct worker *w)
{
	uint64_t n;

	while (read(w->st->wake_fd[w->st->proc], &n, sizeof(n)) == -1 &&
	    errno == EINTR)
		;
}

/* watch_init - the worker's eventfd joins its epoll set */
int
watch_init(struct worker *w)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &watch_mark };
	int fd = w->st->wake_fd[w->st->proc];

	if (fd == -1)
		return 0;
	return epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &e);
}

/* watch_forget_all - the worker ends: every connection is closed already */
void
watch_forget_all(struct worker *w)
{
	free(w->watch_tab);
	w->watch_tab = NULL;
	w->watch_mask = 0;
}
