/*
 * NAME
 *	harness - drive a real realmchatd from integration tests
 * DESCRIPTION
 *	See harness.h. The program that links this file becomes a child
 *	subreaper, so workers orphaned by a killed master are reparented to
 *	it and can be reaped and checked. A watchdog (SIGALRM) and the
 *	SIGTERM/SIGINT handlers kill every daemon process we know of before
 *	the program exits; an atexit handler removes what is left.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#define IT_HARNESS_INTERNAL
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_DAEMONS	16	/* daemons alive at once in one program */
#define MAX_KNOWN	64	/* child pids remembered per daemon */
#define START_TIMEOUT_S	5.0	/* launch until a request is answered */
#define STOP_TIMEOUT_S	10.0	/* SIGTERM until the master exits */
#define GONE_TIMEOUT_S	5.0	/* a killed process until it is gone */
#define WRITE_TIMEOUT_S	15.0	/* one client_write() in full */
#define CHECK_TIMEOUT_S	10.0	/* realmchatd -n */
#define CTL_TIMEOUT_S	40.0	/* one realmctl run (stop waits up to 30 s) */

struct daemon {
	pid_t	pid;			/* master; 0 when not running */
	int	port;			/* loopback port in the config */
	char	dir[1024];		/* temporary directory */
	char	config[PATH_MAX];	/* config file path */
	char	log[PATH_MAX];		/* stderr of every run, appended */
	char	control[PATH_MAX];	/* control socket of the config */
	pid_t	known[MAX_KNOWN];	/* children ever seen, for cleanup */
	int	nknown;			/* used entries of known */
	struct client *clients;		/* open clients, closed on destroy */
};

struct client {
	int	fd;			/* socket; -1 once closed */
	char	*buf;			/* bytes read, not yet consumed */
	size_t	off;			/* start of unconsumed bytes */
	size_t	len;			/* end of read bytes */
	size_t	cap;			/* allocated size of buf */
	struct daemon *d;		/* owner, NULL for try-clients */
	struct client *next;		/* next client of the same daemon */
	char	token[64];		/* token from client_auth() */
};

static struct daemon *daemons[MAX_DAEMONS];	/* every live struct daemon */
static char last_request[256];			/* for failure messages */
static char daemon_bin[PATH_MAX];		/* resolved REALMCHATD */
static char ctl_bin[PATH_MAX];			/* resolved REALMCTL */
static const char *at_file;			/* test line that called us */
static int at_line;

#define hfail(...) hfail_at(__LINE__, __VA_ARGS__)

/*
 * __lsan_is_turned_off - no leak report for the test programs: they keep
 * replies until they exit, on purpose.  The daemons under test are
 * other programs, and stay checked.
 */
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
	return 1;
}

/* it_at - remember the test line calling into the harness */
void it_at(const char *file, int line)
{
	at_file = file;
	at_line = line;
}

/* hfail_at - report a failure as "# " lines at the caller's line */
__attribute__((noreturn, format(printf, 2, 3)))
static void hfail_at(int hline, const char *fmt, ...)
{
	char msg[4096], *p = msg;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	while (*p) {
		char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);
		int skip = p[0] == '#' && p[1] == ' ' ? 2 : 0;

		print_error("# %s%.*s\n", p == msg ? "" : "  ", len - skip,
		    p + skip);
		p += len + (nl != NULL);
	}
	if (at_file != NULL)
		print_error("# (harness.c:%d)\n", hline);
	_fail(at_file ? at_file : __FILE__, at_file ? at_line : hline);
	abort();
}

/* ---------------------------------------------------------------- */
/* Small utilities                                                   */
/* ---------------------------------------------------------------- */

/* now_s - monotonic time in seconds */
double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* sleep_ms - sleep, resuming after signals */
void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* env_seconds - a positive number of seconds from the environment */
static double env_seconds(const char *name, double dflt)
{
	const char *v = getenv(name);
	double x;

	if (v == NULL || *v == '\0')
		return dflt;
	x = strtod(v, NULL);
	return x > 0 ? x : dflt;
}

/* reply_timeout_ms - how long to wait for one reply */
static int reply_timeout_ms(void)
{
	return (int)(env_seconds("IT_REPLY_TIMEOUT", 5.0) * 1000);
}

/* xmalloc - malloc that cannot return NULL */
static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL) {
		fprintf(stderr, "# harness: out of memory\n");
		abort();
	}
	return p;
}

/* xstrdup - strdup that cannot return NULL */
static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

/* printable - an escaped, truncated copy of bytes for messages */
static void printable(char *out, size_t outsz, const char *s, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 8 < outsz; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '\r')
			o += snprintf(out + o, outsz - o, "\\r");
		else if (ch == '\n')
			o += snprintf(out + o, outsz - o, "\\n");
		else if (ch < 0x20 || ch >= 0x7f)
			o += snprintf(out + o, outsz - o, "\\x%02x", ch);
		else
			out[o++] = (char)ch;
	}
	if (o + 8 >= outsz && outsz > 4)
		o = outsz - 4, memcpy(out + o, "...", 3), o += 3;
	out[o] = '\0';
}

/* note_request - remember the last request for failure messages */
static void note_request(const char *data, size_t len)
{
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	printable(last_request, sizeof last_request, data, len);
}

/* write_file - create or replace a file with text, or fail */
void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		hfail("cannot create %s: %s", path, strerror(errno));
	fputs(text, f);
	if (fclose(f) != 0)
		hfail("cannot write %s: %s", path, strerror(errno));
}

/* read_small_file - up to cap-1 bytes of a file, NUL-terminated; -1 */
static ssize_t read_small_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, total = 0;

	if (fd == -1)
		return -1;
	while ((size_t)total + 1 < cap &&
	    (n = read(fd, buf + total, cap - 1 - total)) > 0)
		total += n;
	close(fd);
	buf[total] = '\0';
	return total;
}

/* rm_entry - nftw callback of rm_tree */
static int rm_entry(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	remove(path);
	return 0;
}

/* rm_tree - remove a directory and everything below it */
static void rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---------------------------------------------------------------- */
/* Processes                                                         */
/* ---------------------------------------------------------------- */

/* proc_stat - state letter and parent of a process; -1 if none */
static int proc_stat(pid_t pid, char *state, pid_t *ppid)
{
	char path[64], buf[1024], *p;
	int pp;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (read_small_file(path, buf, sizeof buf) <= 0)
		return -1;
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	if (sscanf(p + 1, " %c %d", state, &pp) != 2)
		return -1;
	*ppid = pp;
	return 0;
}

/* proc_alive - a process exists and is not a zombie (reaps ours) */
bool proc_alive(pid_t pid)
{
	char state;
	pid_t ppid;
	int st;

	if (pid <= 0)
		return false;
	waitpid(pid, &st, WNOHANG);
	if (proc_stat(pid, &state, &ppid) == -1)
		return false;
	return state != 'Z' && state != 'X';
}

/* proc_wait_gone - wait until a process is gone; false on timeout */
bool proc_wait_gone(pid_t pid, double timeout_s)
{
	double end = now_s() + timeout_s;

	while (proc_alive(pid)) {
		if (now_s() > end)
			return false;
		sleep_ms(10);
	}
	return true;
}

/* proc_title - the command line of a process, NULs as spaces */
char *proc_title(pid_t pid)
{
	char path[64], buf[4096];
	ssize_t n;

	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	if ((n = read_small_file(path, buf, sizeof buf)) < 0)
		return xstrdup("");
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\0'))
		buf[--n] = '\0';
	return xstrdup(buf);
}

