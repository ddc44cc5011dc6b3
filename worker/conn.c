/*
 * NAME
 *	conn - a client connection: lines in, replies out
 * DESCRIPTION
 *	Bytes are read into the worker's read buffer; complete lines are
 *	answered straight from it, and only an unfinished line is kept in
 *	the connection (so an idle connection owns no buffer at all).
 *	Replies of one read go to the worker's scratch buffer and out in
 *	one write; what the socket does not take waits in conn->out.
 *
 *	Back-pressure: while more than OUT_HIGH bytes of replies wait, the
 *	connection answers nothing more and is not read; a client that never
 *	reads cannot make the worker hold more than that plus one reply, and
 *	once its replies have waited send_timeout without a byte read or
 *	written either way, it is dropped (conn_expire_idle).  Complete lines
 *	read before the limit was reached wait in conn->in; the client may
 *	send nothing more, so while they wait the connection asks for
 *	EPOLLOUT, which gives it its next turn to answer them.
 *
 *	Fairness: a connection is answered at most LINES_PER_TURN lines per
 *	turn of the loop; the rest of what it pipelined waits in conn->in,
 *	and the connection on the worker's ready list, while every other
 *	connection gets its turn.  A line that needs a password hashed
 *	waits for a thread (pwjob.c) and holds up only its own connection.
 *
 *	Every connection counts against its address (guard.c); one over
 *	max_connections_per_address is told QUOTA and closed.
 *
 *	An inbox reply carries a lease (struct pending): once conn->written
 *	passes the end of that reply, its messages are removed from the
 *	queue; if the connection closes first, they are released.  Pushes
 *	to a watching connection (watch.c) are added between requests,
 *	just before the connection's bytes are written.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "lib/log.h"
#include "worker/worker.h"

#define READ_CHUNK	(64 * 1024)
#define READS_PER_EVENT	16		/* then let other connections run */
#define OUT_HIGH	(1 << 20)
#define ACCEPT_BURST	64
#define PUSH_ROUNDS	4		/* batches of pushes per event */
#define LINES_PER_TURN	32		/* then the others get their turn */

static char rbuf[READ_CHUNK];

char listen_mark;

static void
idle_unlink(struct worker *w, struct conn *c)
{
	if (c->idle_prev != NULL)
		c->idle_prev->idle_next = c->idle_next;
	else
		w->idle_head = c->idle_next;
	if (c->idle_next != NULL)
		c->idle_next->idle_prev = c->idle_prev;
	else
		w->idle_tail = c->idle_prev;
	c->idle_prev = c->idle_next = NULL;
}

/* touch - note activity: the connection moves to the young end */
static void
touch(struct conn *c)
{
	struct worker *w = c->w;

	c->last_active = now_msec();
	if (w->idle_tail == c)
		return;
	if (c->idle_prev != NULL || w->idle_head == c)
		idle_unlink(w, c);
	c->idle_prev = w->idle_tail;
	if (w->idle_tail != NULL)
		w->idle_tail->idle_next = c;
	else
		w->idle_head = c;
	w->idle_tail = c;
}

/* backlogged - answer nothing more for now: replies pile up, or one waits */
static bool
backlogged(const struct conn *c)
{
	return c->wait_for != 0 || c->handoff != NULL || c->pw_job != NULL ||
	    c->more || buf_used(&c->out) + buf_used(&c->w->scratch) > OUT_HIGH;
}

/* lines_waiting - c->in may hold complete lines not answered yet */
static bool
lines_waiting(const struct conn *c)
{
	return buf_used(&c->in) > c->scanned;
}

/* reply_target - where replies go: behind waiting bytes, or to scratch */
static struct buf *
reply_target(struct conn *c)
{
	return buf_used(&c->out) > 0 ? &c->out : &c->w->scratch;
}

/* conn_add_pending - hold a lease until the reply being built is written */
int
conn_add_pending(struct conn *c, uint32_t user, const struct lease *l)
{
	struct pending *p = calloc(1, sizeof(*p)), **tail = &c->pending;

	if (p == NULL)
		return -1;
	p->user = user;
	p->lease = *l;
	p->until = UINT64_MAX;	/* set once the reply's length is known */
	while (*tail != NULL)
		tail = &(*tail)->next;
	*tail = p;
	return 0;
}

