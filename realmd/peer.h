/*
 * NAME
 *	peer.h - what realmd's link files share
 * DESCRIPTION
 *	link.c moves a link from phase to phase: every change goes through
 *	link_fsm(peer, event), whose table is the whole state machine; a
 *	link that ends is left in PH_CLOSED and freed by the next tick, so
 *	a struct peer stays valid for the whole of any call that has it.
 *	dial.c starts links (a dial, a name lookup, a connection a worker
 *	handed over); handshake.c runs the realm handshake inside TLS;
 *	send.c pumps the outboxes and takes the peer's verdicts (the one
 *	place a refusal becomes a bounce notice); recv.c stores the peer's
 *	mail and serves its requests.  The actions link_fsm runs return the
 *	next event (LE_NONE: done).
 */
#ifndef RC_PEER_H
#define RC_PEER_H

#include "realmd/realmd.h"

/* What happens to a link; the table in link.c says what each does. */
enum link_event {
	LE_NONE,
	LE_DIAL,		/* start dialing p->host:p->port */
	LE_HANDOFF,		/* a worker handed a dialer's connection over */
	LE_RESOLVED,		/* the addresses are known (p->addrs) */
	LE_CONNECTED,		/* the TCP connect went through */
	LE_CONNECT_FAILED,	/* it did not (p->why) */
	LE_HELLO,		/* the dialer's first line (p->line) */
	LE_TLS_UP,		/* TLS is up and the peer's certificate fits */
	LE_CHALLENGE,		/* frames (p->frame) ... */
	LE_PROOF,
	LE_WELCOME,
	LE_PEER_ERROR,		/* the peer says why it hangs up */
	LE_FRAME,		/* any other frame */
	LE_QUIET,		/* nothing came for KEEPALIVE_MS */
	LE_SILENT,		/* nothing came for SILENT_MS */
	LE_DEADLINE,		/* the handshake's time ran out */
	LE_REFUSE,		/* tell the peer p->why, then hang up */
	LE_WRITTEN,		/* the last frame went out */
	LE_CLOSE,		/* hang up now (p->why) */
};

/* A rate limit on log lines a peer can cause at will. */
struct ratelog {
	uint64_t	 start;		/* now_msec() the period began */
	unsigned	 n;		/* lines logged in it */
	unsigned	 dropped;	/* lines left out */
};

extern struct ratelog refusal_log;	/* handshakes refused */

/* link.c */
void	link_fsm(struct peer *, enum link_event);
enum link_event link_refusal(struct peer *, const char *why);
enum link_event link_closing(struct peer *, const char *why);
void	link_fail(struct peer *, const char *why);
void	link_down(uint32_t realm, const char *why);
void	log_limited(struct ratelog *, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void	set_link(uint32_t realm, enum link_state);
struct peer *peer_new(int fd, bool dialer);
int	peer_watch(struct peer *);
void	peer_flush(struct peer *);
size_t	unsent(const struct peer *);
void	send_frame(struct peer *, cJSON *);

/* dial.c */
enum link_event dial_lookup(struct peer *);
enum link_event dial_connect(struct peer *);
enum link_event dial_retry(struct peer *);
void	lookup_drop(struct lookup *);
void	lookups_tick(void);
void	links_tick(uint64_t now);

/* handshake.c */
enum link_event hello_send(struct peer *);
enum link_event hello_take(struct peer *);
enum link_event challenge_send(struct peer *);
enum link_event challenge_take(struct peer *);
enum link_event proof_take(struct peer *);
enum link_event welcome_take(struct peer *);
enum link_event tls_take(struct peer *, const char *data, size_t n);

/* send.c */
void	pump(uint32_t realm);
void	verdict_take(struct peer *, const struct link_frame *);
void	early_tick(uint64_t now);
void	answer_fields(cJSON *to, const cJSON *from);

/* recv.c */
void	msg_take(struct peer *, const struct link_frame *);
void	history_serve(struct peer *, const struct link_frame *);
void	reply_take(struct peer *, const struct link_frame *);

#endif