/* list_children - live children of a parent, from /proc */
static int list_children(pid_t parent, pid_t *pids, int max)
{
	DIR *dp = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (dp == NULL)
		return 0;
	while ((de = readdir(dp)) != NULL && n < max) {
		char *end, state;
		long pid = strtol(de->d_name, &end, 10);
		pid_t ppid;

		if (*end != '\0' || pid <= 0)
			continue;
		if (proc_stat((pid_t)pid, &state, &ppid) == -1)
			continue;
		if (ppid == parent && state != 'Z' && state != 'X')
			pids[n++] = (pid_t)pid;
	}
	closedir(dp);
	return n;
}

/* is_daemon_process - the process runs the realmchatd binary */
static bool is_daemon_process(pid_t pid)
{
	char path[64], exe[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
	if ((n = readlink(path, exe, sizeof exe - 1)) <= 0)
		return false;
	exe[n] = '\0';
	return strncmp(exe, realmchatd_path(), strlen(realmchatd_path())) == 0;
}

/* remember_child - add a child pid to the daemon's cleanup list */
static void remember_child(struct daemon *d, pid_t pid)
{
	for (int i = 0; i < d->nknown; i++)
		if (d->known[i] == pid)
			return;
	if (d->nknown < MAX_KNOWN)
		d->known[d->nknown++] = pid;
	else {
		memmove(d->known, d->known + 1, (MAX_KNOWN - 1) * sizeof(pid_t));
		d->known[MAX_KNOWN - 1] = pid;
	}
}

/* kill_orphans - kill and reap daemon processes reparented to us */
static void kill_orphans(void)
{
	pid_t pids[256];
	int n = list_children(getpid(), pids, 256);

	for (int i = 0; i < n; i++) {
		bool master = false;

		for (int j = 0; j < MAX_DAEMONS; j++)
			if (daemons[j] && daemons[j]->pid == pids[i])
				master = true;
		if (!master && is_daemon_process(pids[i])) {
			kill(pids[i], SIGKILL);
			proc_wait_gone(pids[i], GONE_TIMEOUT_S);
		}
	}
}

/* ---------------------------------------------------------------- */
/* Program-wide setup, watchdog and cleanup                          */
/* ---------------------------------------------------------------- */

static bool keep_dirs;		/* IT_KEEP=1: leave temp dirs for a look */

/* emergency_rm - from a signal handler: rm -rf a temp dir */
static void emergency_rm(const char *dir)
{
	pid_t pid = fork();

	if (pid == 0) {
		execl("/bin/rm", "rm", "-rf", dir, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

/* emergency_kill - signal handler: SIGKILL every daemon process known */
static void emergency_kill(int sig)
{
	static const char msg[] =
	    "# harness: watchdog or signal: killing daemons and exiting\n";

	for (int i = 0; i < MAX_DAEMONS; i++) {
		struct daemon *d = daemons[i];

		if (d == NULL)
			continue;
		if (d->pid > 0)
			kill(d->pid, SIGKILL);
		for (int j = 0; j < d->nknown; j++)
			kill(d->known[j], SIGKILL);
	}
	for (int i = 0; i < MAX_DAEMONS; i++)
		if (daemons[i] != NULL && !keep_dirs)
			emergency_rm(daemons[i]->dir);
	(void)!write(2, msg, sizeof msg - 1);
	_exit(sig == SIGALRM ? 124 : 128 + sig);
}

/* harness_cleanup - atexit: kill and remove every daemon left */
static void harness_cleanup(void)
{
	for (int i = 0; i < MAX_DAEMONS; i++)
		if (daemons[i] != NULL)
			daemon_destroy(daemons[i]);
	kill_orphans();
}

/* harness_init - line-buffered output, subreaper, watchdog, cleanup */
__attribute__((constructor)) static void harness_init(void)
{
	struct sigaction sa;

	setvbuf(stdout, NULL, _IOLBF, 0);
	keep_dirs = getenv("IT_KEEP") != NULL && strcmp(getenv("IT_KEEP"),
	    "1") == 0;
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = emergency_kill;
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	alarm((unsigned)env_seconds("IT_WATCHDOG", 120));
	if (getenv("IT_FILTER") != NULL)
		cmocka_set_test_filter(getenv("IT_FILTER"));
	atexit(harness_cleanup);
}

/*
 * find_binary - absolute path of bin/<name>: from the environment
 * variable env, else under the working directory, else two levels above
 * this test program (build/tests/it_x).  The answer is kept in out.
 */
static const char *find_binary(const char *env_name, const char *name,
    char *out, size_t outsz)
{
	char exe[PATH_MAX], cand[PATH_MAX + 64], real[PATH_MAX], *slash;
	const char *env = getenv(env_name);
	ssize_t n;

	if (out[0] != '\0')
		return out;
	if (env != NULL && *env != '\0') {
		snprintf(out, outsz, "%s", realpath(env, real) ? real : env);
		return out;
	}
	snprintf(cand, sizeof cand, "bin/%s", name);
	if (realpath(cand, real) != NULL) {
		snprintf(out, outsz, "%s", real);
		return out;
	}
	if ((n = readlink("/proc/self/exe", exe, sizeof exe - 1)) > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL)
			*slash = '\0';
		snprintf(cand, sizeof cand, "%s/../../bin/%s", exe, name);
		if (realpath(cand, real) != NULL) {
			snprintf(out, outsz, "%s", real);
			return out;
		}
	}
	snprintf(out, outsz, "bin/%s", name);
	return out;
}

/* realmchatd_path - absolute path of the daemon binary under test */
const char *realmchatd_path(void)
{
	return find_binary("REALMCHATD", "realmchatd", daemon_bin,
	    sizeof daemon_bin);
}

/* realmctl_path - absolute path of the realmctl binary under test */
const char *realmctl_path(void)
{
	return find_binary("REALMCTL", "realmctl", ctl_bin, sizeof ctl_bin);
}

/* ---------------------------------------------------------------- */
/* Daemon life cycle                                                 */
/* ---------------------------------------------------------------- */

/* free_port - a loopback TCP port nobody listens on right now */
static int free_port(void)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd == -1)
		hfail("socket: %s", strerror(errno));
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) == -1 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) == -1) {
		close(fd);
		hfail("cannot find a free port: %s", strerror(errno));
	}
	close(fd);
	return ntohs(a.sin_port);
}

/*
 * connect_port_from - a connected loopback socket from the source address
 * source (NULL: any; on Linux all of 127/8 is loopback), or -1
 */
static int connect_port_from(int port, const char *source)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd == -1)
		return -1;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	if (source != NULL && (inet_pton(AF_INET, source, &a.sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *)&a, sizeof a) == -1)) {
		close(fd);
		return -1;
	}
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) == -1) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

/* connect_port - a connected loopback socket, or -1 */
static int connect_port(int port)
{
	return connect_port_from(port, NULL);
}

/* extra_has_key - the extra config lines set this key */
static bool extra_has_key(const char *extra, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = extra; p && *p; ) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, key, klen) == 0 &&
		    (p[klen] == ' ' || p[klen] == '\t' || p[klen] == '='))
			return true;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return false;
}