/* answer_line - run one line and account for the reply it produced */
static void
answer_line(struct conn *c, const char *line, size_t len)
{
	struct buf *out = reply_target(c);
	size_t before = buf_used(out);

	command_run(c->w, c, out, line, len);
	c->queued += buf_used(out) - before;
	for (struct pending *p = c->pending; p != NULL; p = p->next)
		if (p->until == UINT64_MAX)
			p->until = c->queued;
	__atomic_fetch_add(&c->w->me->requests, 1, __ATOMIC_RELAXED);
}

static void
too_large(struct conn *c)
{
	struct buf *out = reply_target(c);
	size_t before = buf_used(out);

	reply_errorf(out, E_TOO_LARGE, "Line longer than %llu bytes",
	    (unsigned long long)c->w->cf->max_line);
	c->queued += buf_used(out) - before;
}

/*
 * frame - answer the complete lines of data[0, len); returns the bytes
 * consumed.  *scan is how much of data is already known to hold no LF.
 */
static size_t
frame(struct conn *c, const char *data, size_t len, size_t *scan)
{
	const char *p = data, *end = data + len, *nl;
	uint64_t max = c->w->cf->max_line;

	while (p < end && !backlogged(c)) {
		nl = memchr(p + *scan, '\n', (size_t)(end - p) - *scan);
		*scan = 0;
		if (c->skipping) {
			if (nl == NULL)
				return len;
			c->skipping = false;
			p = nl + 1;
			continue;
		}
		if (nl == NULL) {
			if ((uint64_t)(end - p) > max + 1) {
				too_large(c);
				c->skipping = true;
				return len;
			}
			*scan = (size_t)(end - p);
			break;
		}
		size_t n = (size_t)(nl - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > max)
			too_large(c);
		else
			answer_line(c, p, n);
		p = nl + 1;
		if (++c->turn_lines >= LINES_PER_TURN && p < end)
			c->more = true;		/* the rest on a later turn */
	}
	return (size_t)(p - data);
}

/*
 * in_charge - count the bytes c->in holds now against the worker's and
 * the address's limits; false if they would go over (nothing counted)
 */
static bool
in_charge(struct conn *c)
{
	struct worker *w = c->w;
	size_t now = buf_used(&c->in), more;

	if (now <= c->in_charged) {
		guard_input_del(w->st->proc, c->addr_bucket, c->in_charged - now);
		w->in_total -= c->in_charged - now;
		c->in_charged = now;
		return true;
	}
	more = now - c->in_charged;
	if (w->in_total + more > w->cf->max_input_per_worker ||
	    !guard_input_add(w->st->proc, c->addr_bucket, more,
	    w->cf->max_input_per_address))
		return false;
	w->in_total += more;
	c->in_charged = now;
	return true;
}

/*
 * in_refuse - too much unfinished input here or from this address: what
 * c holds goes, with one QUOTA reply, and the line it was in is skipped
 * to its end, as one over max_line is; the connection stays usable.
 */
static void
in_refuse(struct conn *c)
{
	struct buf *out = reply_target(c);
	size_t before = buf_used(out);

	reply_error(out, E_QUOTA, "Too much unfinished input, line dropped");
	c->queued += buf_used(out) - before;
	buf_free(&c->in);
	c->scanned = 0;
	c->skipping = true;
	(void)in_charge(c);
}

/* take_input - frame newly read bytes, keeping what is left in c->in */
static int
take_input(struct conn *c, const char *data, size_t len)
{
	size_t used, scan;

	if (buf_used(&c->in) == 0) {
		scan = 0;
		used = frame(c, data, len, &scan);
		c->scanned = scan;
		if (buf_append(&c->in, data + used, len - used) == -1)
			return -1;
	} else {
		if (buf_append(&c->in, data, len) == -1)
			return -1;
		used = frame(c, buf_head(&c->in), buf_used(&c->in),
		    &c->scanned);
		buf_consume(&c->in, used);
		if (buf_used(&c->in) == 0)
			buf_free(&c->in);
	}
	if (!in_charge(c))
		in_refuse(c);
	return 0;
}

/* finish_pending - commit every lease whose reply is now fully written */
static void
finish_pending(struct conn *c)
{
	struct pending *p;

	while ((p = c->pending) != NULL && p->until <= c->written) {
		int n = inbox_commit(c->w->st, p->user, &p->lease,
		    c->w->cf->file_keep > 0);

		if (n == -1)
			log_err("inbox commit: %m");
		else
			__atomic_fetch_add(&c->w->me->delivered, (uint64_t)n,
			    __ATOMIC_RELAXED);
		c->pending = p->next;
		free(p);
	}
}

