/*
 * NAME
 *	realmchatd - the master process
 * SYNOPSIS
 *	realmchatd [-d] [-n] [-f config]
 * DESCRIPTION
 *	Reads the configuration, binds the listening socket, opens (and
 *	recovers) the state, loads the seed users into a new state, then
 *	preforks the workers and supervises them.
 *
 *	Signals are taken synchronously: they stay blocked and the loop
 *	collects them with sigtimedwait(), so no work happens in a handler.
 *	SIGCHLD: reap; a child that died holding the state lock has its
 *	transaction rolled back and the lock freed before anyone else can
 *	miss it; its leases lapse; it is respawned, later and later if it
 *	keeps dying young.  SIGTERM/SIGINT: stop gracefully, TERM then KILL
 *	after STOP_WAIT_MS.  SIGHUP: reload the configuration; a bad file is
 *	refused and the running configuration stays.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <bsd/libutil.h>
#include <bsd/unistd.h>

#include "lib/log.h"
#include "master/master.h"
#include "worker/worker.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif
#define DEFAULT_CONFIG	SYSCONFDIR "/realmchat/realmchat.conf"

#define STOP_WAIT_MS	10000
#define YOUNG_MS	5000		/* a death sooner than this is "young" */
#define RESPAWN_MAX_MS	30000
#define SWEEP_MS	60000		/* expired sessions */

struct child {
	pid_t		 pid;		/* 0: not running */
	int		 slot;		/* in the state's process table */
	bool		 used;		/* entry in use (running or due) */
	bool		 retiring;	/* from before a reload: not respawned */
	uint64_t	 started;	/* now_msec() */
	uint64_t	 due;		/* respawn at, if not running */
	unsigned	 young_deaths;	/* in a row */
};

static struct {
	struct config	 cf;
	struct state	 st;
	int		 lfd;
	struct pidfh	*pidfh;
	struct child	 kids[SHM_PROCS];
	bool		 stopping;
	sigset_t	 sigs;
} m;

static void
usage(void)
{
	fprintf(stderr, "usage: realmchatd [-d] [-n] [-f config]\n");
	exit(2);
}

static unsigned
worker_count(const struct config *cf)
{
	long n = cf->workers ? (long)cf->workers : sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > SHM_PROCS - 2 ? SHM_PROCS - 2 : (unsigned)n;
}

/* spawn - fork the worker of entry k */
static void
spawn(struct child *k)
{
	int slot = state_proc_claim(&m.st, PROC_WORKER);
	pid_t pid;

	k->due = 0;
	if (slot == -1) {
		log_err("no free process slot for a worker");
		k->due = now_msec() + RESPAWN_MAX_MS;
		return;
	}
	if ((pid = fork()) == -1) {
		log_err("fork: %m");
		state_proc_release(&m.st, slot);
		k->due = now_msec() + 1000;
		return;
	}
	if (pid == 0) {
		if (m.pidfh != NULL)
			pidfile_close(m.pidfh);
		_exit(worker_main(&m.cf, &m.st, m.lfd, slot));
	}
	m.st.procs[slot].pid = pid;
	k->pid = pid;
	k->slot = slot;
	k->started = now_msec();
	log_info("worker %d started", (int)pid);
}

static struct child *
new_child(void)
{
	for (int i = 0; i < SHM_PROCS; i++)
		if (!m.kids[i].used) {
			memset(&m.kids[i], 0, sizeof(m.kids[i]));
			m.kids[i].used = true;
			return &m.kids[i];
		}
	return NULL;
}

static void
spawn_workers(unsigned n)
{
	struct child *k;

	while (n-- > 0 && (k = new_child()) != NULL)
		spawn(k);
}

static struct child *
child_of(pid_t pid)
{
	for (int i = 0; i < SHM_PROCS; i++)
		if (m.kids[i].used && m.kids[i].pid == pid)
			return &m.kids[i];
	return NULL;
}

/* schedule - when to respawn a worker that died; young deaths back off */
static void
schedule(struct child *k, uint64_t now)
{
	uint64_t delay = 0;

	if (now - k->started < YOUNG_MS) {
		k->young_deaths++;
		delay = 100ULL << (k->young_deaths < 9 ? k->young_deaths : 9);
		if (delay > RESPAWN_MAX_MS)
			delay = RESPAWN_MAX_MS;
	} else
		k->young_deaths = 0;
	k->due = now + delay;
	if (delay > 0)
		log_warn("worker keeps dying; respawn in %llu ms",
		    (unsigned long long)delay);
}