/* write_config - the default test config plus the extra lines */
static void write_config(struct daemon *d, const char *extra)
{
	char def[14][PATH_MAX + 64];
	static const char *const keys[14] = {
		"listen", "workers", "state_dir", "realm_name", "realm_secret",
		"control", "seed_users", "password_cost", "log_level", "user",
		"registrations_per_address", "sessions_per_address", NULL
	};
	struct passwd *pw = getpwuid(geteuid());
	size_t cap = 16384 + (extra ? strlen(extra) : 0), o = 0;
	char *text = xmalloc(cap);

	snprintf(def[0], sizeof def[0], "listen = 127.0.0.1:%d", d->port);
	snprintf(def[1], sizeof def[1], "workers = %d", IT_WORKERS);
	snprintf(def[2], sizeof def[2], "state_dir = %s/state", d->dir);
	snprintf(def[3], sizeof def[3], "realm_name = %s", IT_REALM);
	snprintf(def[4], sizeof def[4], "realm_secret = it-realm-secret");
	snprintf(def[5], sizeof def[5], "control = %s", d->control);
	snprintf(def[6], sizeof def[6], "seed_users = %s/users", d->dir);
	snprintf(def[7], sizeof def[7], "password_cost = 1");
	snprintf(def[8], sizeof def[8], "log_level = info");
	/* as root: stay root, as the user's own account would */
	snprintf(def[9], sizeof def[9], "user = %s", pw ? pw->pw_name : "root");
	/* every test client is on loopback: no per-address rates, unless asked */
	snprintf(def[10], sizeof def[10], "registrations_per_address = 1000000");
	snprintf(def[11], sizeof def[11], "sessions_per_address = 1000000");
	o += snprintf(text + o, cap - o, "# realmchat integration test\n");
	for (int i = 0; keys[i] != NULL; i++)
		if (!extra_has_key(extra, keys[i]))
			o += snprintf(text + o, cap - o, "%s\n", def[i]);
	if (extra != NULL)
		o += snprintf(text + o, cap - o, "%s%s", extra,
		    *extra && extra[strlen(extra) - 1] != '\n' ? "\n" : "");
	write_file(d->config, text);
	free(text);
}

/* register_daemon - put a daemon into the cleanup table */
static void register_daemon(struct daemon *d)
{
	for (int i = 0; i < MAX_DAEMONS; i++)
		if (daemons[i] == NULL) {
			daemons[i] = d;
			return;
		}
	free(d);
	hfail("more than %d daemons at once", MAX_DAEMONS);
}

/* daemon_prepare - temp dir, seed users and config; not started */
struct daemon *daemon_prepare(const char *extra_config_lines)
{
	const char *env = getenv("TMPDIR");
	char *base = env && *env ? realpath(env, NULL) : NULL;
	char path[1024 + 16];
	struct daemon *d = xmalloc(sizeof *d);

	memset(d, 0, sizeof *d);
	if (base == NULL || strlen(base) > 900) {
		free(base);
		base = xstrdup("/tmp");
	}
	snprintf(d->dir, sizeof d->dir, "%s/realmchat-it.XXXXXX", base);
	free(base);
	if (mkdtemp(d->dir) == NULL) {
		free(d);
		hfail("mkdtemp under $TMPDIR or /tmp: %s", strerror(errno));
	}
	register_daemon(d);
	snprintf(d->config, sizeof d->config, "%s/realmchatd.conf", d->dir);
	snprintf(d->log, sizeof d->log, "%s/daemon.log", d->dir);
	snprintf(d->control, sizeof d->control, "%s/control.sock", d->dir);
	snprintf(path, sizeof path, "%s/state", d->dir);
	if (mkdir(path, 0700) == -1)
		hfail("mkdir %s: %s", path, strerror(errno));
	snprintf(path, sizeof path, "%s/users", d->dir);
	write_file(path,
	    "messi " SEED_PASSWORD " Lionel_Messi Argentina\n"
	    "henderson " SEED_PASSWORD " Jordan_Henderson England\n"
	    "lineker " SEED_PASSWORD " Gary_Lineker England\n");
	d->port = free_port();
	write_config(d, extra_config_lines);
	return d;
}

/* daemon_log_tail - print the last lines of the daemon's stderr */
void daemon_log_tail(const struct daemon *d, int lines)
{
	char buf[32768], *p;
	int fd = open(d->log, O_RDONLY | O_CLOEXEC);
	off_t size;
	ssize_t n;

	if (fd == -1)
		return;
	size = lseek(fd, 0, SEEK_END);
	lseek(fd, size > (off_t)sizeof buf - 1 ? size - (off_t)sizeof buf + 1
	    : 0, SEEK_SET);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	p = buf + n;
	while (p > buf && lines > 0)
		if (*--p == '\n' && p != buf + n - 1)
			lines--;
	if (*p == '\n')
		p++;
	fprintf(stderr, "# --- daemon log tail (%s) ---\n", d->log);
	while (*p) {
		char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);

		fprintf(stderr, "# | %.*s\n", len, p);
		p += len + (nl != NULL);
	}
}

/* exec_daemon - in the child: stdio to the log, then exec */
static void exec_daemon(const struct daemon *d)
{
	int logfd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	int nullfd = open("/dev/null", O_RDONLY);

	if (logfd == -1 || nullfd == -1)
		_exit(126);
	dup2(nullfd, 0);
	dup2(logfd, 1);
	dup2(logfd, 2);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	execl(realmchatd_path(), "realmchatd", "-d", "-f", d->config,
	    (char *)NULL);
	dprintf(2, "harness: exec %s: %s\n", realmchatd_path(),
	    strerror(errno));
	_exit(127);
}

/* describe_status - wait status in words */
static void describe_status(int st, char *out, size_t outsz)
{
	if (WIFEXITED(st))
		snprintf(out, outsz, "exit status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(out, outsz, "killed by signal %d (%s)", WTERMSIG(st),
		    strsignal(WTERMSIG(st)));
	else
		snprintf(out, outsz, "wait status 0x%x", st);
}

/* probe_ready - one request answered on the port within the time */
static bool probe_ready(int port, double end)
{
	int fd = connect_port(port);
	char buf[512];
	size_t have = 0;

	if (fd == -1)
		return false;
	if (send(fd, "whoami\r\n", 8, MSG_NOSIGNAL) != 8) {
		close(fd);
		return false;
	}
	while (now_s() < end) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, 20) <= 0)
			continue;
		n = read(fd, buf + have, sizeof buf - 1 - have);
		if (n <= 0)
			break;
		have += n;
		buf[have] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL) {
			close(fd);
			return true;
		}
		if (have == sizeof buf - 1)
			break;
	}
	close(fd);
	return false;
}

/* daemon_try_launch - start; 0 once it answers, else -1 and how it ended */
int daemon_try_launch(struct daemon *d, int *wstatus)
{
	double end;

	if (d->pid > 0)
		hfail("daemon_launch: daemon already running (pid %d)",
		    (int)d->pid);
	if (access(realmchatd_path(), X_OK) == -1)
		hfail("daemon binary %s: %s (set REALMCHATD)",
		    realmchatd_path(), strerror(errno));
	fflush(NULL);
	if ((d->pid = fork()) == -1)
		hfail("fork: %s", strerror(errno));
	if (d->pid == 0)
		exec_daemon(d);
	end = now_s() + env_seconds("IT_START_TIMEOUT", START_TIMEOUT_S);
	for (;;) {
		/* accepting is not enough: a daemon may listen, then quit */
		if (probe_ready(d->port, end))
			return 0;
		if (waitpid(d->pid, wstatus, WNOHANG) == d->pid) {
			d->pid = 0;
			kill_orphans();
			return -1;
		}
		if (now_s() > end) {
			daemon_kill9_tree(d);
			daemon_log_tail(d, 30);
			hfail("daemon neither answered on 127.0.0.1:%d nor "
			    "exited within %.0f s", d->port, START_TIMEOUT_S);
		}
		sleep_ms(10);
	}
}

/* daemon_launch - start the daemon and wait until it accepts */
void daemon_launch(struct daemon *d)
{
	char how[128];
	int st;

	if (daemon_try_launch(d, &st) == 0)
		return;
	describe_status(st, how, sizeof how);
	daemon_log_tail(d, 30);
	hfail("daemon exited before accepting: %s", how);
}

