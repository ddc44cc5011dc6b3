/*
 * NAME
 *	guard - per-address connection counts and failed-login throttles
 * DESCRIPTION
 *	A small table shared by every process, mapped (MAP_SHARED, anonymous)
 *	by the master before it forks them; it is not part of the state
 *	file and starts empty at every start.  Client addresses are hashed
 *	with a random key into GUARD_BUCKETS buckets (an IPv6 client by its
 *	/64, since one host may hold a whole /64), so clients cannot aim
 *	their addresses at one bucket; two addresses that share a bucket
 *	share its counts.
 *
 *	Connections: each worker counts its own in its process slot's row,
 *	so a worker that dies takes its counts with it (guard_release() from
 *	the master's reap).  A worker adds its connection first and sums the
 *	rows after, so two workers racing for the last place may both
 *	refuse, never both admit.
 *
 *	Unfinished input (bytes of lines without their line end yet, held
 *	by connections) is counted the same way, per slot and bucket, so
 *	that one address cannot make the workers hold more than
 *	max_input_per_address of it (conn.c).
 *
 *	Registrations and new sessions are counted per bucket in windows of
 *	GUARD_WINDOW seconds; past registrations_per_address or
 *	sessions_per_address in one window, more are refused until the next.
 *	Sessions last a day, so one address cannot fill the session table,
 *	nor the user table, before its neighbours get their share.
 *
 *	Failed logins: per bucket, and per user in the user's record (shm.h,
 *	auth_fails and auth_last), read and written under the state lock.
 *	After AUTH_ADDR_FREE failures from an address, or AUTH_USER_FREE
 *	failures for a user, each further attempt must wait 1 s after the
 *	last failure, then 2 s, 4 s, ... up to AUTH_DELAY_MAX (counted in
 *	whole seconds of the clock, so each wait is up to 1 s longer); an attempt
 *	made too early is refused without checking the password, and does
 *	not count.  A check counts against its user when it begins
 *	(user_auth_count_locked), since checks run in threads and guesses
 *	sent at once would otherwise all start before any failed; against
 *	the address when it fails.  A failure older than AUTH_WINDOW is
 *	forgotten; a successful login clears its user's count (not the
 *	address's).
 *	The user's threshold is the higher, so that one address guessing
 *	one password cannot lock the user out from elsewhere.
 *
 *	Wrong group passwords (joingroup) are counted the same way: against
 *	the address (with its failed logins) and against the group (by
 *	its slot; a guess through a realm link, GUARD_NO_ADDR, only there).
 *	The counts live here rather than in the state file; a group slot
 *	past GUARD_BUCKETS shares a count with another.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <netinet/in.h>
#include <bsd/stdlib.h>

#include "lib/log.h"
#include "shm/guard.h"

#define GUARD_BUCKETS	4096
#define GUARD_WINDOW	3600	/* seconds of a registration/session window */

struct guard {
	uint64_t	 key;				/* address hash key */
	uint16_t	 conns[SHM_PROCS][GUARD_BUCKETS];	/* per slot */
	uint64_t	 input[SHM_PROCS][GUARD_BUCKETS];	/* unfinished bytes */
	struct auth_fails {
		uint32_t fails;				/* in the window */
		uint32_t last;				/* now_sec() of the last */
	}		 auth[GUARD_BUCKETS];		/* under the state lock */
	struct auth_fails group[GUARD_BUCKETS];	/* by group slot, likewise */
	struct window {
		uint32_t count;				/* in this window */
		uint32_t start;				/* now_sec() it began */
	}		 made[GUARD_KINDS][GUARD_BUCKETS];	/* under the lock */
};

static struct guard *guard;

/* guard_open - map the table; in the master, before any worker forks */
int
guard_open(void)
{
	void *p = mmap(NULL, sizeof(*guard), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	guard = p;
	arc4random_buf(&guard->key, sizeof(guard->key));
	return 0;
}

/* guard_release - a dead process's connections are gone (master) */
void
guard_release(int slot)
{
	if (guard != NULL && slot >= 0 && slot < SHM_PROCS) {
		memset(guard->conns[slot], 0, sizeof(guard->conns[slot]));
		memset(guard->input[slot], 0, sizeof(guard->input[slot]));
	}
}

/* guard_bucket - the bucket of a peer address: IPv4 whole, IPv6 by /64 */
uint16_t
guard_bucket(const struct sockaddr_storage *ss)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	const uint8_t *a = NULL;
	size_t n = 0;

	if (ss->ss_family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr;
		n = 4;
	} else if (ss->ss_family == AF_INET6) {
		a = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
		n = 8;
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			a += 12;
			n = 4;
		}
	}
	if (guard == NULL || a == NULL)
		return 0;
	return (uint16_t)(hash_str(guard->key, (const char *)a, n) %
	    GUARD_BUCKETS);
}

/*
 * guard_conn_add - count a connection of worker slot in bucket b; false
 * (and nothing counted) if that would put the address over limit.
 */
bool
guard_conn_add(int slot, uint16_t b, uint64_t limit)
{
	uint64_t total = 0;

	if (guard == NULL || slot < 0 || slot >= SHM_PROCS)
		return true;
	if (__atomic_load_n(&guard->conns[slot][b], __ATOMIC_RELAXED) ==
	    UINT16_MAX)
		return false;
	__atomic_fetch_add(&guard->conns[slot][b], 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < SHM_PROCS; i++)
		total += __atomic_load_n(&guard->conns[i][b], __ATOMIC_SEQ_CST);
	if (total <= limit)
		return true;
	__atomic_fetch_sub(&guard->conns[slot][b], 1, __ATOMIC_SEQ_CST);
	return false;
}

