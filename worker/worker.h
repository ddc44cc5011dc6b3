/*
 * NAME
 *	worker.h - a worker process: one epoll loop, many connections
 * DESCRIPTION
 *	conn.c frames bytes into lines and replies back into bytes;
 *	command.c looks each line up in the command table, checks it and
 *	calls its handler (cmd_*.c); worker.c runs the loop.
 */
#ifndef RC_WORKER_H
#define RC_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "lib/proc.h"
#include "lib/pwpool.h"
#include "lib/reply.h"
#include "lib/request.h"
#include "shm/deliver.h"
#include "shm/guard.h"
#include "shm/state.h"

struct worker;
struct conn;

/*
 * A request waiting for a password hash or check in a thread (pwjob.c,
 * lib/pwpool.c), and what it needs to finish once that is done.
 */
struct pw_job {
	struct pw_task	 t;		/* first: the pool sees only this */
	struct conn	*c;		/* NULL once the connection is gone */
	void		(*finish)(struct worker *, struct conn *,
			    struct pw_job *, struct buf *out);
	uint32_t	 user;		/* the request's user, or the one named */
	uint32_t	 session;	/* the request's session */
	uint32_t	 group;
	char		 name[NAME_LEN + 1];
	char		 display[DISPLAY_LEN + 1];
	char		 country[COUNTRY_LEN + 1];
};

/* An inbox reply whose messages leave the queue once it is fully written. */
struct pending {
	struct pending	*next;
	uint64_t	 until;		/* conn->queued just after the reply */
	uint32_t	 user;
	struct lease	 lease;
};

/* A request whose reply waits on realmd. */
enum wait_for { WAIT_ASK = 1, WAIT_SEND };

struct conn {
	int		 fd;
	struct worker	*w;
	struct buf	 in;		/* bytes of lines not yet answered */
	size_t		 scanned;	/* in: bytes known to hold no LF */
	size_t		 in_charged;	/* in: bytes counted in w and guard.c */
	struct buf	 out;		/* reply bytes the socket has not taken */
	uint64_t	 queued;	/* reply bytes produced, ever */
	uint64_t	 written;	/* reply bytes written, ever */
	uint64_t	 last_active;	/* now_msec() of the last byte either way */
	struct pending	*pending;	/* oldest first */
	uint32_t	 events;	/* epoll interest now */
	bool		 skipping;	/* discarding an overlong line */
	bool		 eof;		/* peer finished sending */
	bool		 has_token;	/* bound to a session */
	uint8_t		 token[TOKEN_LEN];
	struct conn	*idle_prev;	/* by last_active, oldest at head */
	struct conn	*idle_next;
	/* waiting on realmd: no other line is answered meanwhile */
	uint8_t		 wait_for;	/* enum wait_for, 0 if not waiting */
	uint64_t	 wait_req;	/* our request number */
	uint64_t	 wait_until;	/* now_msec() to give up */
	uint64_t	 wait_msg;	/* WAIT_SEND: the queued message's id */
	char		 wait_realm[NAME_LEN + 1];
	struct conn	*wait_next;
	struct pw_job	*pw_job;	/* a password in a thread: wait for it */
	bool		 more;		/* lines left over this turn */
	bool		 listed;	/* on w->ready */
	struct conn	*ready_next;	/* w->ready: lines waiting their turn */
	uint32_t	 turn_lines;	/* lines answered this turn */
	char		*handoff;	/* a realm link's first line, to hand over */
	size_t		 handoff_len;
	uint32_t	 debug_lock_sleep; /* debug_hooks: ms the next request's
					     change sleeps inside the lock */
	uint16_t	 addr_bucket;	/* the peer address's, in guard.c */
	struct push	*push;		/* watching (watch.c), or NULL */
	struct conn	*dead_next;	/* w->dead: closed, freed by conn_reap */
};

/* The worker's end of the channel to realmd. */
struct realm_chan {
	int		 fd;		/* -1: not connected */
	struct buf	 in;
	struct buf	 out;
	uint64_t	 next_req;
	uint64_t	 retry_at;	/* now_msec() before which we do not connect */
	uint32_t	 events;	/* epoll interest now */
};

