/*
 * NAME
 *	realmd - the process that owns every link to another realm
 * DESCRIPTION
 *	Forked and supervised by the master like a worker, with the state
 *	mapped.  Workers connect to its UNIX socket (state_dir/realmd.sock,
 *	made and kept by the master, so that it outlives any one realmd)
 *	and send typed messages (lib/chan.h): a connection that opened with
 *	the realm handshake (its descriptor passed with SCM_RIGHTS), a
 *	message queued for a link, addrealm, and the round trips (ping,
 *	join, history).  Each is answered with one CHAN_RESULT carrying the
 *	worker's request number.  A peer is accepted on the socket only if
 *	its credentials name a live worker or the master of this state; a
 *	message is acted on only once chan_take() has checked it whole.
 *
 *	The loop wakes at least every TICK_MS for the timers: requests
 *	that waited too long, handshakes that took too long, links to dial
 *	again.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <bsd/unistd.h>

#include "lib/log.h"
#include "lib/pwpool.h"
#include "realmd/realmd.h"

#define MAX_EVENTS	64
#define TICK_MS		100
#define CHAN_OUT_MAX	(64u << 20)	/* results a worker has not read */

struct realmd rd;

static char listen_mark, signal_mark;

int
watch_fd(int fd, uint32_t events, void *ptr)
{
	struct epoll_event e = { .events = events, .data.ptr = ptr };

	return epoll_ctl(rd.epfd, EPOLL_CTL_ADD, fd, &e);
}

static void
chan_close(struct chan *c)
{
	struct chan **pp;

	for (pp = &rd.chans; *pp != NULL && *pp != c; pp = &(*pp)->next)
		;
	if (*pp != NULL)
		*pp = c->next;
	peer_chan_gone(c);
	for (struct waiter **wp = &rd.waiters; *wp != NULL;) {
		struct waiter *w = *wp;
		if (w->chan == c) {
			*wp = w->next;
			free(w);
		} else
			wp = &w->next;
	}
	for (int i = 0; i < c->nfds; i++)
		close(c->fds[i]);
	close(c->fd);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}

/* chan_flush - write what the worker's socket takes */
void
chan_flush(struct chan *c)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };

	c->dirty = false;
	/* an error is not handled here: reading finds the worker gone */
	(void)buf_send(&c->out, c->fd, NULL);
	if (buf_used(&c->out) > 0)
		e.events |= EPOLLOUT;
	else
		buf_free(&c->out);
	if (e.events != c->events &&
	    epoll_ctl(rd.epfd, EPOLL_CTL_MOD, c->fd, &e) == 0)
		c->events = e.events;
}

/* flush_dirty - write the results of this round of events, once per worker */
static void
flush_dirty(void)
{
	for (struct chan *c = rd.chans; c != NULL; c = c->next)
		if (c->dirty)
			chan_flush(c);
}

/* realmd_result - answer request req of a worker with o (freed) */
void
realmd_result(struct chan *c, uint64_t req, cJSON *o)
{
	if (c == NULL || buf_used(&c->out) > CHAN_OUT_MAX) {
		cJSON_Delete(o);
		return;
	}
	if (chan_put_json(&c->out, CHAN_RESULT, req, o) == -1)
		log_err("realmd: result: %m");
	c->dirty = true;	/* written at the end of this round (flush_dirty) */
}

void
realmd_error(struct chan *c, uint64_t req, int code, const char *msg)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddBoolToObject(o, "ok", false);
	cJSON_AddStringToObject(o, "code", code_name((enum rc_code)code));
	cJSON_AddStringToObject(o, "message",
	    msg != NULL ? msg : code_text((enum rc_code)code));
	realmd_result(c, req, o);
}

void
waiter_add(enum wait_kind kind, struct chan *c, uint64_t req, uint32_t realm,
    uint64_t key)
{
	struct waiter *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		realmd_error(c, req, E_INTERNAL, NULL);
		return;
	}
	w->kind = kind;
	w->chan = c;
	w->req = req;
	w->realm = realm;
	w->key = key;
	w->started = now_msec();
	w->deadline = w->started + rd.cf->realm_wait * 1000;
	w->next = rd.waiters;
	rd.waiters = w;
}

/* waiter_take - unlink and return the waiter for (kind, realm, key) */
struct waiter *
waiter_take(enum wait_kind kind, uint32_t realm, uint64_t key)
{
	for (struct waiter **wp = &rd.waiters; *wp != NULL; wp = &(*wp)->next) {
		struct waiter *w = *wp;
		if (w->kind == kind && w->realm == realm && w->key == key) {
			*wp = w->next;
			return w;
		}
	}
	return NULL;
}

