/*
 * NAME
 *	seed - load the seed_users file into a state that has never been seeded
 * DESCRIPTION
 *	Lines are "username password [name [country]]"; '_' in name stands
 *	for a space; # starts a comment.  A password field that is already a
 *	yescrypt hash ($y$...) is stored as it is, so a seed file need not
 *	hold clear-text passwords.  Users that exist already are left alone,
 *	so a load cut short by a crash simply completes at the next start.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bsd/string.h>

#include "lib/log.h"
#include "lib/password.h"
#include "master/master.h"

struct seed {
	char	*user;
	char	*password;
	char	 display[DISPLAY_LEN + 1];
	char	 country[COUNTRY_LEN + 1];
};

/* seed_parse - one line into s; 0 = blank, 1 = a user, -1 = error in why */
static int
seed_parse(char *line, struct seed *s, char *why, size_t whylen)
{
	char *f[5], *save = NULL, *hash = strchr(line, '#');
	int n = 0;

	if (hash != NULL)
		*hash = '\0';
	for (char *t = strtok_r(line, " \t\r\n", &save); t != NULL && n < 5;
	    t = strtok_r(NULL, " \t\r\n", &save))
		f[n++] = t;
	if (n == 0)
		return 0;
	if (n < 2 || n > 4) {
		snprintf(why, whylen, "expected: username password [name [country]]");
		return -1;
	}
	if (!name_valid(f[0], strlen(f[0]))) {
		snprintf(why, whylen, "bad username '%.40s'", f[0]);
		return -1;
	}
	if (strlen(f[1]) > PASSWORD_MAX ||
	    (n > 2 && (strlen(f[2]) > DISPLAY_LEN || !utf8_valid(f[2], strlen(f[2])))) ||
	    (n > 3 && (strlen(f[3]) > COUNTRY_LEN || !utf8_valid(f[3], strlen(f[3]))))) {
		snprintf(why, whylen, "field too long or not UTF-8");
		return -1;
	}
	s->user = f[0];
	s->password = f[1];
	strlcpy(s->display, n > 2 ? f[2] : f[0], sizeof(s->display));
	for (char *p = s->display; *p; p++)
		if (*p == '_')
			*p = ' ';
	strlcpy(s->country, n > 3 ? f[3] : "", sizeof(s->country));
	for (char *p = s->country; *p; p++)
		if (*p == '_')
			*p = ' ';
	return 1;
}

/* each_seed - call fn for every user of the seed file */
static int
each_seed(const char *path, int (*fn)(struct seed *, void *), void *arg,
    char *err, size_t errlen)
{
	char line[1024], why[256];
	unsigned lineno = 0;
	struct seed s;
	FILE *fp;
	int rc = 0;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		switch (seed_parse(line, &s, why, sizeof(why))) {
		case -1:
			snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
			rc = -1;
			break;
		case 1:
			if (fn != NULL && fn(&s, arg) == -1) {
				snprintf(err, errlen, "%s:%u: %s", path, lineno,
				    strerror(errno));
				rc = -1;
			}
			break;
		}
	}
	fclose(fp);
	return rc;
}

/* seed_check - is the seed file readable and well-formed? (for -n) */
int
seed_check(const struct config *cf, char *err, size_t errlen)
{
	if (cf->seed_users[0] == '\0')
		return 0;
	return each_seed(cf->seed_users, NULL, NULL, err, errlen);
}

struct seed_ctx {
	struct state		*st;
	const struct config	*cf;
	unsigned		 added;
};

static int
add_seed(struct seed *s, void *arg)
{
	struct seed_ctx *ctx = arg;
	struct user_fields f = { s->user, s->display, s->country, NULL };
	char hash[PWHASH_LEN];
	uint32_t idx;

	if (password_is_hash(s->password)) {
		if (strlcpy(hash, s->password, sizeof(hash)) >= sizeof(hash)) {
			errno = ENAMETOOLONG;
			return -1;
		}
	} else if (password_hash(s->password, (unsigned)ctx->cf->password_cost,
	    hash, sizeof(hash)) == -1) {
		errno = EINVAL;
		return -1;
	}
	f.pwhash = hash;
	txn_begin(ctx->st);
	if (user_insert(ctx->st, &f, &idx) == -1) {
		int saved = errno;
		txn_abort(ctx->st);
		if (saved == EEXIST)
			return 0;
		errno = saved;
		return -1;
	}
	txn_commit(ctx->st);
	ctx->added++;
	return 0;
}

/* seed_load - load seed_users unless this state was seeded before */
int
seed_load(struct state *st, const struct config *cf, char *err, size_t errlen)
{
	struct seed_ctx ctx = { st, cf, 0 };

	if (cf->seed_users[0] == '\0' || st->hdr->seeded)
		return 0;
	if (each_seed(cf->seed_users, add_seed, &ctx, err, errlen) == -1)
		return -1;
	txn_begin(st);
	if (txn_log(st, &st->hdr->seeded, sizeof(st->hdr->seeded)) == -1) {
		txn_abort(st);
		snprintf(err, errlen, "seed: %s", strerror(errno));
		return -1;
	}
	st->hdr->seeded = 1;
	txn_commit(st);
	log_notice("loaded %u users from %s", ctx.added, cf->seed_users);
	return 0;
}
