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
 *	One poll() loop waits on a signalfd and on the control socket and
 *	its clients, so no work happens in a signal handler and no control
 *	client, however slow, can hold up supervision: control I/O is
 *	non-blocking and bounded (control.c).
 *
 *	SIGCHLD: reap; a child that died holding the state lock has its
 *	transaction rolled back and the lock freed before anyone else can
 *	miss it; its leases lapse; its counters are added to the master's;
 *	it is respawned, later and later if it keeps dying young.
 *	SIGTERM/SIGINT (or realmctl stop): stop gracefully, TERM then KILL
 *	after STOP_WAIT_MS, still serving the control socket meanwhile.
 *	SIGHUP (or realmctl reload): reload the configuration; a bad file is
 *	refused and the running configuration stays.
 *
 *	Started as root, it binds, opens the state and the control socket,
 *	then becomes the configured user before it forks a worker (priv.c).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/param.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <bsd/libutil.h>
#include <bsd/unistd.h>

#include "lib/chan.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "lib/version.h"
#include "master/master.h"
#include "shm/guard.h"

#include "paths.h"		/* made by the Makefile, in $(BUILD) */

#define DEFAULT_CONFIG	SYSCONFDIR "/realmchat/realmchat.conf"

#define STOP_WAIT_MS	10000
#define YOUNG_MS	5000		/* a death sooner than this is "young" */
#define RESPAWN_MAX_MS	30000
#define SWEEP_MS	60000		/* expired sessions */
#define FILE_SWEEP_MS	1000		/* kept files past file_keep */
#define TICK_MS		1000		/* longest sleep of the loop */
#define LOCK_WAIT_MS	2000		/* master_lock() gives up after this */

struct child {
	enum proc_role	 role;		/* PROC_WORKER or PROC_REALMD */
	pid_t		 pid;		/* 0: not running */
	int		 slot;		/* in the state's process table */
	bool		 used;		/* entry in use (running or due) */
	bool		 retiring;	/* from before a reload: not respawned */
	uint64_t	 started;	/* now_msec(); 0 before the first fork */
	uint64_t	 due;		/* respawn at, if not running */
	unsigned	 young_deaths;	/* in a row */
};

static struct {
	struct config	 cf;
	struct state	 st;
	struct priv	 priv;
	int		 lfd;		/* clients; -1 once stopping */
	int		 rfd;		/* realmd's socket, for the workers */
	int		 sigfd;		/* the blocked signals, as a descriptor */
	struct pidfh	*pidfh;
	struct child	 kids[SHM_PROCS];
	uint64_t	 started;	/* wall-clock seconds */
	uint64_t	 next_sweep;	/* now_msec() of the next session sweep */
	uint64_t	 next_file_sweep; /* now_msec() of the next kept-file sweep */
	bool		 stopping;
	bool		 killed;	/* stopping, and SIGKILL was sent */
	uint64_t	 kill_at;	/* stopping: now_msec() to send SIGKILL */
	sigset_t	 sigs;
} m = { .st = { .fd = -1 }, .lfd = -1, .rfd = -1, .sigfd = -1 };

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

static const char *
role_name(enum proc_role r)
{
	return r == PROC_REALMD ? "realmd" : "worker";
}

/* child_main - in a new child: drop the master's descriptors, then serve */
static void
child_main(const struct child *k, int slot)
{
	if (m.pidfh != NULL)
		pidfile_close(m.pidfh);
	close(m.sigfd);
	control_forget();
	if (k->role == PROC_REALMD) {
		close(m.lfd);
		_exit(realmd_main(&m.cf, &m.st, m.rfd, slot));
	}
	close(m.rfd);
	_exit(worker_main(&m.cf, &m.st, m.lfd, slot));
}

/* child_spawn - fork the child of entry k */
static void
child_spawn(struct child *k)
{
	int slot = state_proc_claim(&m.st, k->role);
	bool again = k->started != 0;
	pid_t pid;

	k->due = 0;
	if (slot == -1) {
		log_err("no free process slot for a %s", role_name(k->role));
		k->due = now_msec() + RESPAWN_MAX_MS;
		return;
	}
	if ((pid = fork()) == -1) {
		log_err("fork: %m");
		state_proc_release(&m.st, slot);
		k->due = now_msec() + 1000;
		return;
	}
	if (pid == 0)
		child_main(k, slot);
	m.st.procs[slot].pid = pid;
	k->pid = pid;
	k->slot = slot;
	k->started = now_msec();
	log_msg(again ? LOG_NOTICE : LOG_INFO, "%s %d %s", role_name(k->role),
	    (int)pid, again ? "respawned" : "started");
}

