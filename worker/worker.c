/*
 * NAME
 *	worker - the event loop of a worker process
 * DESCRIPTION
 *	Forked by the master with the state mapped and the listening socket
 *	open.  Every worker waits on the same listening socket
 *	(EPOLLEXCLUSIVE, so one is woken per connection; the workers share
 *	the connections, see conn.c), and serves the connections it accepted
 *	until it is told to stop.
 *
 *	SIGTERM or SIGINT (through a signalfd): stop accepting, send what is
 *	owed, exit; connections still busy after STOP_GRACE_MS are cut.
 *	The worker also exits if the master dies.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <bsd/unistd.h>

#include "lib/log.h"
#include "worker/worker.h"

#define MAX_EVENTS	256
#define TICK_MS		1000
#define STOP_GRACE_MS	5000

/* Markers in epoll data for the two descriptors that are not connections. */
static char signal_mark;

static int
setup_signals(struct worker *w)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);	/* the master reloads, not us */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	/* exactly these stay blocked (the master blocked more), for signalfd */
	sigprocmask(SIG_SETMASK, &set, NULL);
	w->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return w->sigfd == -1 ? -1 : 0;
}

static int
watch(struct worker *w, int fd, uint32_t events, void *mark)
{
	struct epoll_event e = { .events = events, .data.ptr = mark };

	return epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &e);
}

/* begin_stop - stop accepting; connections finish what they owe */
static void
begin_stop(struct worker *w)
{
	if (w->stopping)
		return;
	w->stopping = true;
	conn_listen(w, EPOLL_CTL_DEL);
	close(w->lfd);
	w->lfd = -1;
	conn_stop(w);
}

static void
drain_signals(struct worker *w)
{
	struct signalfd_siginfo si;

	while (read(w->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		begin_stop(w);
}

/* worker_loop - the loop proper; returns when stopped and drained */
static void
worker_loop(struct worker *w)
{
	struct epoll_event ev[MAX_EVENTS];
	uint64_t next_tick = now_msec() + TICK_MS, deadline = 0;

	for (;;) {
		int n = epoll_wait(w->epfd, ev, MAX_EVENTS,
		    w->ready != NULL ? 0 : TICK_MS);
		uint64_t now;

		if (n == -1 && errno != EINTR) {
			log_err("epoll_wait: %m");
			return;
		}
		for (int i = 0; i < n; i++) {
			if (ev[i].data.ptr == &listen_mark)
				conn_accept(w);
			else if (ev[i].data.ptr == &signal_mark)
				drain_signals(w);
			else if (ev[i].data.ptr == &realmd_mark)
				realmd_event(w, ev[i].events);
			else if (ev[i].data.ptr == &watch_mark)
				watch_wakeup(w);
			else if (ev[i].data.ptr == &pwpool_mark)
				pwpool_event();
			else
				conn_event(ev[i].data.ptr, ev[i].events);
		}
		conn_serve_ready(w);
		/* pushes: hints from senders (ours too), watchers due */
		watch_run(w);
		conn_reap(w);
		now = now_msec();
		if (now >= next_tick) {
			next_tick = now + TICK_MS;
			conn_expire_idle(w, now);
			realmd_tick(w, now);
			if (getppid() != w->st->procs[0].pid)
				begin_stop(w);
		}
		if (w->stopping) {
			if (deadline == 0)
				deadline = now + STOP_GRACE_MS;
			if (w->nconns == 0 || now >= deadline)
				return;
		}
	}
}

/*
 * worker_main - body of a worker process; slot is its entry in the
 * state's process table.  Returns the exit status.
 */
int
worker_main(const struct config *cf, struct state *st, int lfd, int slot)
{
	struct worker w = { .cf = cf, .st = st, .lfd = lfd, .sigfd = -1,
	    .realmd = { .fd = -1 } };

	state_set_proc(st, slot);
	st->spool_reserve = cf->spool_reserve;	/* as reloaded */
	w.me = &st->procs[slot];
	reply_count_errors(w.me->errors);
	reply_use_arena();
	setproctitle("%s", "worker");
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != st->procs[0].pid)
		return 1;		/* the master died before we were set up */
	command_init();
	if (setup_signals(&w) == -1 ||
	    (w.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    conn_listen(&w, EPOLL_CTL_ADD) == -1 ||
	    watch(&w, w.sigfd, EPOLLIN, &signal_mark) == -1 ||
	    watch_init(&w) == -1 ||
	    pwpool_start(w.epfd, &pwpool_mark) == -1 ||
	    (w.msg_idx = calloc(cf->inbox_batch, sizeof(uint32_t))) == NULL) {
		log_err("worker setup: %m");
		return 1;
	}
	worker_loop(&w);
	while (w.idle_head != NULL)
		conn_close(w.idle_head);
	conn_reap(&w);
	pwpool_stop();
	realmd_close(&w);
	watch_forget_all(&w);
	free(w.msg_idx);
	buf_free(&w.scratch);
	return 0;
}