struct worker {
	const struct config *cf;
	struct state	*st;
	struct shm_proc	*me;
	int		 epfd;
	int		 lfd;		/* listening socket, -1 once stopping */
	int		 sigfd;
	uint32_t	 nconns;
	uint64_t	 in_total;	/* bytes in every conn->in */
	uint32_t	 serial;	/* numbers inbox replies for leases */
	bool		 stopping;
	struct conn	*idle_head;
	struct conn	*idle_tail;
	struct buf	 scratch;	/* replies of one read, before write */
	uint32_t	*msg_idx;	/* inbox_batch slots for leasing */
	struct realm_chan realmd;
	struct conn	*waiting;	/* connections waiting on realmd */
	struct push	**watch_tab;	/* watching connections, by user */
	uint32_t	 watch_mask;	/* buckets - 1; 0 before the first */
	uint32_t	 nwatch;
	struct push	*watch_ready;	/* watchers to serve after this pass */
	struct conn	*ready;		/* connections with lines left over */
	struct conn	*dead;		/* closed this pass, not yet freed */
};

/* A parsed request as a handler sees it. */
struct request {
	struct worker	*w;
	struct conn	*c;
	struct buf	*out;		/* append the reply here */
	struct word	*args;		/* arguments after name and token */
	int		 nargs;
	const char	*text;		/* CMD_TEXT: the rest of the line */
	size_t		 textlen;
	struct word	 from;		/* seed 001 sendrealm: username_from */
	const struct word *verb;	/* the command word as sent */
	bool		 words_form;	/* "group <word> ...", seed 002 */
	bool		 src_form;	/* the client's address after the token */
	uint32_t	 session;	/* CMD_SESSION: resolved session */
	uint32_t	 user;		/* CMD_SESSION: its user */
	uint8_t		 token[TOKEN_LEN];
};

typedef void cmd_handler(struct request *);

enum cmd_flags {
	CMD_SESSION = 1 << 0,	/* needs a session; takes a token first */
	CMD_TEXT = 1 << 1,	/* last argument is the rest of the line */
	CMD_ADDR = 1 << 2,	/* may have the client's address before the token */
	CMD_DEBUG = 1 << 3,	/* a test hook: debug_hooks = yes only */
	CMD_ANON = 1 << 4,	/* CMD_SESSION, but may run without one */
	CMD_SHORT = 1 << 5,	/* CMD_TEXT with one word fewer: the handler
				   reads it (no group named, or a path) */
	CMD_FROM = 1 << 6,	/* after the client's address: username_from */
};

struct command {
	const char	*name;		/* canonical, lower case */
	const char	*aliases[4];
	uint8_t		 min_args;
	uint8_t		 max_args;
	uint8_t		 flags;		/* enum cmd_flags */
	cmd_handler	*handler;
};

static inline struct sender
request_sender(const struct request *rq)
{
	struct sender s = { rq->w->st, rq->w->cf, rq->user, false };
	return s;
}

/* conn.c */
int	conn_listen(struct worker *, int op);
void	conn_accept(struct worker *);
void	conn_event(struct conn *, uint32_t events);
void	conn_close(struct conn *);
void	conn_reap(struct worker *);
void	conn_expire_idle(struct worker *, uint64_t now);
void	conn_stop(struct worker *);
int	conn_add_pending(struct conn *, uint32_t user, const struct lease *);
void	conn_late_reply(struct conn *, struct buf *reply);
size_t	conn_unsent(const struct conn *);
int	conn_push(struct conn *, cJSON *, uint64_t *end);

/* watch.c */
extern char watch_mark;		/* epoll data of the worker's eventfd */
int	watch_init(struct worker *);
void	watch_wakeup(struct worker *);
void	watch_run(struct worker *);
void	watch_fill(struct conn *);
void	watch_written(struct conn *);
bool	watch_again(const struct conn *);
void	watch_later(struct conn *);
void	watch_close(struct conn *);
void	watch_forget_all(struct worker *);

