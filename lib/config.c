/*
 * NAME
 *	config - realmchat.conf: key = value lines
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>

#include "lib/config.h"
#include "lib/log.h"

enum key_type { K_STRING, K_NAME, K_LISTEN, K_UINT, K_SIZE, K_DURATION, K_LEVEL,
    K_BOOL, K_CHOICE };

/* K_CHOICE values, in the order of their enum in config.h */
static const char *const register_orders[] = { "auto", "username-first",
    "name-first", NULL };
static const char *const anon_choices[] = { "no", "loopback", "yes", NULL };

static const struct config_key {
	const char	*name;
	enum key_type	 type;
	size_t		 field;		/* offset in struct config */
	size_t		 size;		/* K_STRING: buffer size */
	uint64_t	 min, max;	/* numeric bounds */
	const char *const *choices;	/* K_CHOICE: the words, NULL-ended */
} keys[] = {
#define S(k, f)		{ k, K_STRING, offsetof(struct config, f), \
			    sizeof(((struct config *)0)->f), 0, 0, NULL }
#define N(k, t, f, lo, hi) { k, t, offsetof(struct config, f), 0, lo, hi, NULL }
	{ "listen", K_LISTEN, 0, 0, 0, 0, NULL },
	N("workers", K_UINT, workers, 0, 256),
	S("state_dir", state_dir),
	{ "realm_name", K_NAME, offsetof(struct config, realm_name), 0, 0, 0,
	    NULL },
	S("realm_secret", realm_secret),
	S("realm_tls_cert", realm_tls_cert),
	S("realm_tls_key", realm_tls_key),
	S("realm_tls_ca", realm_tls_ca),
	S("realm_tls_pin", realm_tls_pin),
	S("control", control),
	S("control_ro", control_ro),
	S("seed_users", seed_users),
	S("pidfile", pidfile),
	S("user", user),
	{ "log_level", K_LEVEL, 0, 0, 0, 0, NULL },
	N("max_line", K_SIZE, max_line, 64, 1ULL << 30),
	N("max_message", K_SIZE, max_message, 1, 1 << 24),
	N("inbox_quota", K_UINT, inbox_quota, 1, 1 << 24),
	N("inbox_batch", K_UINT, inbox_batch, 1, 100000),
	N("session_timeout", K_DURATION, session_timeout, 1, 1ULL << 32),
	N("sessions_per_user", K_UINT, sessions_per_user, 1, 1 << 16),
	N("idle_timeout", K_DURATION, idle_timeout, 1, 1ULL << 32),
	N("max_connections", K_UINT, max_connections, 1, 1 << 20),
	N("max_connections_per_address", K_UINT, max_connections_per_address,
	    1, 1 << 20),
	N("send_timeout", K_DURATION, send_timeout, 1, 1ULL << 32),
	N("registrations_per_address", K_UINT, registrations_per_address, 1,
	    1 << 30),
	N("sessions_per_address", K_UINT, sessions_per_address, 1, 1 << 30),
	N("max_input_per_worker", K_SIZE, max_input_per_worker, 1 << 16,
	    1ULL << 40),
	N("max_input_per_address", K_SIZE, max_input_per_address, 1 << 16,
	    1ULL << 40),
	N("password_cost", K_UINT, password_cost, 1, 11),
	N("group_history", K_UINT, group_history, 1, 100000),
	N("group_members", K_UINT, group_members, 2, 100000),
	N("max_file", K_SIZE, max_file, 1, 1ULL << 30),
	N("spool_max", K_SIZE, spool_max, 1 << 20, 1ULL << 50),
	N("file_keep", K_DURATION, file_keep, 0, 1ULL << 31),
	N("spool_reserve", K_SIZE, spool_reserve, 0, 1ULL << 50),
	N("max_users", K_UINT, max_users, 16, 1 << 26),
	N("max_sessions", K_UINT, max_sessions, 16, 1 << 26),
	N("max_messages", K_UINT, max_messages, 16, 1 << 27),
	N("message_store", K_SIZE, message_store, 1 << 20, 1ULL << 40),
	N("max_groups", K_UINT, max_groups, 16, 1 << 24),
	N("max_memberships", K_UINT, max_memberships, 16, 1 << 26),
	N("max_files", K_UINT, max_files, 16, 1 << 24),
	N("realm_users", K_UINT, realm_users, 16, 1 << 24),
	N("realm_wait", K_DURATION, realm_wait, 1, 3600),
	N("realm_backoff_max", K_DURATION, realm_backoff_max, 1, 86400),
	N("realm_queue", K_UINT, realm_queue, 1, 1 << 24),
	N("realm_user_dials", K_UINT, realm_user_dials, 0, 10000),
	N("realm_user_links", K_UINT, realm_user_links, 0, 64),
	{ "debug_hooks", K_BOOL, offsetof(struct config, debug_hooks), 0, 0, 0,
	    NULL },
	{ "register_order", K_CHOICE, offsetof(struct config, register_order),
	    0, 0, 0, register_orders },
	{ "addrealm_without_session", K_CHOICE,
	    offsetof(struct config, addrealm_anon), 0, 0, 0, anon_choices },