/* reap - collect dead children, recover what they held, plan respawns */
static void
reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct child *k = child_of(pid);

		state_recover_dead(&m.st, pid);
		if (k == NULL)
			continue;
		state_proc_release(&m.st, k->slot);
		k->pid = 0;
		if (WIFSIGNALED(status))
			log_msg(m.stopping || k->retiring ? LOG_INFO : LOG_WARNING,
			    "worker %d killed by signal %d", (int)pid,
			    WTERMSIG(status));
		else
			log_msg(WEXITSTATUS(status) ? LOG_WARNING : LOG_INFO,
			    "worker %d exited with status %d", (int)pid,
			    WEXITSTATUS(status));
		if (m.stopping || k->retiring)
			k->used = false;
		else
			schedule(k, now_msec());
	}
}

static void
respawn_due(uint64_t now)
{
	for (int i = 0; i < SHM_PROCS; i++) {
		struct child *k = &m.kids[i];
		if (k->used && k->pid == 0 && k->due != 0 && k->due <= now &&
		    !m.stopping)
			spawn(k);
	}
}

static unsigned
running(void)
{
	unsigned n = 0;

	for (int i = 0; i < SHM_PROCS; i++)
		n += m.kids[i].used && m.kids[i].pid != 0;
	return n;
}

static void
signal_children(int sig, bool retiring_too)
{
	for (int i = 0; i < SHM_PROCS; i++)
		if (m.kids[i].used && m.kids[i].pid != 0 &&
		    (retiring_too || !m.kids[i].retiring))
			kill(m.kids[i].pid, sig);
}

/* stop - graceful stop: TERM, wait, then KILL what is left */
static void
stop(void)
{
	uint64_t deadline = now_msec() + STOP_WAIT_MS;
	bool killed = false;

	log_notice("stopping");
	m.stopping = true;
	close(m.lfd);
	signal_children(SIGTERM, true);
	while (running() > 0) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		siginfo_t si;

		(void)sigtimedwait(&m.sigs, &si, &ts);
		reap();
		if (!killed && now_msec() >= deadline) {
			log_warn("workers still busy; killing them");
			signal_children(SIGKILL, true);
			killed = true;
		}
	}
}

/*
 * reload - read the configuration again.  Workers are replaced by new
 * ones that run the new configuration; the old ones finish the requests
 * in hand and exit.  What cannot change without a restart is kept.
 */
static void
reload(void)
{
	struct config nc;
	char err[1024];

	if (config_load(&nc, m.cf.path, err, sizeof(err)) == -1) {
		log_err("reload refused: %s", err);
		return;
	}
	if (strcmp(nc.listen_host, m.cf.listen_host) != 0 ||
	    nc.listen_port != m.cf.listen_port)
		log_warn("reload: listen changes need a restart; still on %s:%u",
		    m.cf.listen_host, m.cf.listen_port);
	if (strcmp(nc.state_dir, m.cf.state_dir) != 0 ||
	    strcmp(nc.pidfile, m.cf.pidfile) != 0)
		log_warn("reload: state_dir and pidfile changes need a restart");
	if (nc.max_users != m.cf.max_users || nc.max_sessions != m.cf.max_sessions ||
	    nc.max_messages != m.cf.max_messages ||
	    nc.message_store != m.cf.message_store)
		log_notice("reload: capacities apply when a new state file is made");
	memcpy(nc.listen_host, m.cf.listen_host, sizeof(nc.listen_host));
	nc.listen_port = m.cf.listen_port;
	memcpy(nc.state_dir, m.cf.state_dir, sizeof(nc.state_dir));
	memcpy(nc.pidfile, m.cf.pidfile, sizeof(nc.pidfile));
	m.cf = nc;
	log_set_level(m.cf.log_level);
	for (int i = 0; i < SHM_PROCS; i++)
		if (m.kids[i].used) {
			m.kids[i].retiring = true;
			if (m.kids[i].pid == 0)
				m.kids[i].used = false;
		}
	signal_children(SIGTERM, true);
	spawn_workers(worker_count(&m.cf));
	log_notice("reloaded %s: %u workers", m.cf.path, worker_count(&m.cf));
}