/* daemon_log_text - everything the daemon wrote to stderr; caller frees */
char *daemon_log_text(const struct daemon *d)
{
	FILE *f = fopen(d->log, "r");
	char *text = NULL;
	size_t n = 0;
	long size;

	if (f == NULL)
		return xstrdup("");
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	text = xmalloc((size_t)(size > 0 ? size : 0) + 1);
	if (size > 0)
		n = fread(text, 1, (size_t)size, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

/* daemon_wait_log - the daemon's log shows text within the time */
bool daemon_wait_log(const struct daemon *d, const char *text,
    double timeout_s)
{
	double end = now_s() + timeout_s;

	for (;;) {
		char *log = daemon_log_text(d);
		bool found = strstr(log, text) != NULL;

		free(log);
		if (found || now_s() > end)
			return found;
		sleep_ms(20);
	}
}

/* daemon_start - prepare and launch a daemon with extra config lines */
struct daemon *daemon_start(const char *extra_config_lines)
{
	struct daemon *d = daemon_prepare(extra_config_lines);

	daemon_launch(d);
	return d;
}

/* realm_start - a daemon named name with realm_secret secret, extra lines */
struct daemon *realm_start(const char *name, const char *secret,
    const char *extra)
{
	char cfg[1024];

	snprintf(cfg, sizeof(cfg), "realm_name = %s\nrealm_secret = %s\n"
	    "realm_backoff_max = 1\nrealm_wait = 2\n%s", name, secret,
	    extra ? extra : "");
	return daemon_start(cfg);
}

/*
 * realm_wait_serving - the daemon's log says its realmd serves (the chat
 * port opens a moment before): otherwise a refusal for "realmd is not
 * running" could pass for the refusal a test expects.  First start only.
 */
void realm_wait_serving(const struct daemon *d, const char *name)
{
	char want[128];

	snprintf(want, sizeof(want), "serving realm %s", name);
	if (!daemon_wait_log(d, want, 5.0))
		hfail("no \"%s\" in the log within 5 s", want);
}

/* loopback_listener - a bound loopback socket, listening if asked; its port */
int loopback_listener(int *port, bool listening)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		hfail("socket: %s", strerror(errno));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    (listening && listen(fd, 16) != 0) ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) != 0)
		hfail("loopback socket: %s", strerror(errno));
	*port = ntohs(a.sin_port);
	return fd;
}

/* wait_master - reap the master within a time; false on timeout */
static bool wait_master(struct daemon *d, double timeout_s, int *st)
{
	double end = now_s() + timeout_s;

	for (;;) {
		pid_t r = waitpid(d->pid, st, WNOHANG);

		if (r == d->pid || (r == -1 && errno == ECHILD))
			return true;
		if (now_s() > end)
			return false;
		sleep_ms(5);
	}
}

/* kill_children - SIGKILL a list of pids and wait until they are gone */
static void kill_children(const pid_t *pids, int n)
{
	for (int i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	for (int i = 0; i < n; i++)
		proc_wait_gone(pids[i], GONE_TIMEOUT_S);
}

/* daemon_stop_quiet - SIGTERM, wait; 0, or -1 with the reason */
static int daemon_stop_quiet(struct daemon *d, char *why, size_t whysz)
{
	pid_t kids[64];
	int nkids = daemon_children(d, kids, 64), st = 0, left = 0;
	char how[128];

	kill(d->pid, SIGTERM);
	if (!wait_master(d, STOP_TIMEOUT_S, &st)) {
		daemon_kill9_tree(d);
		snprintf(why, whysz, "master did not exit within %.0f s of "
		    "SIGTERM", STOP_TIMEOUT_S);
		return -1;
	}
	d->pid = 0;
	for (int i = 0; i < nkids; i++)
		if (!proc_wait_gone(kids[i], GONE_TIMEOUT_S))
			left++;
	kill_children(kids, nkids);
	kill_orphans();
	describe_status(st, how, sizeof how);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		snprintf(why, whysz, "master after SIGTERM: %s, expected exit "
		    "status 0", how);
		return -1;
	}
	if (left > 0) {
		snprintf(why, whysz, "%d child process(es) still alive %.0f s "
		    "after the master exited", left, GONE_TIMEOUT_S);
		return -1;
	}
	return 0;
}

/* daemon_stop - graceful stop; asserts exit 0 and no child left */
void daemon_stop(struct daemon *d)
{
	char why[256];

	if (d->pid <= 0)
		hfail("daemon_stop: daemon not running");
	if (daemon_stop_quiet(d, why, sizeof why) == -1) {
		daemon_log_tail(d, 30);
		hfail("%s", why);
	}
}

/* daemon_kill9_tree - SIGKILL the master and all its children */
void daemon_kill9_tree(struct daemon *d)
{
	pid_t kids[64];
	int nkids, st;

	if (d->pid <= 0)
		return;
	nkids = daemon_children(d, kids, 64);
	kill(d->pid, SIGKILL);
	for (int i = 0; i < nkids; i++)
		kill(kids[i], SIGKILL);
	wait_master(d, GONE_TIMEOUT_S, &st);
	d->pid = 0;
	kill_children(kids, nkids);
	kill_orphans();
}

/* daemon_restart - start again on the same state dir and port */
void daemon_restart(struct daemon *d)
{
	if (d->pid > 0)
		daemon_stop(d);
	daemon_launch(d);
}

/* daemon_destroy - kill if running, close clients, remove the temp dir */
void daemon_destroy(struct daemon *d)
{
	if (d == NULL)
		return;
	while (d->clients != NULL)
		client_close(d->clients);
	daemon_kill9_tree(d);
	for (int i = 0; i < d->nknown; i++)
		if (proc_alive(d->known[i]) && is_daemon_process(d->known[i]))
			kill(d->known[i], SIGKILL);
	if (keep_dirs)
		fprintf(stderr, "# kept %s\n", d->dir);
	else
		rm_tree(d->dir);
	for (int i = 0; i < MAX_DAEMONS; i++)
		if (daemons[i] == d)
			daemons[i] = NULL;
	free(d);
}

/* daemon_running - the master is alive (reaps it if it died) */
bool daemon_running(struct daemon *d)
{
	int st;

	if (d->pid <= 0)
		return false;
	if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
		d->pid = 0;
		return false;
	}
	return true;
}

pid_t daemon_pid(const struct daemon *d) { return d->pid; }
int daemon_port(const struct daemon *d) { return d->port; }
const char *daemon_dir(const struct daemon *d) { return d->dir; }
const char *daemon_config_path(const struct daemon *d) { return d->config; }

/* daemon_children - live children of the master */
int daemon_children(struct daemon *d, pid_t *pids, int max)
{
	int n;

	if (d->pid <= 0)
		return 0;
	n = list_children(d->pid, pids, max);
	for (int i = 0; i < n; i++)
		remember_child(d, pids[i]);
	return n;
}

/* daemon_realmd - the child titled as realmd, or 0 */
pid_t daemon_realmd(struct daemon *d)
{
	pid_t kids[64];
	int n = daemon_children(d, kids, 64);
	pid_t found = 0;

	for (int i = 0; i < n && found == 0; i++) {
		char *t = proc_title(kids[i]);

		if (strstr(t, "realmd") != NULL)
			found = kids[i];
		free(t);
	}
	return found;
}

/*
 * daemon_workers - children titled as workers (if none is, every child
 * but realmd: titles may not be readable)
 */
int daemon_workers(struct daemon *d, pid_t *pids, int max)
{
	pid_t kids[64];
	bool realmd[64];
	int nkids = daemon_children(d, kids, 64), n = 0;

	for (int i = 0; i < nkids && n < max; i++) {
		char *t = proc_title(kids[i]);

		realmd[i] = strstr(t, "realmd") != NULL;
		if (strstr(t, "worker") != NULL)
			pids[n++] = kids[i];
		free(t);
	}
	if (n == 0)
		for (int i = 0; i < nkids && n < max; i++)
			if (!realmd[i])
				pids[n++] = kids[i];
	return n;
}

