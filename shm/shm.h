/*
 * NAME
 *	shm.h - the whole layout of the realmchat state segment
 * DESCRIPTION
 *	The state is one file in state_dir, mapped MAP_SHARED by the master
 *	and inherited by every worker.  This header is its complete layout:
 *	a fixed header, then regions located through the region table.
 *
 *	Slot tables (users, sessions, messages) use index 0 as "none", so a
 *	zero-filled region is an empty table, and chain through 32-bit
 *	indices.  Message text lives in the heap region.
 *
 *	Crash consistency: every structural write is made inside a
 *	transaction (txn.c).  Before a byte that the old state can reach is
 *	changed, its old value is appended to the undo region; the commit is
 *	the single store undo_used = 0.  Whoever finds undo_used != 0 with
 *	the writer dead (the master after reaping it, or at start-up) copies
 *	the old bytes back, newest first.  kill -9 at any instant therefore
 *	leaves either the old or the new state, never a mix.
 *
 *	A change to anything in this file bumps SHM_VERSION; an older or
 *	newer file is refused with a clear message, never misread.
 */
#ifndef RC_SHM_H
#define RC_SHM_H

#include <semaphore.h>
#include <stdint.h>

#include "lib/util.h"

#define SHM_MAGIC	"RLMCHAT\0"
#define SHM_VERSION	5
#define SHM_FILE	"realmchat.state"

#define SHM_REGIONS	16	/* room for regions of later versions */
#define SHM_PROCS	64	/* master, realmd, workers */
#define HEAP_CLASSES	28	/* block sizes 16 << 0 .. 16 << 27 */
#define HEAP_MIN_SHIFT	4

#define STAT_COMMANDS	64	/* counters by command table index */
#define STAT_ERRORS	32	/* counters by error code (lib/reply.h) */

#define DISPLAY_LEN	64	/* display name, bytes of UTF-8 */
#define COUNTRY_LEN	32
#define PWHASH_LEN	128	/* yescrypt hash string */
#define FILE_NAME_LEN	255	/* stored (sanitised) file name */
#define FILE_ID_LEN	16	/* hex digits of a file id */
#define REALMS_MAX	64	/* links to other realms */
#define HOST_LEN	255	/* a peer's host name or address */
#define REMOTE_NAME_LEN	(2 * NAME_LEN + 1)	/* "user@realm" of a remote user */
#define REALM_ALIASES	6	/* names a link is given here beyond its own */
#define REALM_NAMES_MAX	(3 + REALM_ALIASES)	/* name, peer, peer_id, aliases */
#define REJECTS_KEPT	64	/* refusals a link remembers for resends */
#define LINK_WINDOW	REJECTS_KEPT	/* messages in flight on a link */
#define WATCH_RING	128	/* hints a worker's watchers have not seen */

enum shm_region_id {
	RG_UNDO,		/* undo log of the transaction in flight */
	RG_PROCS,		/* struct shm_proc[SHM_PROCS] */
	RG_USERS,		/* struct shm_user[] */
	RG_USER_HASH,		/* uint32_t buckets, by name */
	RG_SESSIONS,		/* struct shm_session[] */
	RG_SESSION_HASH,	/* uint32_t buckets, by token */
	RG_MSGS,		/* struct shm_msg[] */
	RG_HEAP,		/* message text blocks */
	RG_GROUPS,		/* struct shm_group[] (version 2) */
	RG_GROUP_HASH,		/* uint32_t buckets, by name */
	RG_MEMBERS,		/* struct shm_member[] */
	RG_FILES,		/* struct shm_file[]: bodies are in the spool */
	RG_REALMS,		/* struct shm_realm[] (version 3) */
	RG_COUNT
};

struct shm_region {
	uint64_t	off;		/* from the start of the file */
	uint64_t	size;		/* bytes */
	uint32_t	count;		/* elements (slots or buckets) */
	uint32_t	elem;		/* bytes per element */
};

/*
 * The state lock.  owner holds the pid of the process inside, set with a
 * compare-and-swap, so the holder is known at every instant; a process
 * that finds it taken sleeps on the POSIX semaphore.  If a holder dies,
 * the master rolls its transaction back and clears owner (lock.c).
 */
