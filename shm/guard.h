/*
 * NAME
 *	guard.h - per-address connection counts and failed-login throttles
 * DESCRIPTION
 *	A table shared by every process, mapped by the master before it
 *	forks them and kept outside the state file (guard.c says why and
 *	how).  Workers count connections, unfinished input, registrations,
 *	sessions and failed logins in it; realmd counts wrong group
 *	passwords of remote joins; the master clears a reaped slot's row.
 */
#ifndef RC_GUARD_H
#define RC_GUARD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "shm/state.h"

#define AUTH_ADDR_FREE	10	/* failures from an address before delays */
#define AUTH_USER_FREE	20	/* failures for a user before delays */
#define AUTH_DELAY_MAX	60	/* seconds, the longest delay */
#define AUTH_WINDOW	900	/* seconds a failure is remembered */
#define GUARD_NO_ADDR	UINT16_MAX	/* a bucket for no address (a peer) */

enum guard_kind { GUARD_REGISTER, GUARD_SESSION, GUARD_KINDS };

int	guard_open(void);
bool	guard_take_locked(enum guard_kind, uint16_t bucket, uint64_t limit,
	    uint32_t now);
void	guard_release(int slot);
uint16_t guard_bucket(const struct sockaddr_storage *);
bool	guard_conn_add(int slot, uint16_t bucket, uint64_t limit);
void	guard_conn_del(int slot, uint16_t bucket);
bool	guard_input_add(int slot, uint16_t bucket, uint64_t n, uint64_t limit);
void	guard_input_del(int slot, uint16_t bucket, uint64_t n);
uint32_t guard_auth_wait_locked(uint16_t bucket, uint32_t now);
uint32_t user_auth_wait_locked(const struct shm_user *, uint32_t now);
void	guard_auth_failed_locked(uint16_t bucket, struct shm_user *,
	    uint32_t now);
void	user_auth_count_locked(struct shm_user *, uint32_t now);
uint32_t guard_group_wait_locked(uint16_t bucket, uint32_t group,
	    uint32_t now);
void	guard_group_failed_locked(uint16_t bucket, uint32_t group,
	    uint32_t now);

#endif