static struct child *
new_child(enum proc_role role)
{
	for (int i = 0; i < SHM_PROCS; i++)
		if (!m.kids[i].used) {
			memset(&m.kids[i], 0, sizeof(m.kids[i]));
			m.kids[i].used = true;
			m.kids[i].role = role;
			return &m.kids[i];
		}
	return NULL;
}

static void
spawn_workers(unsigned n)
{
	struct child *k;

	while (n-- > 0 && (k = new_child(PROC_WORKER)) != NULL)
		child_spawn(k);
}

/* realmd_child - the entry of realmd, or NULL */
static struct child *
realmd_child(void)
{
	for (int i = 0; i < SHM_PROCS; i++)
		if (m.kids[i].used && m.kids[i].role == PROC_REALMD)
			return &m.kids[i];
	return NULL;
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
		log_warn("%s keeps dying; respawn in %llu ms",
		    role_name(k->role), (unsigned long long)delay);
}

/* log_death - one line for a worker that ended, louder if unexpected */
static void
log_death(const struct child *k, pid_t pid, int status)
{
	bool expected = m.stopping || k->retiring;

	if (WIFSIGNALED(status))
		log_msg(expected ? LOG_INFO : LOG_WARNING,
		    "%s %d killed by signal %d", role_name(k->role), (int)pid,
		    WTERMSIG(status));
	else
		log_msg(WEXITSTATUS(status) || !expected ? LOG_WARNING : LOG_INFO,
		    "%s %d exited with status %d", role_name(k->role), (int)pid,
		    WEXITSTATUS(status));
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
		state_proc_fold(&m.st, m.st.proc, k->slot);
		guard_release(k->slot);
		state_proc_release(&m.st, k->slot);
		k->pid = 0;
		log_death(k, pid, status);
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
			child_spawn(k);
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
signal_children(int sig)
{
	for (int i = 0; i < SHM_PROCS; i++)
		if (m.kids[i].used && m.kids[i].pid != 0)
			kill(m.kids[i].pid, sig);
}

/*
 * master_stop - begin a graceful stop: no more clients, workers get TERM
 * and finish what they owe; the loop sends KILL to what is left after
 * STOP_WAIT_MS and returns when every worker is gone.
 */
void
master_stop(const char *why)
{
	if (m.stopping)
		return;
	log_notice("stopping (%s)", why);
	m.stopping = true;
	m.kill_at = now_msec() + STOP_WAIT_MS;
	close(m.lfd);
	m.lfd = -1;
	signal_children(SIGTERM);
}

/* escalate - workers that outlived the grace period get SIGKILL */
static void
escalate(uint64_t now)
{
	if (!m.stopping || m.killed || now < m.kill_at)
		return;
	log_warn("workers still busy after %d s; killing them",
	    STOP_WAIT_MS / 1000);
	signal_children(SIGKILL);
	m.killed = true;
}

/* restart_keys - note the changes reload cannot apply, and keep the old */
static void
restart_keys(struct config *nc, struct reload_report *r)
{
#define KEEP(key, changed, field) do {					\
	if ((changed) && r->nrestart < (int)ARRAY_LEN(r->restart))	\
		r->restart[r->nrestart++] = key;			\
	memcpy(&nc->field, &m.cf.field, sizeof(nc->field));		\
} while (0)
	KEEP("listen", strcmp(nc->listen_host, m.cf.listen_host) != 0 ||
	    nc->listen_port != m.cf.listen_port, listen_host);
	nc->listen_port = m.cf.listen_port;
	KEEP("state_dir", strcmp(nc->state_dir, m.cf.state_dir) != 0, state_dir);
	KEEP("pidfile", strcmp(nc->pidfile, m.cf.pidfile) != 0, pidfile);
	KEEP("control", strcmp(nc->control, m.cf.control) != 0, control);
	KEEP("control_ro", strcmp(nc->control_ro, m.cf.control_ro) != 0,
	    control_ro);
	KEEP("user", strcmp(nc->user, m.cf.user) != 0, user);
#undef KEEP
	for (int i = 0; i < r->nrestart; i++)
		log_warn("reload: %s changed; it needs a restart, the old "
		    "value stays", r->restart[i]);
}