/* write_buf - write what the socket takes from b; -1 on a dead socket */
static int
write_buf(struct conn *c, struct buf *b)
{
	size_t n;
	int rc = buf_send(b, c->fd, &n);

	if (n > 0) {
		c->written += (uint64_t)n;
		__atomic_fetch_add(&c->w->me->bytes_out, (uint64_t)n,
		    __ATOMIC_RELAXED);
	}
	return rc;
}

/* send_replies - the waiting bytes first, then this round's scratch */
static int
send_replies(struct conn *c)
{
	struct buf *scratch = &c->w->scratch;
	uint64_t before = c->written;
	int rc = 0;

	if (buf_used(&c->out) > 0)
		rc = write_buf(c, &c->out);
	if (rc == 0 && buf_used(&c->out) == 0 && buf_used(scratch) > 0)
		rc = write_buf(c, scratch);
	if (buf_used(scratch) > 0) {
		if (rc == 0 && buf_append(&c->out, buf_head(scratch),
		    buf_used(scratch)) == -1)
			rc = -1;
		buf_reset(scratch);
	}
	if (buf_used(&c->out) == 0 && c->out.cap > 0)
		buf_free(&c->out);
	if (c->written != before)
		touch(c);
	finish_pending(c);
	watch_written(c);
	return rc;
}

/*
 * send_out - write what the connection owes; a watcher also gets its
 * pushes, batch after batch while the socket takes them all, then waits
 * for the next pass of the loop so that others get their turn.
 */
static int
send_out(struct conn *c)
{
	for (int i = 0; i < PUSH_ROUNDS; i++) {
		watch_fill(c);
		if (send_replies(c) == -1)
			return -1;
		if (!watch_again(c))
			return 0;
	}
	watch_later(c);
	return 0;
}

/* conn_unsent - reply bytes waiting for the socket */
size_t
conn_unsent(const struct conn *c)
{
	return buf_used(&c->out);
}

/*
 * conn_push - append o (freed), an object nobody asked for, behind the
 * replies produced so far; *end is conn->queued just after it.
 */
int
conn_push(struct conn *c, cJSON *o, uint64_t *end)
{
	struct buf *out = reply_target(c);
	size_t before = buf_used(out);
	int rc = o != NULL ? reply_finish(out, o) : -1;

	c->queued += buf_used(out) - before;
	*end = c->queued;
	return rc;
}

/*
 * update_interest - epoll interest for the connection's state; false:
 * close it
 */
static bool
update_interest(struct conn *c)
{
	uint32_t ev = 0;

	/* lines that waited behind the replies: no EPOLLIN may come for them */
	if (buf_used(&c->out) > 0 || (lines_waiting(c) && !backlogged(c)))
		ev |= EPOLLOUT;
	else if ((c->eof || c->w->stopping) && c->wait_for == 0 &&
	    c->pw_job == NULL && !c->more)
		return false;
	if (!c->eof && !backlogged(c))
		ev |= EPOLLIN | EPOLLRDHUP;
	if (ev != c->events) {
		struct epoll_event e = { .events = ev, .data.ptr = c };
		if (epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &e) == -1)
			return false;
		c->events = ev;
	}
	return true;
}

/* read_input - read what is there; answers the lines as they complete */
static int
read_input(struct conn *c)
{
	for (int i = 0; i < READS_PER_EVENT && !backlogged(c); i++) {
		ssize_t n = read(c->fd, rbuf, sizeof(rbuf));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		if (n == 0) {
			/*
			 * A last line without its line end is not a request:
			 * its sender may have died while writing it.
			 */
			c->eof = true;
			return 0;
		}
		touch(c);
		__atomic_fetch_add(&c->w->me->bytes_in, (uint64_t)n,
		    __ATOMIC_RELAXED);
		if (take_input(c, rbuf, (size_t)n) == -1)
			return -1;
		if ((size_t)n < sizeof(rbuf))
			break;
	}
	return 0;
}

/* lines_ready_add - lines are left over: serve them on the next turn */
static void
lines_ready_add(struct conn *c)
{
	if (c->listed)
		return;
	c->listed = true;
	c->ready_next = c->w->ready;
	c->w->ready = c;
}

