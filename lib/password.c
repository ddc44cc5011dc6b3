/*
 * NAME
 *	password - yescrypt hashes through libcrypt
 * DESCRIPTION
 *	Hashing and checking run outside the state lock, and in a worker
 *	outside its event loop (lib/pwpool.c): they are slow on purpose.  The comparison of the computed hash is constant-time.
 */
#include <crypt.h>
#include <stdlib.h>
#include <string.h>
#include <bsd/string.h>
#include <openssl/crypto.h>

#include "lib/password.h"

/* One scratch area per thread: a worker hashes in several threads. */
static __thread struct crypt_data *thread_cd;

static struct crypt_data *
scratch(void)
{
	if (thread_cd == NULL)
		thread_cd = calloc(1, sizeof(*thread_cd));
	return thread_cd;
}

/* password_thread_done - free this thread's scratch area */
void
password_thread_done(void)
{
	free(thread_cd);
	thread_cd = NULL;
}

/* password_hash - a fresh yescrypt hash of pw at the given cost */
int
password_hash(const char *pw, unsigned cost, char *out, size_t outlen)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = scratch();
	const char *h;

	if (cd == NULL ||
	    crypt_gensalt_rn("$y$", cost, NULL, 0, salt, sizeof(salt)) == NULL)
		return -1;
	h = crypt_rn(pw, salt, cd, sizeof(*cd));
	if (h == NULL || h[0] == '*' || strlcpy(out, h, outlen) >= outlen)
		return -1;
	return 0;
}

/* password_verify - does pw hash to hash? */
bool
password_verify(const char *pw, const char *hash)
{
	struct crypt_data *cd = scratch();
	const char *h;
	size_t n = strlen(hash);

	if (cd == NULL || !password_is_hash(hash))
		return false;
	h = crypt_rn(pw, hash, cd, sizeof(*cd));
	return h != NULL && strlen(h) == n && CRYPTO_memcmp(h, hash, n) == 0;
}

/* password_is_hash - is s a yescrypt hash string (e.g. in a seed file)? */
bool
password_is_hash(const char *s)
{
	return strncmp(s, "$y$", 3) == 0 && strlen(s) > 20;
}