/* daemon_wait_workers - wait for n workers, none of them in gone[] */
int daemon_wait_workers(struct daemon *d, int n, const pid_t *gone,
    int ngone, pid_t *pids, double timeout_s)
{
	double end = now_s() + timeout_s;
	int have;

	for (;;) {
		bool stale = false;

		have = daemon_workers(d, pids, 64);
		for (int i = 0; i < have; i++)
			for (int j = 0; j < ngone; j++)
				if (pids[i] == gone[j])
					stale = true;
		if (have == n && !stale)
			return have;
		if (now_s() > end)
			return stale ? -1 : have;
		sleep_ms(20);
	}
}

/* daemon_check_config - run realmchatd -n -f path; exit status or -1 */
int daemon_check_config(const char *config_path, char **err_text)
{
	int pfd[2], st = 0;
	size_t cap = 4096, len = 0;
	char *text = xmalloc(cap);
	double end = now_s() + CHECK_TIMEOUT_S;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) == -1)
		hfail("pipe: %s", strerror(errno));
	fflush(NULL);
	if ((pid = fork()) == 0) {
		int nullfd = open("/dev/null", O_RDWR);

		dup2(nullfd, 0);
		dup2(nullfd, 1);
		dup2(pfd[1], 2);
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		execl(realmchatd_path(), "realmchatd", "-n", "-f",
		    config_path, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		struct pollfd p = { pfd[0], POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, 50) > 0) {
			if (len + 1024 > cap)
				text = realloc(text, cap *= 2);
			if ((n = read(pfd[0], text + len, cap - len - 1)) <= 0)
				break;
			len += n;
		}
		if (now_s() > end)
			break;
	}
	close(pfd[0]);
	text[len] = '\0';
	while (waitpid(pid, &st, WNOHANG) != pid) {
		if (now_s() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			*err_text = text;
			return -1;
		}
		sleep_ms(10);
	}
	*err_text = text;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---------------------------------------------------------------- */
/* realmctl                                                          */
/* ---------------------------------------------------------------- */

/* text_buf - a growing NUL-terminated string */
struct text_buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

/* text_reserve - room for another read, and the text NUL-terminated */
static void text_reserve(struct text_buf *t)
{
	if (t->len + 4096 + 1 > t->cap) {
		t->cap = (t->cap ? t->cap * 2 : 8192) + 4096;
		if ((t->p = realloc(t->p, t->cap)) == NULL)
			abort();
	}
	t->p[t->len] = '\0';
}

/* drain_fd - read what fd has into t; false at EOF or error */
static bool drain_fd(int fd, struct text_buf *t)
{
	ssize_t n;

	text_reserve(t);
	n = read(fd, t->p + t->len, t->cap - t->len - 1);
	if (n > 0)
		t->len += n;
	t->p[t->len] = '\0';
	return n > 0 || (n == -1 && errno == EINTR);
}