void	conn_serve_ready(struct worker *);

/* pwjob.c */
extern char pwpool_mark;	/* epoll data of the pool's eventfd */
struct pw_job *pw_job_new(struct request *, const struct word *pw);
void	pw_job_free(struct pw_job *);
void	pw_submit(struct request *, struct pw_job *);
void	pw_forget(struct conn *);

/* realmd.c */
extern char realmd_mark;	/* epoll data of the channel to realmd */
extern char listen_mark;	/* epoll data of the listening socket (conn.c) */
int	realmd_ask(struct request *, uint32_t type, cJSON *, enum wait_for,
	    uint64_t msg);
void	realmd_notify(struct worker *, uint32_t realm, uint64_t msg);
void	realmd_event(struct worker *, uint32_t events);
void	realmd_tick(struct worker *, uint64_t now);
void	realmd_forget(struct conn *);
void	realmd_handoff(struct conn *);
void	realmd_close(struct worker *);

/* command.c */
void	command_init(void);
void	command_run(struct worker *, struct conn *, struct buf *out,
	    const char *line, size_t len);
void	session_bind(struct conn *, const uint8_t tok[TOKEN_LEN]);
uint32_t session_resolve(struct worker *, const uint8_t tok[TOKEN_LEN],
	    uint32_t *user);
int	arg_copy(const struct word *, char *, size_t);
const char *command_name(size_t);


/* A file a request carries, decoded. */
struct upload {
	char		 name[FILE_NAME_LEN + 1];
	unsigned char	*body;
	size_t		 size;
	uint64_t	 id;		/* spool name, once stored */
};

/* cmd_file.c */
bool	upload_decode(struct request *, const struct word *name, struct upload *);
bool	upload_store(struct request *, struct upload *);

/* forms.c: the forms of the seed families, told apart */
bool	addr_shaped(const struct word *);
bool	port_shaped(const struct word *);
int	form_src_address(struct request *, struct request_line *, int *first,
	    const struct command *);
bool	form_from_ok(struct request *);
int	form_register(struct request *, int pos[4]);
void	form_file_path(struct request *);
int	form_anon_addrealm(struct request *);
void	form_note_group(struct worker *, uint32_t session, uint32_t user,
	    uint32_t g);
void	form_note_words(struct request *);
int	form_group_target(struct request *, int at, struct word *to, char *buf);

/* country.c */
bool	country_known(const char *, size_t);

/* cmd_message.c: replies of deliveries and drains */
void	delivery_reply(struct request *, const struct target *,
	    struct delivery *, const char *message);
void	delivery_error(struct request *, enum rc_code, struct delivery *);
typedef void inbox_add_fn(struct state *, cJSON *list, const struct shm_msg *);
void	inbox_reply(struct request *, uint32_t realm, cJSON *o, cJSON *list,
	    inbox_add_fn *);
enum rc_code text_clean(struct request *, const char **, size_t *, char **);
void	text_refused(struct request *, enum rc_code);

/* cmd_account.c, cmd_message.c, cmd_group.c, cmd_file.c */
cmd_handler cmd_auth, cmd_register, cmd_logout, cmd_info, cmd_whoami;
cmd_handler cmd_send, cmd_inbox, cmd_watch;
cmd_handler cmd_addrealm, cmd_listrealm, cmd_ackrealm, cmd_sendrealm;
cmd_handler cmd_sendfilerealm, cmd_sendgrouprealm, cmd_sendgroupfilerealm;
cmd_handler cmd_inboxrealm, cmd_joingrouprealm, cmd_inboxgrouprealm;
cmd_handler cmd_realmlink;
cmd_handler cmd_addgroup, cmd_joingroup, cmd_leavegroup, cmd_sendgroup;
cmd_handler cmd_inboxgroup, cmd_listgroups, cmd_groupmembers;
cmd_handler cmd_sendfile, cmd_sendgroupfile, cmd_downloadfile;
cmd_handler cmd_downloadgroupfile, cmd_downloadrealmfile;
cmd_handler cmd_downloadgrouprealmfile;

#endif