/* sweep_sessions - end sessions idle past session_timeout */
static void
sweep_sessions(void)
{
	int n;

	txn_begin(&m.st);
	n = session_expire(&m.st, now_sec(), m.cf.session_timeout, 4096);
	if (n == -1)
		txn_abort(&m.st);
	else
		txn_commit(&m.st);
	if (n > 0)
		log_info("ended %d idle sessions", n);
}

static void
supervise(void)
{
	uint64_t next_sweep = now_msec() + SWEEP_MS;

	for (;;) {
		struct timespec ts = { 1, 0 };
		siginfo_t si;
		uint64_t now;

		switch (sigtimedwait(&m.sigs, &si, &ts)) {
		case SIGTERM:
		case SIGINT:
			stop();
			return;
		case SIGHUP:
			reload();
			break;
		}
		reap();
		now = now_msec();
		respawn_due(now);
		if (now >= next_sweep) {
			sweep_sessions();
			next_sweep = now + SWEEP_MS;
		}
	}
}

/* raise_nofile - as many descriptors as we may have: one per connection */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* start - everything that can fail with a message to the operator */
static int
start(bool foreground, char *err, size_t errlen)
{
	pid_t other;

	raise_nofile();
	if (mkdir_p(m.cf.state_dir, 0700) == -1) {
		snprintf(err, errlen, "%.900s: %s", m.cf.state_dir, strerror(errno));
		return -1;
	}
	if ((m.pidfh = pidfile_open(m.cf.pidfile, 0644, &other)) == NULL) {
		if (errno == EEXIST)
			snprintf(err, errlen, "already running (pid %d)", (int)other);
		else
			snprintf(err, errlen, "%.900s: %s", m.cf.pidfile,
			    strerror(errno));
		return -1;
	}
	/* no client may connect to a daemon that will refuse its state */
	if (state_open(&m.st, &m.cf, err, errlen) == -1 ||
	    seed_load(&m.st, &m.cf, err, errlen) == -1 ||
	    (m.lfd = listen_open(&m.cf, err, errlen)) == -1)
		return -1;
	if (!foreground && daemon(0, 0) == -1) {
		snprintf(err, errlen, "daemon: %s", strerror(errno));
		return -1;
	}
	m.st.pid = (uint32_t)getpid();
	if (state_proc_claim(&m.st, PROC_MASTER) != 0) {
		snprintf(err, errlen, "process table not empty at start");
		return -1;
	}
	state_set_proc(&m.st, 0);
	pidfile_write(m.pidfh);
	return 0;
}

int
main(int argc, char *argv[], char *envp[])
{
	const char *path = DEFAULT_CONFIG;
	bool foreground = false, check = false;
	char err[1024];
	int ch;

	setproctitle_init(argc, argv, envp);
	while ((ch = getopt(argc, argv, "dnf:")) != -1) {
		switch (ch) {
		case 'd': foreground = true; break;
		case 'n': check = true; break;
		case 'f': path = optarg; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (config_load(&m.cf, path, err, sizeof(err)) == -1 ||
	    (check && seed_check(&m.cf, err, sizeof(err)) == -1)) {
		fprintf(stderr, "realmchatd: %s\n", err);
		return 1;
	}
	if (check) {
		printf("%s: configuration OK\n", path);
		return 0;
	}
	log_init("realmchatd", foreground, m.cf.log_level);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&m.sigs);
	sigaddset(&m.sigs, SIGTERM);
	sigaddset(&m.sigs, SIGINT);
	sigaddset(&m.sigs, SIGHUP);
	sigaddset(&m.sigs, SIGCHLD);
	sigprocmask(SIG_BLOCK, &m.sigs, NULL);
	if (start(foreground, err, sizeof(err)) == -1) {
		fprintf(stderr, "realmchatd: %s\n", err);
		log_err("%s", err);
		if (m.pidfh != NULL)
			pidfile_remove(m.pidfh);
		return 1;
	}
	setproctitle("%s", "master");
	log_notice("started: realm %s on %s:%u, %u workers, state %s",
	    m.cf.realm_name, m.cf.listen_host, m.cf.listen_port,
	    worker_count(&m.cf), m.cf.state_dir);
	spawn_workers(worker_count(&m.cf));
	supervise();
	state_close(&m.st);
	pidfile_remove(m.pidfh);
	log_notice("stopped");
	return 0;
}