/* waiter_expire - the answer of a request that can wait no more */
static void
waiter_expire(struct waiter *w, const char *why)
{
	if (w->kind == WAIT_VERDICT) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddBoolToObject(o, "ok", true);
		cJSON_AddBoolToObject(o, "queued", true);
		realmd_result(w->chan, w->req, o);
	} else
		realmd_error(w->chan, w->req, E_REALM_UNREACHABLE, why);
	free(w);
}

/* waiters_fail_link - the link went down: nobody waits on it any more */
void
waiters_fail_link(uint32_t realm)
{
	for (struct waiter **wp = &rd.waiters; *wp != NULL;) {
		struct waiter *w = *wp;
		if (w->realm == realm) {
			*wp = w->next;
			waiter_expire(w, "Realm Unreachable: the link went down");
		} else
			wp = &w->next;
	}
}

static void
waiters_tick(uint64_t now)
{
	for (struct waiter **wp = &rd.waiters; *wp != NULL;) {
		struct waiter *w = *wp;
		if (w->deadline <= now) {
			*wp = w->next;
			waiter_expire(w, "Realm Unreachable: no answer in time");
		} else
			wp = &w->next;
	}
}

/* sender_ok - a process of this state may use the socket */
static bool
sender_ok(pid_t pid)
{
	for (int i = 0; i < SHM_PROCS; i++)
		if (rd.st->procs[i].pid == pid &&
		    (rd.st->procs[i].role == PROC_WORKER ||
		    rd.st->procs[i].role == PROC_MASTER))
			return true;
	return false;
}

static void
chan_accept(void)
{
	for (;;) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		struct chan *c;
		int fd = accept4(rd.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
		    !sender_ok(cred.pid)) {
			log_warn("realmd: refused a connection from pid %d",
			    (int)cred.pid);
			close(fd);
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->tag = TAG_CHAN;
		c->fd = fd;
		c->pid = cred.pid;
		c->events = EPOLLIN;
		if (watch_fd(fd, EPOLLIN, c) == -1) {
			close(fd);
			free(c);
			continue;
		}
		c->next = rd.chans;
		rd.chans = c;
	}
}

/* chan_read - bytes and passed descriptors; -1 when the worker is gone */
static int
chan_read(struct chan *c)
{
	char data[64 * 1024];
	union {
		char		buf[CMSG_SPACE(CHAN_FDS * sizeof(int))];
		struct cmsghdr	align;
	} ctl;

	/*
	 * A read stops at a passed descriptor, so stopping while CHAN_FDS
	 * wait keeps every one: the handoffs they go with are dispatched
	 * first, and the rest is read on the next wake-up (a burst of
	 * handoffs must not cost one its descriptor and the channel).
	 */
	while (c->nfds < CHAN_FDS) {
		struct iovec iov = { data, sizeof(data) };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
		};
		ssize_t n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm != NULL;
		    cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int *fds = (int *)(void *)CMSG_DATA(cm);
			for (size_t i = 0; i < k; i++) {
				if (c->nfds < CHAN_FDS)
					c->fds[c->nfds++] = fds[i];
				else
					close(fds[i]);
			}
		}
		if (mh.msg_flags & MSG_CTRUNC)
			log_warn("realmd: descriptors lost from worker %d",
			    (int)c->pid);
		if (n == 0)
			return -1;
		if (buf_append(&c->in, data, (size_t)n) == -1)
			return -1;
	}
	return 0;
}

/* take_fd - the oldest descriptor the worker passed, or -1 */
static int
take_fd(struct chan *c)
{
	int fd;

	if (c->nfds == 0)
		return -1;
	fd = c->fds[0];
	memmove(c->fds, c->fds + 1, (size_t)(c->nfds - 1) * sizeof(int));
	c->nfds--;
	return fd;
}

/*
 * dispatch - one message from a worker, checked whole by chan_take();
 * -1 if the channel is broken
 */
static int
dispatch(struct chan *c, const struct chan_msg *m)
{
	int fd;

	switch (m->h.type) {
	case CHAN_HANDOFF:
		if ((fd = take_fd(c)) == -1)
			return -1;
		peer_accept(fd, m->body, m->h.len);
		break;
	case CHAN_SEND:
		peer_send(c, m->h.req, m->json);
		break;
	case CHAN_ADDREALM:
		peer_addrealm(c, m->h.req, m->json);
		break;
	default:
		peer_request(c, m->h.req, m->h.type, m->json);
		break;
	}
	return 0;
}