/* lines_ready_del - off the ready list (closing) */
static void
lines_ready_del(struct conn *c)
{
	struct conn **pp = &c->w->ready;

	while (c->listed && *pp != NULL && *pp != c)
		pp = &(*pp)->ready_next;
	if (c->listed && *pp != NULL)
		*pp = c->ready_next;
	c->ready_next = NULL;
	c->listed = false;
	c->more = false;
}

/*
 * conn_serve_ready - one more turn for each connection that had lines
 * left over; those that still have some go back on the list
 */
void
conn_serve_ready(struct worker *w)
{
	struct conn *c = w->ready, *next;

	w->ready = NULL;
	for (; c != NULL; c = next) {
		next = c->ready_next;
		c->ready_next = NULL;
		c->listed = false;
		c->more = false;
		conn_event(c, 0);
	}
}

/* conn_event - epoll says fd is ready */
void
conn_event(struct conn *c, uint32_t events)
{
	if (c->fd == -1)
		return;				/* closed earlier in this batch */
	c->turn_lines = 0;
	if (events & EPOLLERR) {
		conn_close(c);
		return;
	}
	if ((events & EPOLLOUT) && send_replies(c) == -1) {
		conn_close(c);
		return;
	}
	/* replies drained: answer lines that waited behind them */
	if (!backlogged(c) && buf_used(&c->in) > 0 &&
	    take_input(c, "", 0) == -1) {
		conn_close(c);
		return;
	}
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) && !c->eof &&
	    read_input(c) == -1) {
		buf_reset(&c->w->scratch);	/* its replies: not another's */
		conn_close(c);
		return;
	}
	if (c->handoff != NULL) {
		/* a realm link: what we owe goes out, the rest is realmd's */
		(void)send_replies(c);
		realmd_handoff(c);
		return;
	}
	if (send_out(c) == -1 || !update_interest(c))
		conn_close(c);
	else if (c->more)
		lines_ready_add(c);
}

/*
 * conn_late_reply - the reply of the request the connection waited on;
 * then the lines that waited behind it are answered.  c may be closed.
 */
void
conn_late_reply(struct conn *c, struct buf *reply)
{
	struct buf *out = reply_target(c);

	if (buf_append(out, buf_head(reply), buf_used(reply)) == 0)
		c->queued += buf_used(reply);
	c->wait_for = 0;
	conn_event(c, 0);
}

/* refuse_accepted - tell a client over a connection limit, then hang up */
static void
refuse_accepted(int fd, const char *why)
{
	struct buf b = { 0 };

	reply_error(&b, E_QUOTA, why);
	(void)send(fd, buf_head(&b), buf_used(&b), MSG_NOSIGNAL | MSG_DONTWAIT);
	buf_free(&b);
	close(fd);
}

/*
 * conn_listen - add the listening socket to the worker's epoll set, or
 * take it out (op EPOLL_CTL_ADD or EPOLL_CTL_DEL).
 *
 * Sharing the connections.  EPOLLEXCLUSIVE wakes one worker per new
 * connection: the first idle one in the listening socket's wait queue,
 * which is nearly always the same one; and a worker woken by a burst
 * would take the whole burst.  Left alone, one worker ends up with
 * nearly every connection while the other CPUs idle.  So a worker that
 * holds more connections than another worker, by more than a slack,
 * takes one per wake-up and then registers the listening socket afresh,
 * which puts it at the end of that wait queue: the next connection
 * wakes another worker first.  A registration looks at the socket at
 * once, so connections already waiting are never left unseen.
 */
int
conn_listen(struct worker *w, int op)
{
	struct epoll_event e = { .events = EPOLLIN | EPOLLEXCLUSIVE,
	    .data.ptr = &listen_mark };

	return epoll_ctl(w->epfd, op, w->lfd, op == EPOLL_CTL_DEL ? NULL : &e);
}

/* over_share - another worker holds fewer connections, by the slack */
static bool
over_share(const struct worker *w)
{
	uint64_t mine = w->nconns, slack = 1 + mine / 16;

	for (int i = 0; i < SHM_PROCS; i++) {
		const struct shm_proc *p = &w->st->procs[i];

		if (p != w->me && p->role == PROC_WORKER &&
		    __atomic_load_n(&p->conns, __ATOMIC_RELAXED) + slack < mine)
			return true;
	}
	return false;
}

/* yield_listen - go to the end of the listening socket's wait queue */
static void
yield_listen(struct worker *w)
{
	if (conn_listen(w, EPOLL_CTL_DEL) == -1 ||
	    conn_listen(w, EPOLL_CTL_ADD) == -1)	/* the others accept */
		log_warn("epoll_ctl of the listening socket: %m");
}