struct shm_lock {
	uint32_t	owner;		/* pid inside, 0 when free */
	uint32_t	waiters;	/* processes asleep on sem */
	sem_t		sem;		/* wakes one waiter per release */
	uint64_t	acquired;	/* times taken */
	uint64_t	contended;	/* times a taker had to sleep */
	uint64_t	recovered;	/* times freed after a holder died */
};

enum proc_role { PROC_NONE, PROC_MASTER, PROC_WORKER, PROC_REALMD };

/* One process of the tree.  A lease names (slot, gen); bumping gen voids them. */
struct shm_proc {
	int32_t		pid;		/* 0: slot unused */
	uint32_t	gen;		/* bumped when the process ends */
	uint32_t	role;		/* enum proc_role */
	uint32_t	pad;
	uint64_t	started;	/* wall-clock seconds */
	uint64_t	conns;		/* connections open now */
	uint64_t	accepted;	/* connections accepted */
	uint64_t	requests;	/* requests answered */
	uint64_t	bytes_in;
	uint64_t	bytes_out;
	uint64_t	stored;		/* messages stored */
	uint64_t	delivered;	/* messages removed by a written inbox reply */
	uint64_t	commands[STAT_COMMANDS];
	uint64_t	errors[STAT_ERRORS];
	/*
	 * Push (watch.c): users with new messages for this worker's
	 * watching connections.  Senders append under the lock; the worker
	 * reads under the lock.  Free-running counts: head - tail above
	 * WATCH_RING means hints were lost and the worker looks at every
	 * user it watches.  Hints only, never undo-logged: a stale or lost
	 * one costs a look, never a message.
	 */
	uint32_t	watch_head;	/* hints written, ever */
	uint32_t	watch_tail;	/* hints read, ever */
	uint32_t	watch_ring[WATCH_RING];	/* user indices */
};

enum slot_state { SLOT_FREE = 0, SLOT_USED = 1 };

/*
 * A user.  A remote user (realm != 0) is one of a linked realm that
 * sent us something or joined one of our groups: named "user@realm",
 * without a password, it never logs in here and has no inbox.
 */
struct shm_user {
	uint32_t	state;		/* enum slot_state */
	uint32_t	next;		/* hash chain, or free list */
	char		name[REMOTE_NAME_LEN + 1];
	char		display[DISPLAY_LEN + 1];
	char		country[COUNTRY_LEN + 1];
	char		pwhash[PWHASH_LEN];
	uint8_t		pad[4];
	uint64_t	created;	/* wall-clock seconds */
	uint32_t	inbox_head;	/* oldest waiting message */
	uint32_t	inbox_tail;	/* newest waiting message */
	uint32_t	inbox_count;
	uint32_t	sessions;	/* first of this user's sessions */
	uint32_t	nsessions;
	uint32_t	realm;		/* a remote user's link; 0 for our own */
	uint32_t	realm_count;	/* of inbox_count: arrived over a link */
	uint32_t	auth_fails;	/* failed logins in the window (guard.c) */
	uint32_t	auth_last;	/* now_sec() of the last; not logged */
	uint32_t	reserved;
	uint64_t	watch;		/* bit per process slot with a connection
					   watching this user; not logged */
};

/* A group lives in its home realm; its history is a chain of messages. */
struct shm_group {
	uint32_t	state;		/* enum slot_state */
	uint32_t	next;		/* hash chain, or free list */
	char		name[NAME_LEN + 1];
	char		pwhash[PWHASH_LEN];	/* "" for a group without password */
	uint8_t		pad[3];
	uint64_t	created;
	uint32_t	creator;	/* user index */
	uint32_t	members;	/* first membership */
	uint32_t	nmembers;
	uint32_t	hist_head;	/* oldest message of the history */
	uint32_t	hist_tail;
	uint32_t	hist_count;
	uint32_t	reserved[6];
};

/* One user in one group; used slots chain the group's members through next. */
struct shm_member {
	uint32_t	state;		/* enum slot_state */
	uint32_t	next;		/* next member of the group, or free list */
	uint32_t	group;
	uint32_t	user;
	uint64_t	joined;
};

