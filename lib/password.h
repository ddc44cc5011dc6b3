/*
 * NAME
 *	password - yescrypt hashes through libcrypt
 */
#ifndef RC_PASSWORD_H
#define RC_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#define PASSWORD_MAX	256	/* bytes of a password */
#define PASSWORD_HASH_MAX 128	/* bytes of a hash string, with its NUL */

int	password_hash(const char *pw, unsigned cost, char *out, size_t outlen);
bool	password_verify(const char *pw, const char *hash);
bool	password_is_hash(const char *s);
void	password_thread_done(void);

#endif
