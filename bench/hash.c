/*
 * NAME
 *	hash - print one yescrypt hash, for the benchmark's seed files
 * SYNOPSIS
 *	hash password [cost]
 * DESCRIPTION
 *	A seed file may give a user's password as a yescrypt hash ($y$...),
 *	which the daemon stores as it is.  The benchmark seeds up to a
 *	million users; hashing each password at start would take minutes,
 *	so bench/run computes one hash with this helper and writes it for
 *	every user.  The cost defaults to 1, the cheapest libcrypt allows.
 */
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(int argc, char *argv[])
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	unsigned long cost = 1;
	const char *h;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: hash password [cost]\n");
		return 2;
	}
	if (argc == 3)
		cost = strtoul(argv[2], NULL, 10);
	if ((cd = calloc(1, sizeof(*cd))) == NULL ||
	    crypt_gensalt_rn("$y$", cost, NULL, 0, salt, sizeof(salt)) == NULL ||
	    (h = crypt_rn(argv[1], salt, cd, sizeof(*cd))) == NULL ||
	    h[0] == '*') {
		fprintf(stderr, "hash: libcrypt refused cost %lu\n", cost);
		return 1;
	}
	printf("%s\n", h);
	free(cd);
	return 0;
}