/* spawn_captured - fork and exec argv with stdout and stderr in pipes */
static pid_t spawn_captured(const char *const argv[], int pout[2],
    int perr[2])
{
	pid_t pid;

	if (pipe2(pout, O_CLOEXEC) == -1 || pipe2(perr, O_CLOEXEC) == -1)
		hfail("pipe: %s", strerror(errno));
	fflush(NULL);
	if ((pid = fork()) == -1)
		hfail("fork: %s", strerror(errno));
	if (pid == 0) {
		int nullfd = open("/dev/null", O_RDONLY);

		dup2(nullfd, 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		execv(argv[0], (char *const *)argv);
		dprintf(2, "harness: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pout[1]);
	close(perr[1]);
	return pid;
}

/* run_captured - run argv; exit status, or -1 if killed or timed out */
static int run_captured(const char *const argv[], char **out, char **err,
    double timeout_s)
{
	struct text_buf o = { 0 }, e = { 0 };
	int pout[2], perr[2], st = 0;
	double end = now_s() + timeout_s;
	pid_t pid = spawn_captured(argv, pout, perr);
	bool oopen = true, eopen = true;

	text_reserve(&o);
	text_reserve(&e);
	while ((oopen || eopen) && now_s() < end) {
		struct pollfd p[2] = { { oopen ? pout[0] : -1, POLLIN, 0 },
		    { eopen ? perr[0] : -1, POLLIN, 0 } };

		if (poll(p, 2, 50) <= 0)
			continue;
		if (p[0].revents && !drain_fd(pout[0], &o))
			oopen = false;
		if (p[1].revents && !drain_fd(perr[0], &e))
			eopen = false;
	}
	close(pout[0]);
	close(perr[0]);
	while (waitpid(pid, &st, WNOHANG) != pid) {
		if (now_s() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			break;
		}
		sleep_ms(5);
	}
	*out = o.p;
	*err = e.p;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* realmctl_run - realmctl with args (NULL-ended); its exit status */
int realmctl_run(const char *const args[], char **out, char **err)
{
	const char *argv[32];
	int n = 0;

	argv[n++] = realmctl_path();
	while (*args != NULL && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	if (access(argv[0], X_OK) == -1)
		hfail("realmctl binary %s: %s (set REALMCTL)", argv[0],
		    strerror(errno));
	return run_captured(argv, out, err, CTL_TIMEOUT_S);
}

/* daemon_ctl - realmctl -s <the daemon's socket> words...; exit status */
int daemon_ctl(struct daemon *d, char **out, char **err, ...)
{
	const char *args[32];
	const char *w;
	va_list ap;
	int n = 0;

	args[n++] = "-s";
	args[n++] = daemon_control_path(d);
	va_start(ap, err);
	while ((w = va_arg(ap, const char *)) != NULL && n < 31)
		args[n++] = w;
	va_end(ap);
	args[n] = NULL;
	return realmctl_run(args, out, err);
}

/* daemon_control_path - the control socket of the default config */
const char *daemon_control_path(const struct daemon *d)
{
	return d->control;
}

/* daemon_wait_exit - the master's wait status once it exits; -1 on timeout */
int daemon_wait_exit(struct daemon *d, double timeout_s)
{
	int st = 0;

	if (d->pid <= 0)
		hfail("daemon_wait_exit: daemon not running");
	if (!wait_master(d, timeout_s, &st))
		return -1;
	d->pid = 0;
	kill_orphans();
	return st;
}

/* ---------------------------------------------------------------- */
/* Standard fixtures                                                 */
/* ---------------------------------------------------------------- */

/* it_setup - a daemon with the default test config */
int it_setup(void **state)
{
	it_at(NULL, 0);
	*state = daemon_start(NULL);
	return 0;
}

/* it_teardown - graceful stop (asserted), then remove everything */
int it_teardown(void **state)
{
	struct daemon *d = *state;
	char why[256];
	int rc = 0;

	it_at(NULL, 0);
	if (d == NULL)
		return 0;
	if (daemon_running(d))
		rc = daemon_stop_quiet(d, why, sizeof why);
	if (rc == -1)
		daemon_log_tail(d, 30);
	daemon_destroy(d);
	*state = NULL;
	if (rc == -1)
		hfail("teardown: %s", why);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Clients                                                           */
/* ---------------------------------------------------------------- */

/* client_new - wrap a connected socket */
static struct client *client_new(int fd, struct daemon *d)
{
	struct client *c = xmalloc(sizeof *c);

	memset(c, 0, sizeof *c);
	c->fd = fd;
	c->cap = 65536;
	c->buf = xmalloc(c->cap);
	c->d = d;
	if (d != NULL) {
		c->next = d->clients;
		d->clients = c;
	}
	return c;
}

/* client_connect - a new connection to the daemon, or fail */
struct client *client_connect(struct daemon *d)
{
	int fd = connect_port(d->port);

	if (fd == -1) {
		daemon_log_tail(d, 20);
		hfail("connect to 127.0.0.1:%d: %s", d->port,
		    strerror(errno));
	}
	return client_new(fd, d);
}

/* client_connect_from - a new connection from a loopback address, or fail */
struct client *client_connect_from(struct daemon *d, const char *source)
{
	int fd = connect_port_from(d->port, source);

	if (fd == -1) {
		daemon_log_tail(d, 20);
		hfail("connect from %s to 127.0.0.1:%d: %s", source, d->port,
		    strerror(errno));
	}
	return client_new(fd, d);
}

/* client_try_connect - a new connection, or NULL; never asserts */
struct client *client_try_connect(int port)
{
	int fd = connect_port(port);

	return fd == -1 ? NULL : client_new(fd, NULL);
}

/* client_close - close and free a client */
void client_close(struct client *c)
{
	if (c == NULL)
		return;
	if (c->d != NULL) {
		struct client **pp = &c->d->clients;

		while (*pp != NULL && *pp != c)
			pp = &(*pp)->next;
		if (*pp == c)
			*pp = c->next;
	}
	if (c->fd != -1)
		close(c->fd);
	free(c->buf);
	free(c);
}

/* client_close_reset - close with an RST instead of a FIN */
void client_close_reset(struct client *c)
{
	struct linger lg = { 1, 0 };

	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	client_close(c);
}

int client_fd(const struct client *c) { return c->fd; }

/* client_reserve - room for n more bytes after len */
static void client_reserve(struct client *c, size_t n)
{
	if (c->off > 0 && c->off == c->len)
		c->off = c->len = 0;
	if (c->len + n <= c->cap)
		return;
	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	while (c->len + n > c->cap)
		c->cap *= 2;
	c->buf = realloc(c->buf, c->cap);
	if (c->buf == NULL)
		abort();
}

/* client_fill - read what is there within timeout: >0, 0 EOF, -1, -2 */
static int client_fill(struct client *c, int timeout_ms)
{
	struct pollfd p = { c->fd, POLLIN, 0 };
	ssize_t n;
	int r;

	do
		r = poll(&p, 1, timeout_ms < 0 ? 0 : timeout_ms);
	while (r == -1 && errno == EINTR);
	if (r == 0)
		return -2;
	if (r == -1)
		return -1;
	client_reserve(c, 65536);
	do
		n = read(c->fd, c->buf + c->len, c->cap - c->len);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return errno == ECONNRESET ? 0 : -1;
	c->len += n;
	return n > 0 ? (int)n : 0;
}

/* read_reply_quiet - next framed reply: 0, -1 closed/error, -2 timeout */
static int read_reply_quiet(struct client *c, int timeout_ms, char **raw,
    size_t *rawlen)
{
	double end = now_s() + timeout_ms / 1000.0;
	size_t done = 0;	/* bytes after off already searched */

	for (;;) {
		size_t avail = c->len - c->off, from = done > 3 ? done - 3 : 0;
		char *hit = memmem(c->buf + c->off + from, avail - from,
		    "\r\n\r\n", 4);
		int r;

		if (hit != NULL) {
			size_t n = (size_t)(hit - (c->buf + c->off));

			*raw = xmalloc(n + 1);
			memcpy(*raw, c->buf + c->off, n);
			(*raw)[n] = '\0';
			*rawlen = n;
			c->off += n + 4;
			return 0;
		}
		done = avail;
		r = client_fill(c, (int)((end - now_s()) * 1000));
		if (r == -2)
			return -2;
		if (r <= 0)
			return -1;
	}
}

/* write_quiet - write all bytes, reading replies meanwhile; 0 or -1 */
static int write_quiet(struct client *c, const void *data, size_t len,
    double timeout_s)
{
	const char *p = data;
	double end = now_s() + timeout_s;

	while (len > 0) {
		struct pollfd pf = { c->fd, POLLIN | POLLOUT, 0 };
		ssize_t n;

		if (now_s() > end)
			return errno = ETIMEDOUT, -1;
		if (poll(&pf, 1, 100) <= 0)
			continue;
		if ((pf.revents & POLLIN) && client_fill(c, 0) == 0 &&
		    !(pf.revents & POLLOUT))
			return errno = ECONNRESET, -1;
		if (!(pf.revents & (POLLOUT | POLLERR | POLLHUP)))
			continue;
		n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n == -1)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* client_write - send raw bytes in full, or fail */
void client_write(struct client *c, const void *data, size_t len)
{
	note_request(data, len);
	if (write_quiet(c, data, len, WRITE_TIMEOUT_S) == -1) {
		if (c->d)
			daemon_log_tail(c->d, 20);
		hfail("write of %zu bytes failed: %s (request: %s)", len,
		    strerror(errno), last_request);
	}
}

/* client_send - format and send raw bytes (caller adds the line end) */
void client_send(struct client *c, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	client_write(c, s, (size_t)n);
	free(s);
}

/* check_reply_text - framing, JSON, UTF-8 and ASCII checks of one raw reply */
static void check_reply_text(const char *raw, size_t len)
{
	char shown[600];

	printable(shown, sizeof shown, raw, len);
	if (!utf8_valid(raw, len))
		hfail("reply is not valid UTF-8: %s\n# request: %s", shown,
		    last_request);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)raw[i] >= 0x80)
			hfail("reply byte %zu is not ASCII: %s\n# request: %s",
			    i, shown, last_request);
	if (len == 0 || raw[0] != '{' || raw[len - 1] != '}')
		hfail("reply is not exactly one JSON object before "
		    "\\r\\n\\r\\n: %s\n# request: %s", shown, last_request);
	if (!json_strict_valid(raw, len))
		hfail("reply is not strict JSON: %s\n# request: %s", shown,
		    last_request);
}

/* client_reply_raw - the next reply's text, checked; caller frees */
char *client_reply_raw(struct client *c, size_t *len)
{
	char *raw, shown[600];
	int r = read_reply_quiet(c, reply_timeout_ms(), &raw, len);

	if (r != 0) {
		printable(shown, sizeof shown, c->buf + c->off, c->len - c->off);
		if (c->d)
			daemon_log_tail(c->d, 20);
		hfail("%s while waiting for a reply\n# request: %s\n"
		    "# unframed bytes: \"%s\"", r == -2 ?
		    "no reply within the timeout" : "connection closed",
		    last_request, shown);
	}
	check_reply_text(raw, *len);
	return raw;
}

/* check_reply_shape - status OK/ERROR; errors carry code and message */
static void check_reply_shape(const cJSON *r, const char *raw)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "status");

	if (!cJSON_IsObject(r))
		hfail("reply is not a JSON object: %s", raw);
	if (!cJSON_IsString(st) || (strcmp(st->valuestring, "OK") != 0 &&
	    strcmp(st->valuestring, "ERROR") != 0))
		hfail("reply without status OK/ERROR: %s\n# request: %s",
		    raw, last_request);
	if (strcmp(st->valuestring, "ERROR") == 0 &&
	    (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "code")) ||
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "message"))))
		hfail("error reply without code and message: %s\n"
		    "# request: %s", raw, last_request);
}

/* client_reply - the next reply, parsed and checked */
cJSON *client_reply(struct client *c)
{
	size_t len;
	char *raw = client_reply_raw(c, &len);
	cJSON *r = cJSON_ParseWithLength(raw, len);

	if (r == NULL)
		hfail("cJSON cannot parse reply: %s", raw);
	check_reply_shape(r, raw);
	free(raw);
	return r;
}

/* client_cmd - send one line (CRLF added) and return its reply */
cJSON *client_cmd(struct client *c, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	s = realloc(s, (size_t)n + 3);
	memcpy(s + n, "\r\n", 3);
	client_write(c, s, (size_t)n + 2);
	free(s);
	return client_reply(c);
}