#undef S
#undef N
};

/* config_defaults - the values in force when a key is absent */
void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	strlcpy(c->listen_host, "0.0.0.0", sizeof(c->listen_host));
	c->listen_port = 8889;
	strlcpy(c->state_dir, "/var/lib/realmchat", sizeof(c->state_dir));
	strlcpy(c->realm_name, "realm", sizeof(c->realm_name));
	strlcpy(c->user, "realmchat", sizeof(c->user));
	c->log_level = LOG_INFO;
	c->max_line = 24 << 20;	/* a 16 MiB file in base64, and more */
	c->max_message = 64 << 10;
	c->inbox_quota = 10000;
	c->inbox_batch = 1000;
	c->session_timeout = 86400;
	c->sessions_per_user = 64;
	c->idle_timeout = 600;
	c->max_connections = 16384;
	c->max_connections_per_address = 256;
	c->send_timeout = 60;
	c->registrations_per_address = 100;
	c->sessions_per_address = 1000;
	c->max_input_per_worker = 256 << 20;
	c->max_input_per_address = 64 << 20;
	c->password_cost = 5;
	c->group_history = 100;
	c->group_members = 1000;
	c->max_file = 16 << 20;
	c->spool_max = 1ULL << 30;
	c->file_keep = 7 * 86400;
	c->spool_reserve = 256 << 20;
	c->max_users = 65536;
	c->max_sessions = 65536;
	c->max_messages = 262144;
	c->message_store = 64 << 20;
	c->max_groups = 4096;
	c->max_memberships = 65536;
	c->max_files = 65536;
	c->realm_users = 4096;
	c->realm_wait = 2;
	c->realm_backoff_max = 30;
	c->realm_queue = 100000;
	c->register_order = REG_AUTO;
	c->addrealm_anon = ANON_LOOPBACK;
	c->realm_user_dials = 20;
	c->realm_user_links = 16;
}

/* set_listen - HOST:PORT, or [v6]:PORT */
static int
set_listen(struct config *c, const char *v, char *err, size_t errlen)
{
	const char *colon = strrchr(v, ':');
	uint64_t port;
	size_t hl;
	const char *host = v;

	if (colon == NULL || parse_uint(colon + 1, 65535, &port) == -1) {
		snprintf(err, errlen, "listen must be HOST:PORT");
		return -1;
	}
	hl = (size_t)(colon - v);
	if (hl >= 2 && v[0] == '[' && v[hl - 1] == ']') {
		host++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(c->listen_host)) {
		snprintf(err, errlen, "listen must be HOST:PORT");
		return -1;
	}
	memcpy(c->listen_host, host, hl);
	c->listen_host[hl] = '\0';
	c->listen_port = (uint16_t)port;
	return 0;
}