/*
 * conn_accept - take the connections waiting on the listening socket: a
 * burst of them, but once this worker holds more than its share only
 * one, then yield the socket to the others.
 */
void
conn_accept(struct worker *w)
{
	bool over = false;

	for (int i = 0; i < ACCEPT_BURST && w->lfd != -1 && !over; i++) {
		int one = 1, fd;
		struct conn *c;
		struct epoll_event e;
		struct sockaddr_storage ss = { 0 };
		socklen_t sl = sizeof(ss);
		uint16_t bucket;

		fd = accept4(w->lfd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				log_warn("accept: %m");
			return;
		}
		if (w->nconns >= w->cf->max_connections) {
			refuse_accepted(fd, "Too many connections");
			continue;
		}
		bucket = guard_bucket(&ss);
		if (!guard_conn_add(w->st->proc, bucket,
		    w->cf->max_connections_per_address)) {
			refuse_accepted(fd,
			    "Too many connections from your address");
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			guard_conn_del(w->st->proc, bucket);
			refuse_accepted(fd, "Too many connections");
			continue;
		}
		c->addr_bucket = bucket;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		c->w = w;
		c->events = EPOLLIN | EPOLLRDHUP;
		e.events = c->events;
		e.data.ptr = c;
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &e) == -1) {
			log_warn("epoll_ctl: %m");
			guard_conn_del(w->st->proc, bucket);
			close(fd);
			free(c);
			continue;
		}
		w->nconns++;
		__atomic_fetch_add(&w->me->conns, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&w->me->accepted, 1, __ATOMIC_RELAXED);
		touch(c);
		over = over_share(w);
	}
	if (over)
		yield_listen(w);
}

/*
 * conn_close - hang up; messages of unsent inbox replies go back.  The
 * memory stays until conn_reap(): an event for c may still wait further
 * down the batch epoll_wait returned, and a push or a realmd reply can
 * close a connection in the middle of that batch.
 */
void
conn_close(struct conn *c)
{
	struct worker *w = c->w;
	struct pending *p;

	if (c->fd == -1)
		return;

	if (c->pending != NULL) {
		state_lock(w->st);
		for (p = c->pending; p != NULL; p = p->next)
			inbox_release_locked(w->st, p->user, &p->lease);
		state_unlock(w->st);
		while ((p = c->pending) != NULL) {
			c->pending = p->next;
			free(p);
		}
	}
	watch_close(c);
	realmd_forget(c);
	pw_forget(c);
	lines_ready_del(c);
	idle_unlink(w, c);
	guard_conn_del(w->st->proc, c->addr_bucket);
	close(c->fd);
	c->fd = -1;
	free(c->handoff);
	c->handoff = NULL;
	buf_free(&c->in);
	(void)in_charge(c);
	buf_free(&c->out);
	c->dead_next = w->dead;
	w->dead = c;
	w->nconns--;
	__atomic_fetch_sub(&w->me->conns, 1, __ATOMIC_RELAXED);
}

/* conn_reap - free the connections closed since the last call */
void
conn_reap(struct worker *w)
{
	struct conn *c;

	while ((c = w->dead) != NULL) {
		w->dead = c->dead_next;
		free(c);
	}
}

/*
 * conn_expire_idle - hang up on connections quiet for idle_timeout, and
 * on those whose replies have waited unread for send_timeout.  The list
 * is oldest first, so the walk stops at the first one quiet for less.
 */
void
conn_expire_idle(struct worker *w, uint64_t now)
{
	uint64_t limit = w->cf->idle_timeout * 1000;
	uint64_t send_limit = w->cf->send_timeout * 1000;
	struct conn *c, *next;

	while (w->idle_head != NULL && w->idle_head->last_active + limit <= now)
		conn_close(w->idle_head);
	for (c = w->idle_head; c != NULL && c->last_active + send_limit <= now;
	    c = next) {
		next = c->idle_next;
		if (buf_used(&c->out) > 0)
			conn_close(c);
	}
}

/*
 * conn_stop - graceful stop: connections with nothing to send close now,
 * the others once their replies are out (or the grace period ends).
 */
void
conn_stop(struct worker *w)
{
	struct conn *c = w->idle_head, *next;

	for (; c != NULL; c = next) {
		next = c->idle_next;
		c->eof = true;
		if (!update_interest(c))
			conn_close(c);
	}
}
