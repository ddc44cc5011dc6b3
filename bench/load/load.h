/*
 * NAME
 *	load.h - the load generator's shared types, options and calls
 * DESCRIPTION
 *	bench/load/ is one program, build/bench/load (main.c describes its
 *	modes).  Its files by job: main.c options and the choice of mode;
 *	conn.c non-blocking connections over epoll and the framing of
 *	replies; loop.c the closed loop of the realmchat, echo, redis and
 *	fill modes; realm.c the realm and drain modes and the far side's
 *	deliveries; pairs.c the irc, push and poll pairs; file.c the file
 *	transfer; startup.c start-up time, say and freeport; stats.c time,
 *	the latency histogram, and the memory and CPU of the processes.
 */
#ifndef BENCH_LOAD_H
#define BENCH_LOAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>

#define IN_SIZE		(16 * 1024)	/* reply buffer of a connection */
#define TOKEN_LEN	36
#define CONNECTS_IN_FLIGHT 512		/* idle connections being opened */
#define SETUP_LIMIT_NS	(60 * NS)	/* connecting and logging in */
#define GRACE_NS	(2 * NS)	/* for the last replies after the window */
#define REALM_GRACE_NS	(30 * NS)	/* the same, for sendrealm's replies */
#define NS		1000000000ULL
#define MAX_THREADS	16
#define REPLY_END	"\r\n\r\n"

/*
 * Log-linear buckets: values below 128 ns exactly, above that 64 buckets
 * per power of two, so a bucket is at most 1/64 of its value wide.
 */
#define SUB_BITS	6
#define SUB		(1u << SUB_BITS)
#define HBUCKETS	(SUB * (64 - SUB_BITS) + SUB)

struct hist {
	uint64_t	n;
	uint64_t	max;
	uint64_t	b[HBUCKETS];
};

enum mode { M_REALMCHAT, M_ECHO, M_REDIS, M_FILL, M_FILE, M_STARTUP, M_FREEPORT,
    M_REALM, M_DRAIN, M_SAY, M_IRC, M_PUSH, M_POLL };

/* The command line (main.c). */
struct opts {
	enum mode	 mode;
	const char	*host;
	int		 port;
	unsigned	 conns;
	double		 duration, warmup;
	size_t		 msg_size;
	bool		 token_form;
	unsigned	 threads;
	unsigned	 idle;
	const char	*prefix;
	unsigned	 first;
	const char	*password;
	const char	*sample_pids;
	const char	*exclude;
	uint64_t	 fill_total;
	unsigned	 fill_first, fill_count, depth;
	size_t		 file_size;
	const char	*log;
	uint64_t	 gap_ns;	/* between dialling load connections */
	int		 far_port;	/* realm, drain: the receiving realm */
	const char	*link;		/* the link's id on the sending realm */
	const char	*far_link;	/* the same link's id on the receiving one */
	double		 verify_secs;	/* how long deliveries are waited for */
	unsigned	 think_ms;	/* pairs: between an arrival and the next send */
	unsigned	 poll_ms;	/* poll: between a partner's inbox requests */
};

enum role { R_LOAD, R_FILL, R_SENDER, R_RECIPIENT, R_SMALL, R_DRAINER };
enum phase { P_AUTH, P_READY, P_BUSY, P_DONE };

struct thread;

struct conn {
	int		 fd;
	enum role	 role;
	enum phase	 phase;
	unsigned	 user;		/* user number of this connection */
	unsigned	 peer;		/* user number it sends to */
	struct thread	*t;
	bool		 want_out;	/* EPOLLOUT registered */
	bool		 keep;		/* keep whole replies (grow, never skip) */

	const char	*out;		/* request being written */
	size_t		 outlen, outoff;
	char		*req[2];	/* prepared requests: send, inbox */
	size_t		 reqlen[2];
	uint64_t	 op;		/* requests issued */
	uint64_t	 sent_at;	/* ns, of the outstanding request */