/* guard_conn_del - a connection counted by guard_conn_add() is gone */
void
guard_conn_del(int slot, uint16_t b)
{
	if (guard != NULL && slot >= 0 && slot < SHM_PROCS &&
	    __atomic_load_n(&guard->conns[slot][b], __ATOMIC_RELAXED) > 0)
		__atomic_fetch_sub(&guard->conns[slot][b], 1, __ATOMIC_SEQ_CST);
}

/*
 * guard_input_add - n more bytes of unfinished input in bucket b, of
 * worker slot; false (and nothing counted) if that puts the address
 * over limit.  Racing workers may both refuse, never both admit.
 */
bool
guard_input_add(int slot, uint16_t b, uint64_t n, uint64_t limit)
{
	uint64_t total = 0;

	if (guard == NULL || slot < 0 || slot >= SHM_PROCS)
		return true;
	__atomic_fetch_add(&guard->input[slot][b], n, __ATOMIC_SEQ_CST);
	for (int i = 0; i < SHM_PROCS; i++)
		total += __atomic_load_n(&guard->input[i][b], __ATOMIC_SEQ_CST);
	if (total <= limit)
		return true;
	__atomic_fetch_sub(&guard->input[slot][b], n, __ATOMIC_SEQ_CST);
	return false;
}

/* guard_input_del - n bytes counted by guard_input_add() are gone */
void
guard_input_del(int slot, uint16_t b, uint64_t n)
{
	if (guard == NULL || slot < 0 || slot >= SHM_PROCS)
		return;
	if (__atomic_load_n(&guard->input[slot][b], __ATOMIC_RELAXED) < n)
		n = __atomic_load_n(&guard->input[slot][b], __ATOMIC_RELAXED);
	__atomic_fetch_sub(&guard->input[slot][b], n, __ATOMIC_SEQ_CST);
}

/* wait_left - seconds an attempt must still wait after fails failures */
static uint32_t
wait_left(uint32_t fails, uint32_t last, uint32_t free, uint32_t now)
{
	uint32_t delay;

	if (fails < free || now - last >= AUTH_WINDOW)
		return 0;
	delay = fails - free >= 6 ? AUTH_DELAY_MAX : 1u << (fails - free);
	if (delay > AUTH_DELAY_MAX)
		delay = AUTH_DELAY_MAX;
	/* whole seconds: the wait runs to the end of second last + delay */
	return now <= last + delay ? last + delay + 1 - now : 0;
}

/* count_failure - one more failure now, the old ones forgotten */
static void
count_failure(uint32_t *fails, uint32_t *last, uint32_t now)
{
	if (now - *last >= AUTH_WINDOW)
		*fails = 0;
	if (*fails < UINT32_MAX)
		(*fails)++;
	*last = now;
}

/* guard_auth_wait_locked - seconds before bucket b may try again, 0: now */
uint32_t
guard_auth_wait_locked(uint16_t b, uint32_t now)
{
	if (guard == NULL)
		return 0;
	return wait_left(guard->auth[b].fails, guard->auth[b].last,
	    AUTH_ADDR_FREE, now);
}

/* user_auth_wait_locked - seconds before user u may try again, 0: now */
uint32_t
user_auth_wait_locked(const struct shm_user *u, uint32_t now)
{
	return wait_left(u->auth_fails, u->auth_last, AUTH_USER_FREE, now);
}

/* guard_auth_failed_locked - a failed login from bucket b, of user u (or 0) */
void
guard_auth_failed_locked(uint16_t b, struct shm_user *u, uint32_t now)
{
	if (guard != NULL)
		count_failure(&guard->auth[b].fails, &guard->auth[b].last, now);
	if (u != NULL)
		count_failure(&u->auth_fails, &u->auth_last, now);
}

/*
 * user_auth_count_locked - a check of u's password begins: it counts as a
 * failure now (a success resets the count), so that checks that run at
 * once cannot all pass the user's limit before any of them is counted
 */
void
user_auth_count_locked(struct shm_user *u, uint32_t now)
{
	count_failure(&u->auth_fails, &u->auth_last, now);
}

/* guard_group_wait_locked - seconds before b may guess group g's password */
uint32_t
guard_group_wait_locked(uint16_t b, uint32_t g, uint32_t now)
{
	uint32_t a, w;

	if (guard == NULL)
		return 0;
	a = b == GUARD_NO_ADDR ? 0 : wait_left(guard->auth[b].fails,
	    guard->auth[b].last, AUTH_ADDR_FREE, now);
	w = wait_left(guard->group[g % GUARD_BUCKETS].fails,
	    guard->group[g % GUARD_BUCKETS].last, AUTH_USER_FREE, now);
	return a > w ? a : w;
}

/* guard_group_failed_locked - a wrong password for group g from bucket b */
void
guard_group_failed_locked(uint16_t b, uint32_t g, uint32_t now)
{
	if (guard == NULL)
		return;
	if (b != GUARD_NO_ADDR)
		count_failure(&guard->auth[b].fails, &guard->auth[b].last, now);
	count_failure(&guard->group[g % GUARD_BUCKETS].fails,
	    &guard->group[g % GUARD_BUCKETS].last, now);
}

/*
 * guard_take_locked - one more registration or session (kind) from
 * bucket b in this window; false (nothing counted) once limit is reached
 */
bool
guard_take_locked(enum guard_kind kind, uint16_t b, uint64_t limit,
    uint32_t now)
{
	struct window *wd;

	if (guard == NULL)
		return true;
	wd = &guard->made[kind][b];
	if (now - wd->start >= GUARD_WINDOW) {
		wd->start = now;
		wd->count = 0;
	}
	if (wd->count >= limit)
		return false;
	wd->count++;
	return true;
}