/*
 * A file body stored once in state_dir/spool/<id as 16 hex digits>, however
 * many messages point at it; it goes when the last of them does.
 */
struct shm_file {
	uint32_t	state;		/* enum slot_state */
	uint32_t	next;		/* free list */
	uint64_t	id;		/* random; names the spool file */
	uint64_t	size;		/* bytes */
	uint64_t	created;
	uint32_t	refs;		/* messages (queued or in a history) */
	uint32_t	group;		/* group it was sent to, 0 if none */
	char		name[FILE_NAME_LEN + 1];
};

struct shm_session {
	uint32_t	state;		/* enum slot_state */
	uint32_t	next;		/* hash chain, or free list */
	uint32_t	user;		/* owner */
	uint32_t	user_next;	/* next session of the same user */
	uint8_t		token[TOKEN_LEN];
	uint64_t	created;	/* wall-clock seconds */
	uint64_t	last_seen;	/* written without undo: not structural */
	uint32_t	cur_group;	/* group last added, joined or sent to (v5);
					   a hint, written without undo */
	uint32_t	sflags;		/* enum session_flags, a hint likewise */
};

enum session_flags {
	SF_GROUP_WORDS = 1 << 0,	/* has run "group <word> ..." commands */
};

enum msg_kind { MSG_TEXT = 1, MSG_FILE = 2 };

enum msg_flags {
	MF_GROUP_SEND = 1 << 0,	/* outbox: to a group target at the peer */
	MF_BOUNCE = 1 << 1,	/* a notice that the peer refused message ref */
	MF_WAIT = 1 << 2,	/* outbox: a worker waits for its verdict */
	MF_KEPT = 1 << 3,	/* a file an inbox reply showed, kept for fetching */
	MF_VOUCHED = 1 << 4,	/* outbox: the sender is in a group of the
				   target's name here (one group on both) */
};

struct shm_msg {
	uint32_t	state;		/* enum slot_state */
	uint32_t	next;		/* recipient's queue, or free list */
	uint64_t	id;		/* unique in this state, increasing */
	uint32_t	from;		/* sender (user index) */
	uint32_t	to;		/* recipient (user index); 0 in a history */
	uint64_t	time;		/* wall-clock seconds */
	uint64_t	text;		/* heap offset; 0 when len is 0 */
	uint32_t	len;		/* text bytes */
	uint32_t	kind;		/* enum msg_kind */
	/* lease: the message is in an inbox reply not yet fully written */
	uint32_t	lease_proc;	/* proc slot + 1, 0 when free */
	uint32_t	lease_gen;	/* that slot's gen when leased */
	uint32_t	lease_serial;	/* which reply of that process */
	uint32_t	group;		/* group of a group message, else 0 */
	uint32_t	file;		/* MSG_FILE: its file */
	/*
	 * realm: in an inbox, the link it arrived over (0: from here);
	 * in a link's outbox, that link.  The text of an outbox message is
	 * "<target>\0<text>"; a bounce's is "<realm>\0<code>\0<target>\0<why>".
	 */
	uint32_t	realm;
	uint32_t	flags;		/* enum msg_flags */
	uint32_t	shown;		/* MF_KEPT: now_sec() of the inbox reply */
	uint32_t	seq;		/* in a link's outbox: its number on the link */
	uint32_t	pad;
	uint64_t	ref;		/* MF_BOUNCE: id of the refused message */
};

enum realm_flags {
	RF_DIALER = 1 << 0,	/* we dial it (we ran addrealm) */
	RF_USER = 1 << 1,	/* a user's addrealm made it (not the operator) */
};

/* What a link is doing, as realmd last wrote it (not structural). */
enum link_state {
	LINK_DOWN, LINK_CONNECTING, LINK_AUTH, LINK_UP, LINK_BACKOFF
};

