/*
 * NAME
 *	stats - time, the latency histogram, memory and CPU of processes
 * DESCRIPTION
 *	A log-linear histogram (1.6% resolution, no allocation per request);
 *	the private memory and sockets of the -S processes, the kernel's TCP
 *	and slab memory; CPU ticks of the server, of us and of the rest.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/load/load.h"

struct mem {
	uint64_t	private_kib;	/* every mapping but the excluded one */
	uint64_t	rollup_kib;	/* smaps_rollup */
	uint64_t	sockets;
	char		by_pid[256];	/* sockets of each process, a/b/c */
};

uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static unsigned
hist_index(uint64_t v)
{
	unsigned shift;

	if (v < 2 * SUB)
		return (unsigned)v;
	shift = (unsigned)(63 - __builtin_clzll(v)) - SUB_BITS;
	return SUB * shift + (unsigned)(v >> shift);
}

static uint64_t
hist_value(unsigned i)
{
	unsigned shift;
	uint64_t top;

	if (i < 2 * SUB)
		return i;
	shift = i / SUB - 1;
	top = i - SUB * shift;
	return (top << shift) + ((1ULL << shift) >> 1);	/* middle of the bucket */
}

void
hist_add(struct hist *h, uint64_t v)
{
	h->b[hist_index(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

void
hist_merge(struct hist *into, const struct hist *h)
{
	for (unsigned i = 0; i < HBUCKETS; i++)
		into->b[i] += h->b[i];
	into->n += h->n;
	if (h->max > into->max)
		into->max = h->max;
}

/* hist_quantile - the value at quantile q (0..1), in ns */
uint64_t
hist_quantile(const struct hist *h, double q)
{
	uint64_t rank = (uint64_t)(q * (double)h->n + 0.999999), seen = 0;

	if (h->n == 0)
		return 0;
	if (rank == 0)
		rank = 1;
	for (unsigned i = 0; i < HBUCKETS; i++)
		if ((seen += h->b[i]) >= rank)
			return hist_value(i) < h->max ? hist_value(i) : h->max;
	return h->max;
}

static uint64_t
private_of(const char *path, bool by_mapping)
{
	char line[1024];
	bool skip = false;
	uint64_t kib = 0;
	FILE *fp = fopen(path, "r");

	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL) {
		unsigned long long v;

		/* a mapping's header line starts with its (lower-case) address */
		if (by_mapping && !isupper((unsigned char)line[0])) {
			skip = strstr(line, opt.exclude) != NULL;
			continue;
		}
		if (skip)
			continue;
		if (sscanf(line, "Private_Clean: %llu kB", &v) == 1 ||
		    sscanf(line, "Private_Dirty: %llu kB", &v) == 1)
			kib += v;
	}
	fclose(fp);
	return kib;
}

static uint64_t
sockets_of(const char *pid)
{
	char dir[64], path[512], link[64];
	struct dirent *de;
	uint64_t n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%s/fd", pid);
	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		ssize_t l;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((l = readlink(path, link, sizeof(link) - 1)) > 0) {
			link[l] = '\0';
			n += strncmp(link, "socket:", 7) == 0;
		}
	}
	closedir(d);
	return n;
}

static struct mem
sample_memory(void)
{
	struct mem m = { .private_kib = 0 };
	char *list = strdup(opt.sample_pids), *save = NULL, path[64];
	size_t used = 0;

	for (char *pid = strtok_r(list, ",", &save); pid != NULL;
	    pid = strtok_r(NULL, ",", &save)) {
		snprintf(path, sizeof(path), "/proc/%s/smaps", pid);
		m.private_kib += private_of(path, true);
		snprintf(path, sizeof(path), "/proc/%s/smaps_rollup", pid);
		m.rollup_kib += private_of(path, false);
		uint64_t n = sockets_of(pid);
		m.sockets += n;
		if (used < sizeof(m.by_pid))
			used += (size_t)snprintf(m.by_pid + used,
			    sizeof(m.by_pid) - used, "%s%llu", used ? "/" : "",
			    (unsigned long long)n);
	}
	free(list);
	return m;
}

/*
 * await_accepted - with -S, wait until the server holds a socket for every
 * idle connection.  A connect completes in the kernel before the server
 * accepts it, so without this the active connections would reach a server
 * still draining the idle ones from its backlog, and be spread over its
 * workers otherwise than in a run without idle connections.  Returns the
 * milliseconds waited.
 */
uint64_t
await_accepted(void)
{
	uint64_t begun = now_ns();

	if (opt.sample_pids == NULL || opt.idle == 0)
		return 0;
	while (sample_memory().sockets < opt.idle) {
		if (now_ns() - begun > SETUP_LIMIT_NS)
			die("the server accepted too few idle connections");
		usleep(20 * 1000);
	}
	return (now_ns() - begun) / 1000000;
}

/* tcp_mem_kib - the kernel's memory for TCP buffers, system-wide */
static uint64_t
tcp_mem_kib(void)
{
	char line[256];
	unsigned long long pages = 0;
	FILE *fp = fopen("/proc/net/sockstat", "r");

	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL) {
		const char *p = strstr(line, " mem ");
		if (strncmp(line, "TCP:", 4) == 0 && p != NULL)
			pages = strtoull(p + 5, NULL, 10);
	}
	fclose(fp);
	return pages * (uint64_t)sysconf(_SC_PAGESIZE) / 1024;
}