static void
chan_event(struct chan *c, uint32_t events)
{
	struct chan_msg m;
	const char *why = "a handoff without its descriptor";
	int rc;

	if (events & EPOLLOUT)
		chan_flush(c);
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	if (chan_read(c) == -1) {
		/* answer what is complete, then let the worker go */
		while (chan_take(&c->in, CHAN_AT_REALMD, &m, &why) == 1) {
			(void)dispatch(c, &m);
			chan_msg_free(&m);
		}
		chan_close(c);
		return;
	}
	while ((rc = chan_take(&c->in, CHAN_AT_REALMD, &m, &why)) == 1) {
		rc = dispatch(c, &m);
		chan_msg_free(&m);
		if (rc == -1)
			break;
	}
	if (rc == -1) {
		log_warn("realmd: bad message from worker %d (%s); dropped it",
		    (int)c->pid, why);
		chan_close(c);
	}
}

/*
 * realmd_listen - the workers' socket, state_dir/realmd.sock (mode 0600).
 * The master makes it before it forks anyone and keeps it, so that a
 * worker can always connect: what it sends waits in the socket's backlog
 * while realmd starts or is respawned.  -1 with err set.
 */
int
realmd_listen(const struct config *cf, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd;

	if (chan_socket_path(cf, sa.sun_path, sizeof(sa.sun_path)) == -1) {
		snprintf(err, errlen, "state_dir %s is too long for realmd's socket",
		    cf->state_dir);
		return -1;
	}
	unlink(sa.sun_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	old = umask(077);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(fd, 1024) == -1) {
		snprintf(err, errlen, "%s: %s", sa.sun_path, strerror(errno));
		umask(old);
		close(fd);
		return -1;
	}
	umask(old);
	return fd;
}

static int
setup_signals(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_SETMASK, &set, NULL);
	rd.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return rd.sigfd == -1 ? -1 : 0;
}

static void
run(void)
{
	struct epoll_event ev[MAX_EVENTS];
	uint64_t next_tick = 0;

	while (!rd.stopping) {
		int n = epoll_wait(rd.epfd, ev, MAX_EVENTS, TICK_MS);
		uint64_t now;

		if (n == -1 && errno != EINTR) {
			log_err("realmd: epoll_wait: %m");
			return;
		}
		for (int i = 0; i < n; i++) {
			void *p = ev[i].data.ptr;
			if (p == &listen_mark)
				chan_accept();
			else if (p == &signal_mark)
				rd.stopping = true;
			else if (p == &join_mark)
				pwpool_event();
			else if (*(enum tag *)p == TAG_CHAN)
				chan_event(p, ev[i].events);
			else
				peer_event(p, ev[i].events);
		}
		flush_dirty();
		now = now_msec();
		if (now >= next_tick) {
			next_tick = now + TICK_MS;
			waiters_tick(now);
			peer_tick(now);
			flush_dirty();
			if (getppid() != rd.st->procs[0].pid)
				rd.stopping = true;
		}
	}
}

/*
 * realmd_main - body of the realmd process; slot is its entry in the
 * state's process table.  Returns the exit status.
 */
int
realmd_main(const struct config *cf, struct state *st, int lfd, int slot)
{
	rd.cf = cf;
	rd.st = st;
	rd.lfd = lfd;
	rd.sigfd = -1;
	state_set_proc(st, slot);
	rd.me = &st->procs[slot];
	reply_count_errors(rd.me->errors);
	setproctitle("%s", "realmd");
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != st->procs[0].pid)
		return 1;
	if (setup_signals() == -1 ||
	    (rd.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    watch_fd(rd.lfd, EPOLLIN, &listen_mark) == -1 ||
	    watch_fd(rd.sigfd, EPOLLIN, &signal_mark) == -1 ||
	    pwpool_start(rd.epfd, &join_mark) == -1) {
		log_err("realmd setup: %m");
		return 1;
	}
	/* without a secret no link can be made: no certificate is needed */
	if (cf->realm_secret[0] != '\0' && tls_init(cf) == -1)
		return 1;
	log_info("realmd %d serving realm %s", (int)getpid(), cf->realm_name);
	peer_close_all();	/* links a dead realmd left marked up are down */
	run();
	peer_close_all();
	pwpool_stop();		/* joins waiting: their links are gone */
	while (rd.chans != NULL)
		chan_close(rd.chans);
	return 0;
}