/* client_auth - auth, assert OK and a v4 token; returns the token */
const char *client_auth(struct client *c, const char *user, const char *pass)
{
	cJSON *r = client_cmd(c, "auth %s %s", user, pass);
	const char *tok;

	assert_reply_ok(r);
	tok = json_string(r, "tokenid");
	if (!is_uuid_v4(tok))
		hfail("auth %s: tokenid \"%s\" is not a lowercase v4 UUID",
		    user, tok);
	snprintf(c->token, sizeof c->token, "%s", tok);
	cJSON_Delete(r);
	return c->token;
}

/* client_login - a new connection to d, logged in as a seeded user */
struct client *client_login(struct daemon *d, const char *user)
{
	struct client *c = client_connect(d);

	client_auth(c, user, SEED_PASSWORD);
	return c;
}

/* client_expect_silence - nothing arrives within ms */
void client_expect_silence(struct client *c, int ms)
{
	char shown[600];
	int r;

	if (c->len == c->off)
		r = client_fill(c, ms);
	else
		r = 1;
	if (r == -2)
		return;
	printable(shown, sizeof shown, c->buf + c->off, c->len - c->off);
	hfail("expected no reply, got %s: \"%s\"\n# last request: %s",
	    r == 0 ? "end of connection" : "bytes", shown, last_request);
}

/* client_expect_eof - the daemon closes the connection within ms */
void client_expect_eof(struct client *c, int ms)
{
	double end = now_s() + ms / 1000.0;

	for (;;) {
		int r = client_fill(c, (int)((end - now_s()) * 1000));

		if (r == 0 || r == -1)
			return;
		if (r == -2)
			hfail("connection still open after %d ms", ms);
	}
}

/* client_try_cmd - one request and reply; 0, -1 closed, -2 timeout, -3 */
int client_try_cmd(struct client *c, const char *line, cJSON **reply,
    int timeout_ms)
{
	size_t n = strlen(line), rawlen;
	char *s = xmalloc(n + 3), *raw;
	int r;

	memcpy(s, line, n);
	memcpy(s + n, "\r\n", 3);
	r = write_quiet(c, s, n + 2, timeout_ms / 1000.0);
	free(s);
	if (r == -1)
		return -1;
	if ((r = read_reply_quiet(c, timeout_ms, &raw, &rawlen)) != 0)
		return r;
	*reply = cJSON_ParseWithLength(raw, rawlen);
	free(raw);
	return *reply == NULL ? -3 : 0;
}

/* ---------------------------------------------------------------- */
/* Reply checks                                                      */
/* ---------------------------------------------------------------- */

/* show_failure - print the reply and the request, then fail there */
static void show_failure(const cJSON *r, const char *what, const char *file,
    int line)
{
	char *s = r ? cJSON_PrintUnformatted(r) : NULL;

	print_error("# %s:%d: %s\n# reply: %s\n# last request: %s\n", file,
	    line, what, s ? s : "(none)", last_request);
	free(s);
	_fail(file, line);
}

/* reply_status - the status string of a reply, or "" */
static const char *reply_status(const cJSON *r)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "status");

	return cJSON_IsString(st) ? st->valuestring : "";
}

/* reply_assert_ok - status is OK */
void reply_assert_ok(const cJSON *r, const char *file, int line)
{
	if (r == NULL || strcmp(reply_status(r), "OK") != 0)
		show_failure(r, "expected status OK", file, line);
}

/* reply_assert_error - status ERROR with this code */
void reply_assert_error(const cJSON *r, const char *code, const char *file,
    int line)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(r, "code");
	char what[128];

	snprintf(what, sizeof what, "expected ERROR %s", code);
	if (r == NULL || strcmp(reply_status(r), "ERROR") != 0 ||
	    !cJSON_IsString(c) || strcmp(c->valuestring, code) != 0)
		show_failure(r, what, file, line);
}

/* reply_assert_message - "message" is exactly this text */
void reply_assert_message(const cJSON *r, const char *text, const char *file,
    int line)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "message");
	char what[300];

	snprintf(what, sizeof what, "expected message \"%s\"", text);
	if (!cJSON_IsString(m) || strcmp(m->valuestring, text) != 0)
		show_failure(r, what, file, line);
}

/* json_get_string - a string member, or fail */
const char *json_get_string(const cJSON *obj, const char *key,
    const char *file, int line)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	char what[128];

	if (!cJSON_IsString(v)) {
		snprintf(what, sizeof what, "expected a string \"%s\"", key);
		show_failure(obj, what, file, line);
	}
	return v->valuestring;
}

/* inbox_count - messages in an inbox reply, over all senders */
int inbox_count(const cJSON *reply)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(reply, "messages");
	const cJSON *s;
	int n = 0;

	if (!cJSON_IsObject(m))
		hfail("inbox reply without a \"messages\" object");
	cJSON_ArrayForEach(s, m)
		n += cJSON_GetArraySize(s);
	return n;
}

/* inbox_more - the reply says more messages wait */
bool inbox_more(const cJSON *reply)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "more"));
}

/* inbox_from - the array of one sender's messages, or NULL */
const cJSON *inbox_from(const cJSON *reply, const char *sender)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(reply, "messages");

	return cJSON_GetObjectItemCaseSensitive(m, sender);
}

/* ---------------------------------------------------------------- */
/* Text checks                                                       */
/* ---------------------------------------------------------------- */

