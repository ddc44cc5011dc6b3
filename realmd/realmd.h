/*
 * NAME
 *	realmd.h - the process that owns every link to another realm
 * DESCRIPTION
 *	realmd.c runs the loop: the UNIX socket the workers talk to (struct
 *	chan), the timers, and the requests workers wait on (struct waiter).
 *	The links -- the TCP connections to peer realms (struct peer) -- are
 *	run by link.c (their phases, one link_fsm), dial.c (how one
 *	begins), handshake.c, send.c (outboxes, verdicts, bounces) and
 *	recv.c (mail and requests from the peer); peer.h is what they
 *	share.  names.c decides what a link is called and who may add one.
 */
#ifndef RC_REALMD_H
#define RC_REALMD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/buf.h"
#include "lib/chan.h"
#include "lib/config.h"
#include "lib/link.h"
#include "lib/proc.h"
#include "lib/reply.h"
#include "shm/state.h"

#define CHAN_FDS	8		/* descriptors received, not yet used */

enum tag { TAG_CHAN = 1, TAG_PEER };	/* first field of what epoll points at */

/* A worker connected to realmd's socket. */
struct chan {
	enum tag	 tag;
	int		 fd;
	pid_t		 pid;		/* from SO_PEERCRED, checked */
	struct buf	 in;
	struct buf	 out;
	int		 fds[CHAN_FDS];	/* passed descriptors, oldest first */
	int		 nfds;
	uint32_t	 events;	/* epoll interest now */
	bool		 dirty;		/* results wait to be written */
	struct chan	*next;
};

enum phase {
	PH_NEW,			/* made, not started yet */
	PH_RESOLVING,		/* dialer: looking the host name up */
	PH_CONNECTING,		/* dialer: TCP connect in progress */
	PH_TLS,			/* both: the TLS handshake (dialer: hello sent) */
	PH_CHALLENGE,		/* dialer: TLS up, waiting for the challenge */
	PH_WELCOME,		/* dialer: proof sent, waiting for the welcome */
	PH_HELLO,		/* acceptor: waiting for the dialer's hello */
	PH_PROOF,		/* acceptor: TLS up, challenge sent, waiting for the proof */
	PH_UP,
	PH_CLOSING,		/* sending a last frame, then closed */
	PH_CLOSED,		/* done; freed by the next peer_tick */
};

struct lookup;			/* a host name being looked up (dial.c) */
typedef struct ssl_st SSL;

#define TLS_BINDING_LEN	32	/* bytes of the tls-exporter value */

/* One TCP connection to a peer realm. */
struct peer {
	enum tag	 tag;
	int		 fd;		/* -1 while resolving, and once closed */
	struct lookup	*lookup;	/* while resolving (dial.c) */
	struct addrinfo	*addrs;		/* a dialer's addresses for the host */
	struct addrinfo	*addr_next;	/* the next to try if this one fails */
	enum phase	 phase;
	bool		 dialer;
	uint8_t		 from[8];	/* acceptor: the dialer's IPv4, or IPv6 /64 */
	uint32_t	 realm;		/* its link slot; 0 until known */
	char		 nonce[2 * NONCE_LEN + 1];	/* ours */
	char		 peer_nonce[2 * NONCE_LEN + 1];
	char		 peer_name[NAME_LEN + 1];
	uint64_t	 peer_inst;
	SSL		*ssl;		/* from the byte after the hello line */
	bool		 tls_seen;	/* dialer: the acceptor answered in TLS */
	char		 binding[2 * TLS_BINDING_LEN + 1];	/* tls-exporter, hex */
	struct buf	 in;		/* plain text read (decrypted) */
	struct buf	 text;		/* plain text to send, not yet encrypted */
	struct buf	 out;		/* bytes for the socket */
	size_t		 scanned;	/* in: bytes known to hold no LF */
	uint64_t	 deadline;	/* handshake must end by then */
	uint64_t	 sent_upto;	/* highest queued id written here */
	uint32_t	 inflight;	/* messages written, not yet answered */
	uint64_t	 last_in;	/* now_msec() of the last byte read */
	uint64_t	 last_ping;	/* now_msec() of our last keepalive */
	uint32_t	 events;	/* epoll interest now */
	bool		 batching;	/* reading: frames are written once, after */
	/* what the event link_fsm handles now carries (link.c) */
	const char	*line;		/* LE_HELLO: the dialer's first line */
	size_t		 line_len;
	const struct link_frame *frame;	/* a frame's event: the frame */
	char		 why[256];	/* LE_REFUSE, LE_CLOSE: why ("": none) */
	/* an addrealm in progress: who asked, and what to call the link */
	struct chan	*ask;
	uint64_t	 ask_req;
	char		 ask_id[NAME_LEN + 1];
	bool		 ask_user;	/* a user asked, not the operator */
	char		 host[HOST_LEN + 1];
	uint16_t	 port;
	struct peer	*next;
};