/*
 * A link to another realm.  Its outbox is a FIFO of messages through
 * shm_msg.next, in increasing id order; they leave it when the peer's
 * verdict arrives.  Each message queued gets the link's next sequence
 * number (out_seq, never 0), so a receiver knows which numbers may come
 * next.  recv_hwm is the highest sequence number handled from the
 * peer's state instance peer_inst: a frame at or below it is a resend,
 * one more than LINK_WINDOW above it is refused (RFC 1982 arithmetic).
 */
struct shm_realm {
	uint32_t	state;		/* enum slot_state */
	uint32_t	next;		/* free list */
	char		name[NAME_LEN + 1];	/* what users call it */
	char		peer[NAME_LEN + 1];	/* its realm_name */
	/* more names it answers to; "" when unused (version 4) */
	char		peer_id[NAME_LEN + 1];	/* the peer's own id for it */
	char		alias[REALM_ALIASES][NAME_LEN + 1];	/* given here */
	char		host[HOST_LEN + 1];
	uint16_t	port;
	uint16_t	pad;
	uint32_t	flags;		/* enum realm_flags */
	uint64_t	created;
	uint64_t	peer_inst;
	uint64_t	recv_hwm;
	uint32_t	out_head;
	uint32_t	out_tail;
	uint32_t	out_count;
	uint32_t	reject_next;	/* ring position */
	uint64_t	reject_id[REJECTS_KEPT];	/* refused message ids */
	uint8_t		reject_code[REJECTS_KEPT];	/* enum rc_code */
	uint32_t	out_seq;	/* sequence number of the newest queued */
	uint32_t	users;		/* remote users this link made here */
	uint32_t	reserved[6];
	/* runtime, written by realmd without undo */
	uint32_t	link;		/* enum link_state */
	uint32_t	pad2;
	uint64_t	since;		/* wall-clock seconds in that state */
	uint64_t	sent;		/* messages answered by the peer */
	uint64_t	received;	/* messages stored from the peer */
};

struct shm_table {
	uint32_t	count;		/* slots in use */
	uint32_t	hwm;		/* highest index ever used */
	uint32_t	free;		/* first free slot below hwm */
	uint32_t	mask;		/* hash buckets - 1 (hashed tables) */
};

struct shm_header {
	/* layout: written once when the file is created */
	char		magic[8];
	uint32_t	version;
	uint32_t	header_size;	/* sizeof(struct shm_header) */
	uint64_t	total_size;	/* the file's size */
	uint64_t	hash_key;	/* random, keys hash_str() */
	uint64_t	created;
	uint64_t	layout_sum;	/* checksum of the fields above + regions */
	struct shm_region region[SHM_REGIONS];

	/* runtime */
	struct shm_lock	lock;
	uint32_t	undo_used;	/* bytes of undo log; 0 = none in flight */
	uint32_t	epoch;		/* master starts */

	/* tables: changed only inside a transaction */
	uint32_t	seeded;		/* seed_users loaded */
	uint32_t	pad;
	struct shm_table users;
	struct shm_table sessions;
	struct shm_table msgs;
	struct shm_table groups;
	struct shm_table members;
	struct shm_table files;
	struct shm_table realms;
	uint64_t	instance;	/* random: names this state to peer realms */
	uint64_t	spool_bytes;	/* bytes of live files */
	uint64_t	next_msg_id;
	uint64_t	heap_top;	/* first never-used heap byte */
	uint64_t	heap_used;	/* bytes in live blocks */
	uint64_t	heap_free[HEAP_CLASSES];
	/*
	 * Files that inbox replies showed, still fetchable by their
	 * recipient: a FIFO of MF_KEPT messages through shm_msg.next, in the
	 * order they were shown, until shown + file_keep has passed (version 4).
	 */
	uint32_t	kept_head;
	uint32_t	kept_tail;
	uint32_t	kept_count;
	uint32_t	pad2;

	uint32_t	remote_users;	/* users of linked realms in the user table */
	uint32_t	remote_cap;	/* room kept for them (realm_users), set at creation */
	uint64_t	reserved[61];	/* room to grow within a version */
};

/* An undo record: old bytes of [off, off + len), padded to 8 bytes. */
struct undo_rec {
	uint64_t	off;
	uint32_t	len;
	uint32_t	pad;
};

#endif