/* is_uuid_v4 - lowercase 8-4-4-4-12 hex, version 4, variant 10xx */
bool is_uuid_v4(const char *s)
{
	if (s == NULL || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

/* utf8_valid - well-formed UTF-8: no overlongs, surrogates, > U+10FFFF */
bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned c = p[i];
		int need;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, cp = c & 0x1f, min = 0x80;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, cp = c & 0x0f, min = 0x800;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, cp = c & 0x07, min = 0x10000;
		else
			return false;
		if (i + need >= len)
			return false;
		for (int k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

struct jscan {
	const char *s;		/* text */
	size_t	n;		/* its length */
	size_t	i;		/* position */
	int	depth;		/* nesting */
};

static bool js_value(struct jscan *j);

/* js_ws - skip JSON whitespace */
static void js_ws(struct jscan *j)
{
	while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' ||
	    j->s[j->i] == '\r' || j->s[j->i] == '\n'))
		j->i++;
}

/* is_hex - a hexadecimal digit */
static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/* js_peek - the current byte, or NUL at the end */
static char js_peek(const struct jscan *j)
{
	return j->i < j->n ? j->s[j->i] : '\0';
}

/* js_string - a string: escapes checked, no raw control bytes */
static bool js_string(struct jscan *j)
{
	if (js_peek(j) != '"')
		return false;
	j->i++;
	while (j->i < j->n) {
		unsigned char c = (unsigned char)j->s[j->i++];

		if (c == '"')
			return true;
		if (c < 0x20)
			return false;
		if (c != '\\')
			continue;
		if (j->i >= j->n)
			return false;
		c = (unsigned char)j->s[j->i++];
		if (c == 'u') {
			for (int k = 0; k < 4; k++, j->i++)
				if (j->i >= j->n || !is_hex(j->s[j->i]))
					return false;
		} else if (c == '\0' || strchr("\"\\/bfnrt", c) == NULL)
			return false;
	}
	return false;
}

/* js_digits - one or more digits */
static bool js_digits(struct jscan *j)
{
	size_t start = j->i;

	while (js_peek(j) >= '0' && js_peek(j) <= '9')
		j->i++;
	return j->i > start;
}

/* js_number - RFC 8259 number grammar */
static bool js_number(struct jscan *j)
{
	if (js_peek(j) == '-')
		j->i++;
	if (js_peek(j) == '0')
		j->i++;
	else if (!js_digits(j))
		return false;
	if (js_peek(j) == '.') {
		j->i++;
		if (!js_digits(j))
			return false;
	}
	if (js_peek(j) == 'e' || js_peek(j) == 'E') {
		j->i++;
		if (js_peek(j) == '+' || js_peek(j) == '-')
			j->i++;
		if (!js_digits(j))
			return false;
	}
	return true;
}

/* js_literal - true, false or null */
static bool js_literal(struct jscan *j, const char *word)
{
	size_t n = strlen(word);

	if (j->n - j->i < n || memcmp(j->s + j->i, word, n) != 0)
		return false;
	j->i += n;
	return true;
}

/* js_members - the inside of an object or array up to its closer */
static bool js_members(struct jscan *j, bool object, char closer)
{
	j->i++;
	js_ws(j);
	if (js_peek(j) == closer) {
		j->i++;
		return true;
	}
	for (;;) {
		if (object) {
			if (!js_string(j))
				return false;
			js_ws(j);
			if (js_peek(j) != ':')
				return false;
			j->i++;
			js_ws(j);
		}
		if (!js_value(j))
			return false;
		js_ws(j);
		if (js_peek(j) == closer) {
			j->i++;
			return true;
		}
		if (js_peek(j) != ',')
			return false;
		j->i++;
		js_ws(j);
	}
}

/* js_value - any JSON value */
static bool js_value(struct jscan *j)
{
	bool ok;

	switch (js_peek(j)) {
	case '{':
	case '[':
		if (++j->depth > 64)
			return false;
		ok = js_members(j, js_peek(j) == '{', js_peek(j) == '{' ? '}'
		    : ']');
		j->depth--;
		return ok;
	case '"':
		return js_string(j);
	case 't':
		return js_literal(j, "true");
	case 'f':
		return js_literal(j, "false");
	case 'n':
		return js_literal(j, "null");
	default:
		return js_number(j);
	}
}

/* json_strict_valid - exactly one RFC 8259 JSON text */
bool json_strict_valid(const char *s, size_t len)
{
	struct jscan j = { s, len, 0, 0 };

	js_ws(&j);
	if (!js_value(&j))
		return false;
	js_ws(&j);
	return j.i == len;
}

/* iso8601_utc - YYYY-MM-DDTHH:MM:SS[.frac](Z|+00:00); epoch seconds */
bool iso8601_utc(const char *s, long *epoch)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, used = 0;
	const char *p;

	if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d,
	    &h, &mi, &sec, &used) != 6 || used != 19)
		return false;
	for (int i = 0; i < 19; i++)
		if ((i == 4 || i == 7) ? s[i] != '-' : i == 10 ? s[i] != 'T' :
		    (i == 13 || i == 16) ? s[i] != ':' :
		    (s[i] < '0' || s[i] > '9'))
			return false;
	p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60)
		return false;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*epoch = (long)timegm(&tm);
	return true;
}

/* ---------------------------------------------------------------- */
/* Inbox draining                                                    */
/* ---------------------------------------------------------------- */

/* client_inbox_all - inbox until no "more": sender -> entries in order */
cJSON *client_inbox_all(struct client *c, int max_rounds)
{
	cJSON *all = cJSON_CreateObject();

	for (int round = 0; round < max_rounds; round++) {
		cJSON *r = client_cmd(c, "inbox"), *m, *sender;
		bool more;

		assert_reply_ok(r);
		m = cJSON_GetObjectItemCaseSensitive(r, "messages");
		if (!cJSON_IsObject(m))
			show_failure(r, "inbox without a messages object",
			    __FILE__, __LINE__);
		cJSON_ArrayForEach(sender, m) {
			cJSON *dst = cJSON_GetObjectItemCaseSensitive(all,
			    sender->string), *e;

			if (!cJSON_IsArray(sender))
				show_failure(r, "inbox sender is not an array",
				    __FILE__, __LINE__);
			if (dst == NULL)
				dst = cJSON_AddArrayToObject(all,
				    sender->string);
			cJSON_ArrayForEach(e, sender)
				cJSON_AddItemToArray(dst,
				    cJSON_Duplicate(e, true));
		}
		more = inbox_more(r);
		cJSON_Delete(r);
		if (!more)
			return all;
	}
	hfail("inbox still says more after %d rounds", max_rounds);
	return all;
}

/* ---- base64, written here apart from the daemon's, to check it ---- */

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* b64 - standard padded base64 of len bytes, malloc'd */
char *
b64(const unsigned char *p, size_t len)
{
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t rest = len - i;
		if (rest > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (rest > 2)
			v |= p[i + 2];
		*o++ = b64chars[(v >> 18) & 63];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = rest > 1 ? b64chars[(v >> 6) & 63] : '=';
		*o++ = rest > 2 ? b64chars[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static int
b64val(char c)
{
	const char *p = strchr(b64chars, c);

	return c != '\0' && p != NULL ? (int)(p - b64chars) : -1;
}

/* unb64 - decode padded base64; returns the length, -1 if malformed */
long
unb64(const char *s, unsigned char *out)
{
	size_t len = strlen(s), n = 0;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int a = b64val(s[i]), b = b64val(s[i + 1]);
		int c = s[i + 2] == '=' ? 0 : b64val(s[i + 2]);
		int d = s[i + 3] == '=' ? 0 : b64val(s[i + 3]);
		if (a < 0 || b < 0 || c < 0 || d < 0)
			return -1;
		uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 |
		    (uint32_t)c << 6 | (uint32_t)d;
		out[n++] = (unsigned char)(v >> 16);
		if (s[i + 2] != '=')
			out[n++] = (unsigned char)(v >> 8);
		if (s[i + 3] != '=')
			out[n++] = (unsigned char)v;
	}
	return (long)n;
}

/* ---------------------------------------------------------------- */
/* Pushes to a watching connection                                   */
/* ---------------------------------------------------------------- */

/*
 * client_object - the next framed object, a reply or a push, checked as
 * replies are (framing, strict JSON, UTF-8) but not for "status"
 */
cJSON *client_object(struct client *c)
{
	size_t len;
	char *raw = client_reply_raw(c, &len);
	cJSON *o = cJSON_ParseWithLength(raw, len);

	if (!cJSON_IsObject(o))
		hfail("not a JSON object: %s", raw);
	free(raw);
	return o;
}

/* client_event - the next object, which must be a pushed message */
cJSON *client_event(struct client *c)
{
	cJSON *o = client_object(c);
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(o, "event");
	char *s;

	if (!cJSON_IsString(ev) || strcmp(ev->valuestring, "message") != 0 ||
	    cJSON_GetObjectItemCaseSensitive(o, "status") != NULL) {
		s = cJSON_PrintUnformatted(o);
		hfail("expected a pushed message, got %s\n# last request: %s",
		    s, last_request);
	}
	return o;
}

/* client_try_object - the next framed object: 0, -1 closed, -2 timeout, -3 */
int client_try_object(struct client *c, int timeout_ms, cJSON **obj)
{
	size_t len;
	char *raw;
	int r;

	*obj = NULL;
	if ((r = read_reply_quiet(c, timeout_ms, &raw, &len)) != 0)
		return r;
	*obj = cJSON_ParseWithLength(raw, len);
	free(raw);
	return *obj == NULL ? -3 : 0;
}

/* client_try_write - send a line (CRLF added): 0, or -1 */
int client_try_write(struct client *c, const char *line, int timeout_ms)
{
	size_t n = strlen(line);
	char *s = xmalloc(n + 3);
	int r;

	memcpy(s, line, n);
	memcpy(s + n, "\r\n", 3);
	r = write_quiet(c, s, n + 2, timeout_ms / 1000.0);
	free(s);
	return r;
}