/* slab_kib - the kernel's slab memory, system-wide (sockets live there) */
static uint64_t
slab_kib(void)
{
	char line[256];
	unsigned long long kib = 0;
	FILE *fp = fopen("/proc/meminfo", "r");

	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "Slab: %llu kB", &kib) == 1)
			break;
	fclose(fp);
	return kib;
}

/* proc_ticks - utime + stime of process pid ("self" for us) */
static uint64_t
proc_ticks(const char *pid)
{
	char path[64], buf[1024];
	unsigned long long ut = 0, st = 0;
	const char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	    &ut, &st) != 2)
		return 0;
	return ut + st;
}

void
cpu_snap(struct cpu_snap *s)
{
	unsigned long long v[8] = { 0 };
	char line[512];
	FILE *fp = fopen("/proc/stat", "r");

	memset(s, 0, sizeof(*s));
	if (fp != NULL) {
		if (fgets(line, sizeof(line), fp) != NULL)
			sscanf(line, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
			    &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
		fclose(fp);
	}
	/* a task's ticks include the interrupts that hit it */
	s->busy = v[0] + v[1] + v[2] + v[5] + v[6];
	s->softirq = v[6];
	s->steal = v[7];
	s->self = proc_ticks("self");
	if (opt.sample_pids != NULL) {
		char *list = strdup(opt.sample_pids), *save = NULL;

		for (char *pid = strtok_r(list, ",", &save); pid != NULL;
		    pid = strtok_r(NULL, ",", &save))
			s->server += proc_ticks(pid);
		free(list);
	}
}

/* wait_for - sleep until the shared time *t is set and has come */
void
wait_for(const uint64_t *t)
{
	for (;;) {
		uint64_t when = load_u64(t), now = now_ns();
		struct timespec ts;

		if (when != UINT64_MAX && now >= when)
			return;
		if (when == UINT64_MAX)
			when = now + NS / 1000;
		ts.tv_sec = (time_t)(when / NS);
		ts.tv_nsec = (long)(when % NS);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
}

/*
 * print_cpu - CPU over the window in % of one CPU: the server's (-S),
 * ours, softirq (the loopback's packet work), steal, and everyone else
 * (a busy neighbour makes the run worth less); and the server's CPU
 * time per operation.
 */
void
print_cpu(const struct cpu_snap *a, const struct cpu_snap *b, uint64_t ops)
{
	double tick = 100.0 / (double)sysconf(_SC_CLK_TCK) / opt.duration;
	double server = (double)(b->server - a->server);
	double self = (double)(b->self - a->self);
	double other = (double)(b->busy - a->busy) - server - self;

	printf(" server_cpu=%.0f load_cpu=%.0f softirq_cpu=%.0f other_cpu=%.0f "
	    "steal_cpu=%.0f", server * tick, self * tick,
	    (double)(b->softirq - a->softirq) * tick,
	    other > 0 ? other * tick : 0.0,
	    (double)(b->steal - a->steal) * tick);
	if (opt.sample_pids != NULL && ops > 0)
		printf(" server_us_per_op=%.2f", server * 1e6 /
		    (double)sysconf(_SC_CLK_TCK) / (double)ops);
}

/* print_memory - " mem_kib=..." and the rest, if -S named processes */
void
print_memory(void)
{
	struct mem m;

	if (opt.sample_pids == NULL)
		return;
	m = sample_memory();
	printf(" mem_kib=%llu mem_rollup_kib=%llu daemon_sockets=%llu "
	    "sockets_by_pid=%s tcp_mem_kib=%llu slab_kib=%llu",
	    (unsigned long long)m.private_kib,
	    (unsigned long long)m.rollup_kib,
	    (unsigned long long)m.sockets, m.by_pid,
	    (unsigned long long)tcp_mem_kib(),
	    (unsigned long long)slab_kib());
}

double
us(uint64_t ns)
{
	return (double)ns / 1000.0;
}