	char		*in;		/* reply bytes */
	size_t		 incap, inlen, scan;
	uint64_t	 skipped;	/* bytes of this reply already dropped */
	int		 status;	/* of this reply: -1 unknown, 0 error, 1 OK */

	uint32_t	 expect;	/* replies owed to a pipelined batch */
	uint64_t	 todo;		/* fill: messages still to queue */
	uint64_t	 next_msg;	/* fill: number of the next one */
	uint64_t	 batch_first;	/* drain: number of the batch's first */
	uint32_t	 batch_n;	/* drain: messages in the batch */
	char		 token[TOKEN_LEN + 1];
};

struct thread {
	pthread_t	 tid;
	int		 epfd;
	struct conn	*conns;
	unsigned	 nconns;
	unsigned	 base;		/* index of its first connection */
	unsigned	 active;	/* connections not yet done */
	struct hist	 hist;
	uint64_t	 ops, errors;
	uint64_t	 all_ops, all_errors, queued;	/* realm: window or not */
};

/* Shared by the threads: when the window opens and closes (conn.c). */
struct window {
	unsigned	 ready;		/* connections logged in */
	unsigned	 total;
	uint64_t	 t_measure;	/* ns; UINT64_MAX until everyone is ready */
	uint64_t	 t_end;
};

/* One blocking session, for listrealm and say. */
struct bconn {
	int	 fd;
	char	*buf;
	size_t	 cap, len;	/* the last reply is buf[0..len) */
};

/* CPU time: ours, the server's, everyone else's. */
struct cpu_snap {
	uint64_t	busy;		/* all but idle, iowait and steal, ticks */
	uint64_t	softirq;
	uint64_t	steal;
	uint64_t	self;		/* this process */
	uint64_t	server;		/* the -S processes */
};

/* main.c */
extern struct opts opt;
extern struct sockaddr_in target, far_target;
void	die(const char *fmt, ...)
	    __attribute__((noreturn, format(printf, 1, 2)));

/* conn.c */
extern struct window window;
extern const struct sockaddr_in *dial_to;
uint64_t	load_u64(const uint64_t *p);
int	tcp_dial(void);
void	hang_up(int fd);
void	start_request(struct conn *c, const char *req, size_t len);
bool	reply_ok_prefix(const char *p, size_t len);
char	*xmalloc(size_t n);
void	fill_text(char *p, size_t n);
void	conn_init(struct conn *c, struct thread *t, enum role role, unsigned user,
	    unsigned peer);
void	dispatch_events(struct thread *t, int timeout_ms);
const char	*bcall(struct bconn *b, const char *line);
void	bopen(struct bconn *b, unsigned user);
/* loop.c */
void	send_auth(struct conn *c);
void	conn_done(struct conn *c);
void	became_ready(struct conn *c);
void	reply_taken(struct conn *c, bool ok, size_t len);
void	mode_load(void);
double	fill_run(struct thread *t);
void	mode_fill(void);
/* realm.c */
void	track_sent(unsigned src, uint64_t seq);
int	realm_text(char *p, size_t room, unsigned src, uint64_t seq);
void	drain_reply(struct conn *c, bool ok, size_t len);
void	realm_await_link(void);
void	verify_far(unsigned first, unsigned count);
void	mode_drain(char **argv);
/* pairs.c */
void	mode_pairs(void);
/* file.c */
void	file_reply(struct conn *c, bool ok, size_t len);
void	mode_file(void);
/* startup.c */
void	mode_say(char **argv);
pid_t	spawn_command(char **argv);
void	mode_startup(char **argv);
void	mode_freeport(void);
/* stats.c */
uint64_t	now_ns(void);
void	hist_add(struct hist *h, uint64_t v);
void	hist_merge(struct hist *into, const struct hist *h);
uint64_t	hist_quantile(const struct hist *h, double q);
uint64_t	await_accepted(void);
void	cpu_snap(struct cpu_snap *s);
void	wait_for(const uint64_t *t);
void	print_cpu(const struct cpu_snap *a, const struct cpu_snap *b, uint64_t ops);
void	print_memory(void);
double	us(uint64_t ns);
#endif