/* capacities_changed - capacities only size a state file yet to be made */
static bool
capacities_changed(const struct config *nc)
{
	bool changed = nc->max_users != m.cf.max_users ||
	    nc->max_sessions != m.cf.max_sessions ||
	    nc->max_messages != m.cf.max_messages ||
	    nc->message_store != m.cf.message_store ||
	    nc->max_groups != m.cf.max_groups ||
	    nc->max_memberships != m.cf.max_memberships ||
	    nc->max_files != m.cf.max_files ||
	    nc->realm_users != m.cf.realm_users;

	if (changed)
		log_notice("reload: capacities apply when a new state file "
		    "is made");
	return changed;
}

/* retire_workers - the running workers finish and exit; none respawns */
static void
retire_workers(void)
{
	for (int i = 0; i < SHM_PROCS; i++)
		if (m.kids[i].used && m.kids[i].role == PROC_WORKER) {
			m.kids[i].retiring = true;
			if (m.kids[i].pid == 0)
				m.kids[i].used = false;
			else
				kill(m.kids[i].pid, SIGTERM);
		}
}

/* warn_debug_hooks - say loudly that clients can reach the test hooks */
static void
warn_debug_hooks(void)
{
	if (m.cf.debug_hooks)
		log_warn("debug_hooks = yes: test commands are open to every "
		    "client; never use this in production");
}

/* realm_changed - settings that realmd reads once, when it starts */
static bool
realm_changed(const struct config *nc)
{
	return strcmp(nc->realm_name, m.cf.realm_name) != 0 ||
	    strcmp(nc->realm_secret, m.cf.realm_secret) != 0 ||
	    strcmp(nc->realm_tls_cert, m.cf.realm_tls_cert) != 0 ||
	    strcmp(nc->realm_tls_key, m.cf.realm_tls_key) != 0 ||
	    strcmp(nc->realm_tls_ca, m.cf.realm_tls_ca) != 0 ||
	    strcmp(nc->realm_tls_pin, m.cf.realm_tls_pin) != 0 ||
	    nc->realm_wait != m.cf.realm_wait ||
	    nc->realm_backoff_max != m.cf.realm_backoff_max ||
	    nc->realm_user_dials != m.cf.realm_user_dials ||
	    nc->realm_user_links != m.cf.realm_user_links ||
	    nc->max_line != m.cf.max_line;
}

/*
 * master_reload - read the configuration again.  Workers are replaced by
 * new ones that run the new configuration; the old ones finish the
 * requests in hand and exit.  What cannot change without a restart is
 * kept, and reported.  A bad file changes nothing: -1, reason in r->why.
 */
int
master_reload(struct reload_report *r)
{
	struct config nc;
	struct child *k;
	bool restart_realmd;

	memset(r, 0, sizeof(*r));
	if (m.stopping) {
		snprintf(r->why, sizeof(r->why), "stopping");
		return -1;
	}
	if (config_reload(&nc, &m.cf, r->why, sizeof(r->why)) == -1) {
		log_err("reload refused: %s", r->why);
		return -1;
	}
	restart_keys(&nc, r);
	r->capacities = capacities_changed(&nc);
	restart_realmd = realm_changed(&nc);
	m.cf = nc;
	log_set_level(m.cf.log_level);
	retire_workers();
	r->workers = worker_count(&m.cf);
	spawn_workers(r->workers);
	/* realmd restarts, and is respawned with the new settings */
	if (restart_realmd && (k = realmd_child()) != NULL && k->pid != 0) {
		log_notice("reload: realm settings changed; restarting realmd");
		kill(k->pid, SIGTERM);
	}
	log_notice("reloaded %s: %u workers", m.cf.path, r->workers);
	warn_debug_hooks();
	return 0;
}

/*
 * master_lock - take the state lock without ever sleeping on it: the
 * master alone frees a lock whose holder died, so it reaps while it
 * waits.  -1 if the lock stays busy for LOCK_WAIT_MS.
 */
int
master_lock(void)
{
	uint64_t give_up = now_msec() + LOCK_WAIT_MS;

	while (!state_trylock(&m.st)) {
		reap();
		if (now_msec() >= give_up) {
			log_warn("state lock busy for %d ms", LOCK_WAIT_MS);
			errno = EBUSY;
			return -1;
		}
		poll(NULL, 0, 1);
	}
	return 0;
}