/* set_bool - yes or no */
static int
set_bool(struct config *c, const struct config_key *k, const char *v,
    char *err, size_t errlen)
{
	if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0) {
		snprintf(err, errlen, "%s must be yes or no", k->name);
		return -1;
	}
	*(bool *)(void *)((char *)c + k->field) = strcmp(v, "yes") == 0;
	return 0;
}

/* set_choice - store the index of word v among the choices of key k */
static int
set_choice(struct config *c, const struct config_key *k, const char *v,
    char *err, size_t errlen)
{
	size_t used;

	for (int i = 0; k->choices[i] != NULL; i++)
		if (strcmp(k->choices[i], v) == 0) {
			*(int *)(void *)((char *)c + k->field) = i;
			return 0;
		}
	used = (size_t)snprintf(err, errlen, "%s must be", k->name);
	for (int i = 0; k->choices[i] != NULL && used < errlen; i++)
		used += (size_t)snprintf(err + used, errlen - used, "%s %s",
		    i == 0 ? "" : k->choices[i + 1] == NULL ? " or" : ",",
		    k->choices[i]);
	return -1;
}

/* set_value - store v into the field of key k */
static int
set_value(struct config *c, const struct config_key *k, const char *v,
    char *err, size_t errlen)
{
	uint64_t n = 0;
	int rc = 0, lvl;

	switch (k->type) {
	case K_LISTEN:
		return set_listen(c, v, err, errlen);
	case K_LEVEL:
		if ((lvl = log_level_parse(v)) == -1) {
			snprintf(err, errlen,
			    "log_level must be debug, info, notice, warning or error");
			return -1;
		}
		c->log_level = lvl;
		return 0;
	case K_NAME:
		if (!name_valid(v, strlen(v))) {
			snprintf(err, errlen,
			    "%s must be 1-%d characters of A-Za-z0-9_.-",
			    k->name, NAME_LEN);
			return -1;
		}
		strlcpy((char *)c + k->field, v, NAME_LEN + 1);
		return 0;
	case K_CHOICE:
		return set_choice(c, k, v, err, errlen);
	case K_BOOL:
		return set_bool(c, k, v, err, errlen);
	case K_STRING:
		if (strlcpy((char *)c + k->field, v, k->size) >= k->size) {
			snprintf(err, errlen, "%s is too long", k->name);
			return -1;
		}
		return 0;
	case K_UINT:
		rc = parse_uint(v, UINT64_MAX, &n);
		break;
	case K_SIZE:
		rc = parse_size(v, &n);
		break;
	case K_DURATION:
		rc = parse_duration(v, &n);
		break;
	}
	if (rc == -1 || n < k->min || n > k->max) {
		snprintf(err, errlen, "%s must be %s from %llu to %llu", k->name,
		    k->type == K_SIZE ? "a size (K, M, G)" :
		    k->type == K_DURATION ? "a duration (s, m, h, d)" :
		    "a number", (unsigned long long)k->min,
		    (unsigned long long)k->max);
		return -1;
	}
	*(uint64_t *)(void *)((char *)c + k->field) = n;
	return 0;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/*
 * config_parse_line - apply one line of a config file.
 * Blank lines and # comments are fine; anything else must be key = value.
 */
int
config_parse_line(struct config *c, char *line, char *err, size_t errlen)
{
	char *eq, *key, *val, *hash;

	if ((hash = strchr(line, '#')) != NULL)
		*hash = '\0';
	line = trim(line);
	if (*line == '\0')
		return 0;
	if ((eq = strchr(line, '=')) == NULL) {
		snprintf(err, errlen, "expected key = value");
		return -1;
	}
	*eq = '\0';
	key = trim(line);
	val = trim(eq + 1);
	for (size_t i = 0; i < ARRAY_LEN(keys); i++)
		if (strcmp(keys[i].name, key) == 0) {
			if (*val == '\0') {
				snprintf(err, errlen, "%s has no value", key);
				return -1;
			}
			return set_value(c, &keys[i], val, err, errlen);
		}
	snprintf(err, errlen, "unknown key '%.64s'", key);
	return -1;
}

/* absolute - make a relative path absolute against the directory cwd */
static int
absolute(char *path, size_t size, const char *cwd)
{
	char joined[2 * PATH_MAX + 2];

	if (path[0] == '\0' || path[0] == '/')
		return 0;
	snprintf(joined, sizeof(joined), "%s/%s", cwd, path);
	return strlcpy(path, joined, size) < size ? 0 : -1;
}

/* absolute_paths - every path key, and the file's own path, from cwd */
static int
absolute_paths(struct config *c)
{
	return absolute(c->path, sizeof(c->path), c->cwd) == -1 ||
	    absolute(c->state_dir, sizeof(c->state_dir), c->cwd) == -1 ||
	    absolute(c->control, sizeof(c->control), c->cwd) == -1 ||
	    absolute(c->control_ro, sizeof(c->control_ro), c->cwd) == -1 ||
	    absolute(c->seed_users, sizeof(c->seed_users), c->cwd) == -1 ||
	    absolute(c->realm_tls_cert, sizeof(c->realm_tls_cert), c->cwd) == -1 ||
	    absolute(c->realm_tls_key, sizeof(c->realm_tls_key), c->cwd) == -1 ||
	    absolute(c->realm_tls_ca, sizeof(c->realm_tls_ca), c->cwd) == -1 ||
	    absolute(c->pidfile, sizeof(c->pidfile), c->cwd) == -1 ? -1 : 0;
}

/* read_lines - apply every line of c->path */
static int
read_lines(struct config *c, char *err, size_t errlen)
{
	char line[4096], why[512];
	unsigned lineno = 0;
	FILE *fp;
	int rc = 0;

	if ((fp = fopen(c->path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", c->path, strerror(errno));
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			snprintf(err, errlen, "%s:%u: line too long", c->path,
			    lineno);
			rc = -1;
		} else if (config_parse_line(c, line, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "%s:%u: %s", c->path, lineno, why);
			rc = -1;
		}
	}
	fclose(fp);
	return rc;
}

/* load - defaults, then the file path, paths taken from cwd */
static int
load(struct config *c, const char *path, const char *cwd, char *err,
    size_t errlen)
{
	config_defaults(c);
	if (strlcpy(c->path, path, sizeof(c->path)) >= sizeof(c->path) ||
	    strlcpy(c->cwd, cwd, sizeof(c->cwd)) >= sizeof(c->cwd)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	if (read_lines(c, err, errlen) == -1)
		return -1;
	if (absolute_paths(c) == -1) {
		snprintf(err, errlen, "%s: a path is too long", path);
		return -1;
	}
	if (c->pidfile[0] == '\0' &&
	    (strlcpy(c->pidfile, c->state_dir, sizeof(c->pidfile)) >=
	    sizeof(c->pidfile) || strlcat(c->pidfile, "/realmchatd.pid",
	    sizeof(c->pidfile)) >= sizeof(c->pidfile))) {
		snprintf(err, errlen, "%s: state_dir is too long", path);
		return -1;
	}
	return 0;
}

/*
 * config_load - defaults, then every line of path.  Relative paths are
 * taken from the directory the daemon was started in.
 * On error err holds "path:line: reason" and -1 is returned.
 */
int
config_load(struct config *c, const char *path, char *err, size_t errlen)
{
	char cwd[PATH_MAX];

	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		snprintf(err, errlen, "getcwd: %s", strerror(errno));
		return -1;
	}
	return load(c, path, cwd, err, errlen);
}

/*
 * config_reload - read the file of old again.  Relative paths still mean
 * what they meant at start, although a daemon has since moved to "/".
 */
int
config_reload(struct config *c, const struct config *old, char *err,
    size_t errlen)
{
	return load(c, old->path, old->cwd, err, errlen);
}