/* What realmd knows of a link beyond the shared state. */
struct link_rt {
	struct peer	*conn;		/* handshaking or up, or NULL */
	uint64_t	 created;	/* of the link conn belongs to */
	uint64_t	 retry_at;	/* dialer: next dial, now_msec() */
	uint64_t	 backoff_ms;
};

enum wait_kind { WAIT_VERDICT, WAIT_REPLY };

/* A worker's request that waits on a peer. */
struct waiter {
	enum wait_kind	 kind;
	struct chan	*chan;
	uint64_t	 req;
	uint32_t	 realm;
	uint64_t	 key;		/* message id, or request number q */
	uint64_t	 started;	/* now_msec() */
	uint64_t	 deadline;
	struct waiter	*next;
};

struct early;			/* a verdict kept for its worker (send.c) */

struct realmd {
	const struct config *cf;
	struct state	*st;
	struct shm_proc	*me;
	int		 epfd;
	int		 lfd;		/* the workers' socket */
	int		 sigfd;
	bool		 stopping;
	struct chan	*chans;
	struct peer	*peers;
	struct waiter	*waiters;
	struct early	*early;
	struct link_rt	 links[REALMS_MAX + 1];
	uint64_t	 next_q;
};

extern struct realmd rd;

/* realmd.c */
void	realmd_result(struct chan *, uint64_t req, cJSON *);
void	realmd_error(struct chan *, uint64_t req, int code, const char *msg);
struct waiter *waiter_take(enum wait_kind, uint32_t realm, uint64_t key);
void	waiter_add(enum wait_kind, struct chan *, uint64_t req, uint32_t realm,
	    uint64_t key);
void	waiters_fail_link(uint32_t realm);
int	watch_fd(int fd, uint32_t events, void *ptr);
void	chan_flush(struct chan *);

/* dial.c, link.c, send.c, recv.c (peer.h has the rest) */
void	peer_accept(int fd, const char *bytes, size_t len);
void	peer_addrealm(struct chan *, uint64_t req, cJSON *);
void	peer_event(struct peer *, uint32_t events);
void	peer_tick(uint64_t now);
void	peer_send(struct chan *, uint64_t req, cJSON *);
void	peer_request(struct chan *, uint64_t req, uint32_t type, cJSON *);
void	peer_chan_gone(struct chan *);
void	peer_close_all(void);
void	send_reply(struct peer *, uint64_t q, enum rc_code, const char *msg,
	    cJSON *);

/* join.c */
extern char join_mark;		/* epoll data of the password pool's eventfd */
void	join_start(struct peer *, const struct link_frame *);

/* tls.c */
int	tls_init(const struct config *);
SSL	*tls_new(bool dialer);
void	tls_free(SSL *);
bool	tls_ready(SSL *);
int	tls_feed(SSL *, const void *, size_t);
int	tls_drain(SSL *, struct buf *out);
int	tls_step(SSL *, struct buf *in, const char **why);
int	tls_seal(SSL *, struct buf *text);
int	tls_check_peer(SSL *, const char **why);
int	tls_binding(SSL *, char hex[2 * TLS_BINDING_LEN + 1]);
/* names.c */
bool	chan_operator(const struct chan *);
bool	names_addrealm_answered(struct chan *, uint64_t req, const char *id,
	    const char *host, uint16_t port);
bool	names_known_peer(struct peer *);
const char *names_new_link(struct peer *, uint32_t *realm);
void	names_peer_id(uint32_t realm, const char *id);

#endif