/* take_signals - act on every signal that arrived */
static void
take_signals(void)
{
	struct signalfd_siginfo si;
	struct reload_report r;

	while (read(m.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
			master_stop("SIGTERM");
			break;
		case SIGINT:
			master_stop("SIGINT");
			break;
		case SIGHUP:
			(void)master_reload(&r);
			break;
		}			/* SIGCHLD: the tick reaps */
	}
}

/* tick - the timed work of the loop */
static void
tick(void)
{
	uint64_t now;

	reap();
	now = now_msec();
	respawn_due(now);
	escalate(now);
	if (now >= m.next_sweep && !m.stopping) {
		sweep_sessions();
		m.next_sweep = now + SWEEP_MS;
	}
	if (now >= m.next_file_sweep && !m.stopping) {
		sweep_files();
		m.next_file_sweep = now + FILE_SWEEP_MS;
	}
}

/* wait_ms - how long the loop may sleep before timed work is due */
static int
wait_ms(void)
{
	uint64_t now = now_msec(), next = now + TICK_MS;

	for (int i = 0; i < SHM_PROCS; i++)
		if (m.kids[i].used && m.kids[i].pid == 0 && m.kids[i].due != 0 &&
		    m.kids[i].due < next)
			next = m.kids[i].due;
	if (m.stopping && !m.killed && m.kill_at < next)
		next = m.kill_at;
	if (next <= now)
		return 0;
	return MIN((int)(next - now), control_wait_ms(now));
}

/* supervise - the loop, until a stop has seen every worker gone */
static void
supervise(void)
{
	struct pollfd pfd[1 + CONTROL_POLLFDS];

	m.next_sweep = now_msec() + SWEEP_MS;
	while (!m.stopping || running() > 0) {
		int n = 1;

		pfd[0] = (struct pollfd){ .fd = m.sigfd, .events = POLLIN };
		n += control_pollfds(pfd + 1, CONTROL_POLLFDS);
		if (poll(pfd, (nfds_t)n, wait_ms()) == -1 && errno != EINTR) {
			log_err("poll: %m");
			poll(NULL, 0, 100);	/* no busy loop, whatever it is */
			continue;
		}
		if (pfd[0].revents & POLLIN)
			take_signals();
		control_dispatch(pfd + 1, n - 1);
		tick();
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

/* open_pidfile - the locked pid file; refuses a second daemon */
static int
open_pidfile(char *err, size_t errlen)
{
	pid_t other;

	if (priv_mkdir_parent(&m.priv, m.cf.pidfile, err, errlen) == -1)
		return -1;
	if ((m.pidfh = pidfile_open(m.cf.pidfile, 0644, &other)) != NULL)
		return 0;
	if (errno == EEXIST)
		snprintf(err, errlen, "already running (pid %d)", (int)other);
	else
		snprintf(err, errlen, "%.900s: %s", m.cf.pidfile, strerror(errno));
	return -1;
}

/*
 * open_privileged - everything that may need root: the state directory,
 * the pid file, the state, the seeds, the client port and the control
 * socket.  What is made here is given to the user we will run as.
 */
static int
open_privileged(char *err, size_t errlen)
{
	if (priv_lookup(&m.cf, &m.priv, err, errlen) == -1)
		return -1;
	if (mkdir_p(m.cf.state_dir, 0700) == -1) {
		snprintf(err, errlen, "%.900s: %s", m.cf.state_dir, strerror(errno));
		return -1;
	}
	if (open_pidfile(err, errlen) == -1)
		return -1;
	/* no client may connect to a daemon that will refuse its state */
	if (state_open(&m.st, &m.cf, err, errlen) == -1 ||
	    seed_load(&m.st, &m.cf, err, errlen) == -1 ||
	    priv_own_state(&m.priv, &m.cf, &m.st, err, errlen) == -1 ||
	    (m.lfd = listen_open(&m.cf, err, errlen)) == -1)
		return -1;
	return control_open(&m.cf, &m.priv, err, errlen);
}

/* start - everything that can fail with a message to the operator */
static int
start(bool foreground, char *err, size_t errlen)
{
	raise_nofile();
	if (guard_open() == -1) {
		snprintf(err, errlen, "mmap: %s", strerror(errno));
		return -1;
	}
	if (open_privileged(err, errlen) == -1 ||
	    priv_drop(&m.priv, err, errlen) == -1 ||
	    (m.rfd = realmd_listen(&m.cf, err, errlen)) == -1)
		return -1;
	if (watch_open(&m.st) == -1) {	/* every child inherits them all */
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		return -1;
	}
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
	if ((m.sigfd = signalfd(-1, &m.sigs, SFD_NONBLOCK | SFD_CLOEXEC)) == -1) {
		snprintf(err, errlen, "signalfd: %s", strerror(errno));
		return -1;
	}
	pidfile_write(m.pidfh);
	m.started = now_sec();
	return 0;
}

/* check_config - realmchatd -n: the file, the seed file, the user to run as */
static int
check_config(const char *path)
{
	char err[1024];
	struct priv p;

	if (seed_check(&m.cf, err, sizeof(err)) == -1 ||
	    priv_lookup(&m.cf, &p, err, sizeof(err)) == -1) {
		fprintf(stderr, "realmchatd: %s\n", err);
		return 1;
	}
	printf("%s: configuration OK\n", path);
	return 0;
}

static void
block_signals(void)
{
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&m.sigs);
	sigaddset(&m.sigs, SIGTERM);
	sigaddset(&m.sigs, SIGINT);
	sigaddset(&m.sigs, SIGHUP);
	sigaddset(&m.sigs, SIGCHLD);
	sigprocmask(SIG_BLOCK, &m.sigs, NULL);
}

/* shutdown_master - what is left after the loop: sockets, state, pid file */
static void
shutdown_master(void)
{
	control_close();
	if (m.rfd != -1) {
		char path[PATH_MAX];
		close(m.rfd);
		if (chan_socket_path(&m.cf, path, sizeof(path)) == 0)
			unlink(path);
	}
	state_close(&m.st);
	if (m.pidfh != NULL && pidfile_remove(m.pidfh) == -1)
		log_info("pid file %s left behind: %m", m.cf.pidfile);
}

int
main(int argc, char *argv[], char *envp[])
{
	struct child *k;
	const char *path = DEFAULT_CONFIG;
	bool foreground = false, check_only = false;
	char err[1024];
	int ch;

	setproctitle_init(argc, argv, envp);
	while ((ch = getopt(argc, argv, "dnf:")) != -1) {
		switch (ch) {
		case 'd': foreground = true; break;
		case 'n': check_only = true; break;
		case 'f': path = optarg; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (config_load(&m.cf, path, err, sizeof(err)) == -1) {
		fprintf(stderr, "realmchatd: %s\n", err);
		return 1;
	}
	if (check_only)
		return check_config(path);
	log_init("realmchatd", foreground, m.cf.log_level);
	block_signals();
	if (start(foreground, err, sizeof(err)) == -1) {
		fprintf(stderr, "realmchatd: %s\n", err);
		log_err("not started: %s", err);
		shutdown_master();
		return 1;
	}
	setproctitle("%s", "master");
	log_notice("started %s: realm %s on %s:%u, %u workers, state %s",
	    REALMCHAT_VERSION, m.cf.realm_name, m.cf.listen_host,
	    m.cf.listen_port, worker_count(&m.cf), m.cf.state_dir);
	warn_debug_hooks();
	spawn_workers(worker_count(&m.cf));
	if ((k = new_child(PROC_REALMD)) != NULL)
		child_spawn(k);
	supervise();
	shutdown_master();
	log_notice("stopped");
	return 0;
}

/* master_config - the configuration in force */
const struct config *
master_config(void)
{
	return &m.cf;
}

/* master_state - the state segment, as the master maps it */
struct state *
master_state(void)
{
	return &m.st;
}

/* master_started - wall-clock second the master started serving */
uint64_t
master_started(void)
{
	return m.started;
}

/* master_stopping - is a graceful stop under way? */
bool
master_stopping(void)
{
	return m.stopping;
}

/* master_children - the running children, at most max of them */
int
master_children(struct child_info *out, int max)
{
	int n = 0;

	for (int i = 0; i < SHM_PROCS && n < max; i++)
		if (m.kids[i].used && m.kids[i].pid != 0)
			out[n++] = (struct child_info){ m.kids[i].pid,
			    m.kids[i].slot, m.kids[i].retiring, m.kids[i].role };
	return n;
}
