/*
 * NAME
 *	unit_config - realmchat.conf parsing (lib/config.c)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/log.h"

struct fixture {
	char	dir[64];
	char	path[128];
	char	err[1024];
	struct config cf;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/rc-unit-config.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/realmchat.conf", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* load - write text as the config file and load it; config_load's result */
static int
load(struct fixture *f, const char *text)
{
	FILE *fp = fopen(f->path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	memset(&f->cf, 0x5a, sizeof(f->cf));
	f->err[0] = '\0';
	return config_load(&f->cf, f->path, f->err, sizeof(f->err));
}

/* load_fails - the text is refused with "path:line: <reason...>" */
static void
load_fails(struct fixture *f, const char *text, unsigned line,
    const char *reason)
{
	char want[512];

	assert_int_equal(load(f, text), -1);
	snprintf(want, sizeof(want), "%s:%u: %s", f->path, line, reason);
	if (strncmp(f->err, want, strlen(want)) != 0)
		fail_msg("config:\n%s\nerror   \"%s\"\nexpected \"%s...\"", text,
		    f->err, want);
}

/* parse - one config_parse_line on a copy of line */
static int
parse(struct config *c, const char *line, char *err, size_t errlen)
{
	char copy[1024];

	snprintf(copy, sizeof(copy), "%s", line);
	err[0] = '\0';
	return config_parse_line(c, copy, err, errlen);
}

static void
test_defaults(void **state)
{
	struct config c;

	memset(&c, 0x5a, sizeof(c));
	config_defaults(&c);
	assert_string_equal(c.listen_host, "0.0.0.0");
	assert_int_equal(c.listen_port, 8889);
	assert_int_equal(c.workers, 0);
	assert_string_equal(c.state_dir, "/var/lib/realmchat");
	assert_string_equal(c.realm_name, "realm");
	assert_string_equal(c.realm_secret, "");
	assert_string_equal(c.control, "");
	assert_string_equal(c.seed_users, "");
	assert_string_equal(c.pidfile, "");
	assert_string_equal(c.user, "realmchat");
	assert_int_equal(c.log_level, LOG_INFO);
	assert_int_equal(c.max_line, 24 << 20);
	assert_int_equal(c.max_message, 64 << 10);
	assert_int_equal(c.inbox_quota, 10000);
	assert_int_equal(c.inbox_batch, 1000);
	assert_int_equal(c.session_timeout, 86400);
	assert_int_equal(c.sessions_per_user, 64);
	assert_int_equal(c.idle_timeout, 600);
	assert_int_equal(c.max_connections, 16384);
	assert_int_equal(c.password_cost, 5);
	assert_int_equal(c.group_history, 100);
	assert_int_equal(c.group_members, 1000);
	assert_int_equal(c.max_file, 16 << 20);
	assert_true(c.spool_max == 1ULL << 30);
	assert_int_equal(c.file_keep, 7 * 86400);
	assert_true(c.spool_reserve == 256ULL << 20);
	assert_int_equal(c.registrations_per_address, 100);
	assert_int_equal(c.sessions_per_address, 1000);
	assert_true(c.max_input_per_worker == 256ULL << 20);
	assert_true(c.max_input_per_address == 64ULL << 20);
	assert_int_equal(c.max_groups, 4096);
	assert_int_equal(c.max_memberships, 65536);
	assert_int_equal(c.max_files, 65536);
	assert_int_equal(c.max_users, 65536);
	assert_int_equal(c.max_sessions, 65536);
	assert_int_equal(c.max_messages, 262144);
	assert_int_equal(c.message_store, 64 << 20);
}

static void
test_empty_file(void **state)
{
	struct fixture *f = *state;
	struct config d;

	assert_int_equal(load(f, ""), 0);
	config_defaults(&d);
	assert_int_equal(f->cf.listen_port, d.listen_port);
	assert_string_equal(f->cf.state_dir, d.state_dir);
	assert_string_equal(f->cf.path, f->path);
	/* the pid file defaults to one in the state directory */
	assert_string_equal(f->cf.pidfile, "/var/lib/realmchat/realmchatd.pid");
	assert_int_equal(f->cf.max_users, d.max_users);
}

static void
test_every_key(void **state)
{
	struct fixture *f = *state;
	struct config *c = &f->cf;

	assert_int_equal(load(f,
	    "listen = 127.0.0.1:7000\n"
	    "workers = 3\n"
	    "state_dir = /srv/rc/state\n"
	    "realm_name = Jawa_Timur.1\n"
	    "realm_secret = s3cr3t with spaces\n"
	    "control = /run/rc.sock\n"
	    "seed_users = /etc/rc/users.json\n"
	    "pidfile = /run/rc.pid\n"
	    "user = nobody\n"
	    "log_level = debug\n"
	    "max_line = 1M\n"
	    "max_message = 8k\n"
	    "inbox_quota = 77\n"
	    "inbox_batch = 12\n"
	    "session_timeout = 2h\n"
	    "sessions_per_user = 4\n"
	    "idle_timeout = 90s\n"
	    "max_connections = 100\n"
	    "password_cost = 11\n"
	    "max_users = 16\n"
	    "max_sessions = 32\n"
	    "max_messages = 48\n"
	    "message_store = 2G\n"
	    "group_history = 50\n"
	    "group_members = 2\n"
	    "max_file = 3M\n"
	    "spool_max = 5G\n"
	    "spool_reserve = 2G\n"
	    "registrations_per_address = 7\n"
	    "sessions_per_address = 70\n"
	    "max_input_per_worker = 100M\n"
	    "max_input_per_address = 10M\n"
	    "max_groups = 17\n"
	    "max_memberships = 18\n"
	    "max_files = 19\n"), 0);
	assert_string_equal(c->listen_host, "127.0.0.1");
	assert_int_equal(c->listen_port, 7000);
	assert_int_equal(c->workers, 3);
	assert_string_equal(c->state_dir, "/srv/rc/state");
	assert_string_equal(c->realm_name, "Jawa_Timur.1");
	assert_string_equal(c->realm_secret, "s3cr3t with spaces");
	assert_string_equal(c->control, "/run/rc.sock");
	assert_string_equal(c->seed_users, "/etc/rc/users.json");
	assert_string_equal(c->pidfile, "/run/rc.pid");
	assert_string_equal(c->user, "nobody");
	assert_int_equal(c->log_level, LOG_DEBUG);
	assert_int_equal(c->max_line, 1 << 20);
	assert_int_equal(c->max_message, 8 << 10);
	assert_int_equal(c->inbox_quota, 77);
	assert_int_equal(c->inbox_batch, 12);
	assert_int_equal(c->session_timeout, 7200);
	assert_int_equal(c->sessions_per_user, 4);
	assert_int_equal(c->idle_timeout, 90);
	assert_int_equal(c->max_connections, 100);
	assert_int_equal(c->password_cost, 11);
	assert_int_equal(c->max_users, 16);
	assert_int_equal(c->max_sessions, 32);
	assert_int_equal(c->max_messages, 48);
	assert_true(c->message_store == 2ULL << 30);
	assert_int_equal(c->group_history, 50);
	assert_int_equal(c->group_members, 2);
	assert_int_equal(c->max_file, 3 << 20);
	assert_true(c->spool_max == 5ULL << 30);
	assert_true(c->spool_reserve == 2ULL << 30);
	assert_int_equal(c->registrations_per_address, 7);
	assert_int_equal(c->sessions_per_address, 70);
	assert_true(c->max_input_per_worker == 100ULL << 20);
	assert_true(c->max_input_per_address == 10ULL << 20);
	assert_int_equal(c->max_groups, 17);
	assert_int_equal(c->max_memberships, 18);
	assert_int_equal(c->max_files, 19);
}

static void
test_log_levels(void **state)
{
	static const struct {
		const char *name;
		int level;
	} levels[] = {
		{ "debug", LOG_DEBUG }, { "info", LOG_INFO },
		{ "notice", LOG_NOTICE }, { "warning", LOG_WARNING },
		{ "error", LOG_ERR }, { "ERROR", LOG_ERR }, { "Info", LOG_INFO },
	};
	struct config c;
	char line[64], err[256];

	config_defaults(&c);
	for (size_t i = 0; i < ARRAY_LEN(levels); i++) {
		snprintf(line, sizeof(line), "log_level = %s", levels[i].name);
		assert_int_equal(parse(&c, line, err, sizeof(err)), 0);
		assert_int_equal(c.log_level, levels[i].level);
	}
	assert_int_equal(parse(&c, "log_level = loud", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "log_level"));
	assert_int_equal(c.log_level, LOG_INFO);	/* unchanged */
}

static void
test_listen_forms(void **state)
{
	static const struct {
		const char *value, *host;
		uint16_t port;
	} good[] = {
		{ "0.0.0.0:8889", "0.0.0.0", 8889 },
		{ "127.0.0.1:1", "127.0.0.1", 1 },
		{ "localhost:65535", "localhost", 65535 },
		{ "example.org:0", "example.org", 0 },
		{ "[::1]:8889", "::1", 8889 },
		{ "[::]:80", "::", 80 },
		{ "[fe80::1%eth0]:9000", "fe80::1%eth0", 9000 },
	};
	static const char *bad[] = {
		"8889", ":8889", "[]:8889", "host", "host:", "host:x",
		"host:65536", "host:-1", "host:80x", "[::1]", "host: 80",
	};
	struct config c;
	char line[128], err[256];

	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		config_defaults(&c);
		snprintf(line, sizeof(line), "listen = %s", good[i].value);
		assert_int_equal(parse(&c, line, err, sizeof(err)), 0);
		assert_string_equal(c.listen_host, good[i].host);
		assert_int_equal(c.listen_port, good[i].port);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		config_defaults(&c);
		snprintf(line, sizeof(line), "listen = %s", bad[i]);
		if (parse(&c, line, err, sizeof(err)) != -1)
			fail_msg("listen = %s accepted", bad[i]);
		assert_string_equal(err, "listen must be HOST:PORT");
		assert_string_equal(c.listen_host, "0.0.0.0");
		assert_int_equal(c.listen_port, 8889);
	}
}

static void
test_numbers_and_bounds(void **state)
{
	static const struct {
		const char *line;
		int ok;
	} cases[] = {
		{ "workers = 0", 0 }, { "workers = 256", 0 },
		{ "workers = 257", -1 }, { "workers = -1", -1 },
		{ "workers = 1k", -1 },			/* not a size */
		{ "max_line = 64", 0 }, { "max_line = 63", -1 },
		{ "max_line = 1G", 0 }, { "max_line = 2G", -1 },
		{ "max_message = 0", -1 }, { "max_message = 16M", 0 },
		{ "max_message = 17M", -1 },
		{ "password_cost = 0", -1 }, { "password_cost = 1", 0 },
		{ "password_cost = 12", -1 },
		{ "session_timeout = 0", -1 }, { "session_timeout = 1", 0 },
		{ "session_timeout = 30d", 0 }, { "session_timeout = 1w", -1 },
		{ "idle_timeout = 10m", 0 }, { "idle_timeout = 10M", -1 },
		{ "max_users = 15", -1 }, { "max_users = 16", 0 },
		{ "max_users = 67108864", 0 }, { "max_users = 67108865", -1 },
		{ "message_store = 1M", 0 }, { "message_store = 1023K", -1 },
		{ "inbox_quota = 99999999999999999999", -1 },
		{ "inbox_batch = 12abc", -1 },
		{ "group_members = 1", -1 }, { "group_members = 100000", 0 },
		{ "group_history = 0", -1 }, { "group_history = 100001", -1 },
		{ "max_file = 1G", 0 }, { "max_file = 2G", -1 },
		{ "spool_max = 1023K", -1 }, { "spool_max = 1M", 0 },
		{ "file_keep = 0", 0 }, { "file_keep = 30d", 0 },
		{ "file_keep = 2s", 0 }, { "file_keep = 1w", -1 },
		{ "file_keep = -1", -1 }, { "file_keep = 99999d", -1 },
		{ "max_groups = 15", -1 }, { "max_files = 16777217", -1 },
		{ "spool_reserve = 0", 0 }, { "spool_reserve = 1048576G", 0 },
		{ "spool_reserve = 1048577G", -1 }, { "spool_reserve = lots", -1 },
		{ "registrations_per_address = 0", -1 },
		{ "registrations_per_address = 1", 0 },
		{ "registrations_per_address = 1073741824", 0 },
		{ "registrations_per_address = 1073741825", -1 },
		{ "sessions_per_address = 0", -1 },
		{ "sessions_per_address = 1000000", 0 },
		{ "sessions_per_address = 1M", -1 },	/* not a size */
		{ "max_input_per_worker = 63K", -1 },
		{ "max_input_per_worker = 64K", 0 },
		{ "max_input_per_worker = 1024G", 0 },
		{ "max_input_per_worker = 1025G", -1 },
		{ "max_input_per_address = 63K", -1 },
		{ "max_input_per_address = 2M", 0 },
	};
	struct config c;
	char err[256];

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		config_defaults(&c);
		if (parse(&c, cases[i].line, err, sizeof(err)) != cases[i].ok)
			fail_msg("\"%s\": expected %d (%s)", cases[i].line,
			    cases[i].ok, err);
	}
	config_defaults(&c);
	assert_int_equal(parse(&c, "workers = 300", err, sizeof(err)), -1);
	assert_string_equal(err, "workers must be a number from 0 to 256");
	assert_int_equal(c.workers, 0);			/* unchanged */
	assert_int_equal(parse(&c, "max_line = 1x", err, sizeof(err)), -1);
	assert_string_equal(err,
	    "max_line must be a size (K, M, G) from 64 to 1073741824");
	assert_int_equal(parse(&c, "idle_timeout = soon", err, sizeof(err)), -1);
	assert_string_equal(err,
	    "idle_timeout must be a duration (s, m, h, d) from 1 to 4294967296");
}

static void
test_names_and_strings(void **state)
{
	struct config c;
	char line[600], err[256], big[300];

	config_defaults(&c);
	assert_int_equal(parse(&c, "realm_name = bad name", err, sizeof(err)), -1);
	assert_string_equal(err,
	    "realm_name must be 1-32 characters of A-Za-z0-9_.-");
	assert_string_equal(c.realm_name, "realm");
	memset(big, 'r', 33);
	big[33] = '\0';
	snprintf(line, sizeof(line), "realm_name = %s", big);
	assert_int_equal(parse(&c, line, err, sizeof(err)), -1);
	big[32] = '\0';
	snprintf(line, sizeof(line), "realm_name = %s", big);
	assert_int_equal(parse(&c, line, err, sizeof(err)), 0);
	assert_string_equal(c.realm_name, big);

	/* user[64] holds 63 characters */
	memset(big, 'u', 64);
	big[64] = '\0';
	snprintf(line, sizeof(line), "user = %s", big);
	assert_int_equal(parse(&c, line, err, sizeof(err)), -1);
	assert_string_equal(err, "user is too long");
	big[63] = '\0';
	snprintf(line, sizeof(line), "user = %s", big);
	assert_int_equal(parse(&c, line, err, sizeof(err)), 0);
	assert_string_equal(c.user, big);

	/* the value is everything after the first '=', trimmed */
	assert_int_equal(parse(&c, "realm_secret =  a = b==c  ", err,
	    sizeof(err)), 0);
	assert_string_equal(c.realm_secret, "a = b==c");
	assert_int_equal(parse(&c, "\t realm_secret\t=\tx y\t\r\n", err,
	    sizeof(err)), 0);
	assert_string_equal(c.realm_secret, "x y");
}

/* register_order and addrealm_without_session: one word of a few */
static void
test_choices(void **state)
{
	struct config c;
	char err[256];

	config_defaults(&c);
	assert_int_equal(c.register_order, REG_AUTO);
	assert_int_equal(c.addrealm_anon, ANON_LOOPBACK);
	assert_int_equal(parse(&c, "register_order = name-first", err,
	    sizeof(err)), 0);
	assert_int_equal(c.register_order, REG_NAME_FIRST);
	assert_int_equal(parse(&c, "register_order = username-first", err,
	    sizeof(err)), 0);
	assert_int_equal(c.register_order, REG_USER_FIRST);
	assert_int_equal(parse(&c, "addrealm_without_session = yes", err,
	    sizeof(err)), 0);
	assert_int_equal(c.addrealm_anon, ANON_ANY);
	assert_int_equal(parse(&c, "addrealm_without_session = no", err,
	    sizeof(err)), 0);
	assert_int_equal(c.addrealm_anon, ANON_NO);
	assert_int_equal(parse(&c, "register_order = Auto", err, sizeof(err)),
	    -1);
	assert_string_equal(err, "register_order must be auto, username-first "
	    "or name-first");
	assert_int_equal(c.register_order, REG_USER_FIRST);
	assert_int_equal(parse(&c, "addrealm_without_session = maybe", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "addrealm_without_session must be no, "
	    "loopback or yes");
}

static void
test_comments_and_blank_lines(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f,
	    "# realmchat test config\n"
	    "\n"
	    "   \t \n"
	    "  # indented comment = with an equals sign\n"
	    "workers = 5   # five of them\n"
	    "inbox_quota=9#no blanks\n"
	    "\r\n"
	    "#workers = 7\n"
	    "max_line = 4K\n"), 0);
	assert_int_equal(f->cf.workers, 5);
	assert_int_equal(f->cf.inbox_quota, 9);
	assert_int_equal(f->cf.max_line, 4096);

	/* CRLF line ends and a last line without a line end */
	assert_int_equal(load(f, "workers = 6\r\nmax_line = 128\r\nuser = x"), 0);
	assert_int_equal(f->cf.workers, 6);
	assert_int_equal(f->cf.max_line, 128);
	assert_string_equal(f->cf.user, "x");

	/* a later line wins */
	assert_int_equal(load(f, "workers = 1\nworkers = 2\n"), 0);
	assert_int_equal(f->cf.workers, 2);
}

static void
test_error_lines(void **state)
{
	struct fixture *f = *state;

	load_fails(f, "bogus = 1\n", 1, "unknown key 'bogus'");
	load_fails(f, "# c\n\nworkers = 2\nWorkers = 2\n", 4,
	    "unknown key 'Workers'");
	load_fails(f, "workers = 2\nworkers = two\n", 2,
	    "workers must be a number from 0 to 256");
	load_fails(f, "\n\n\nmax_users = 8\n", 4,
	    "max_users must be a number from 16 to 67108864");
	load_fails(f, "workers = 1\n\nworkers 4\n", 3, "expected key = value");
	load_fails(f, "workers =\n", 1, "workers has no value");
	load_fails(f, "# x\nstate_dir =   # nothing\n", 2,
	    "state_dir has no value");
	load_fails(f, "= 5\n", 1, "unknown key ''");
	load_fails(f, "listen = [::1]\n", 1, "listen must be HOST:PORT");
	load_fails(f, "log_level = chatty\n", 1, "log_level must be");
	load_fails(f, "workers = 1\r\nrealm_name = a/b\r\n", 2,
	    "realm_name must be");
	/* an unknown key is reported even with an empty value */
	load_fails(f, "nosuch =\n", 1, "unknown key 'nosuch'");
}

static void
test_long_line(void **state)
{
	struct fixture *f = *state;
	static char text[6000];

	memset(text, 'x', 5000);
	memcpy(text, "realm_secret = ", 15);
	strcpy(text + 5000, "\n");
	load_fails(f, text, 1, "line too long");
	/* just short enough: 4094 bytes and the newline fill the buffer */
	memset(text, 'x', 4094);
	memcpy(text, "realm_secret = ", 15);
	strcpy(text + 4094, "\n");
	assert_int_equal(load(f, text), -1);		/* fits the line, not the field */
	assert_non_null(strstr(f->err, ":1: realm_secret is too long"));
}

static void
test_pidfile_needs_room(void **state)
{
	struct fixture *f = *state;
	static char text[PATH_MAX + 64];
	size_t dirlen = PATH_MAX - strlen("/realmchatd.pid") - 1;
	char want[300];

	/* the longest state_dir that leaves room for the default pid file */
	int n = snprintf(text, sizeof(text), "state_dir = /");
	memset(text + n, 'd', dirlen - 1);
	strcpy(text + n + dirlen - 1, "\n");
	assert_int_equal(load(f, text), 0);
	assert_int_equal(strlen(f->cf.state_dir), dirlen);
	assert_int_equal(strlen(f->cf.pidfile), PATH_MAX - 1);
	assert_string_equal(f->cf.pidfile + dirlen, "/realmchatd.pid");

	/* one more byte: refused rather than cut */
	memset(text + n, 'd', dirlen);
	strcpy(text + n + dirlen, "\n");
	assert_int_equal(load(f, text), -1);
	snprintf(want, sizeof(want), "%s: state_dir is too long", f->path);
	assert_string_equal(f->err, want);

	/* an explicit pid file needs no room in state_dir */
	strcpy(text + n + dirlen, "\npidfile = /run/x.pid\n");
	assert_int_equal(load(f, text), 0);
	assert_string_equal(f->cf.pidfile, "/run/x.pid");
}

static void
test_missing_file(void **state)
{
	struct fixture *f = *state;
	char path[256], want[300];

	snprintf(path, sizeof(path), "%s/nonexistent.conf", f->dir);
	assert_int_equal(config_load(&f->cf, path, f->err, sizeof(f->err)), -1);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(f->err, want);
}

static void
test_relative_paths(void **state)
{
	struct fixture *f = *state;
	char cwd[PATH_MAX], want[PATH_MAX + 64];

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(load(f,
	    "state_dir = var/state\n"
	    "control = ctl.sock\n"
	    "seed_users = ./seed/users.json\n"), 0);
	snprintf(want, sizeof(want), "%s/var/state", cwd);
	assert_string_equal(f->cf.state_dir, want);
	snprintf(want, sizeof(want), "%s/ctl.sock", cwd);
	assert_string_equal(f->cf.control, want);
	snprintf(want, sizeof(want), "%s/./seed/users.json", cwd);
	assert_string_equal(f->cf.seed_users, want);
	snprintf(want, sizeof(want), "%s/var/state/realmchatd.pid", cwd);
	assert_string_equal(f->cf.pidfile, want);

	assert_int_equal(load(f, "pidfile = run/x.pid\n"), 0);
	snprintf(want, sizeof(want), "%s/run/x.pid", cwd);
	assert_string_equal(f->cf.pidfile, want);
	assert_string_equal(f->cf.state_dir, "/var/lib/realmchat");

	/* the link certificate files too; the pins are not a path */
	assert_int_equal(load(f, "realm_tls_cert = tls/r.crt\n"
	    "realm_tls_key = tls/r.key\nrealm_tls_ca = /etc/ca.pem\n"
	    "realm_tls_pin = AB:CD, ef01\n"), 0);
	snprintf(want, sizeof(want), "%s/tls/r.crt", cwd);
	assert_string_equal(f->cf.realm_tls_cert, want);
	snprintf(want, sizeof(want), "%s/tls/r.key", cwd);
	assert_string_equal(f->cf.realm_tls_key, want);
	assert_string_equal(f->cf.realm_tls_ca, "/etc/ca.pem");
	assert_string_equal(f->cf.realm_tls_pin, "AB:CD, ef01");
	assert_int_equal(f->cf.realm_users, 4096);
	assert_int_equal(load(f, "realm_users = 16\n"), 0);
	assert_int_equal(f->cf.realm_users, 16);
	assert_int_equal(load(f, "realm_users = 15\n"), -1);

	/* absolute paths are kept as written; empty ones stay empty */
	assert_int_equal(load(f, "state_dir = /abs/dir\n"), 0);
	assert_string_equal(f->cf.state_dir, "/abs/dir");
	assert_string_equal(f->cf.control, "");
	assert_string_equal(f->cf.seed_users, "");
	assert_string_equal(f->cf.pidfile, "/abs/dir/realmchatd.pid");
}

static void
test_load_resets_to_defaults(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "workers = 9\nuser = alice\n"), 0);
	assert_int_equal(f->cf.workers, 9);
	/* a second load of another file starts again from the defaults */
	assert_int_equal(load(f, "inbox_batch = 3\n"), 0);
	assert_int_equal(f->cf.workers, 0);
	assert_string_equal(f->cf.user, "realmchat");
	assert_int_equal(f->cf.inbox_batch, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test_setup_teardown(test_empty_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_key, setup, teardown),
		cmocka_unit_test(test_log_levels),
		cmocka_unit_test(test_listen_forms),
		cmocka_unit_test(test_numbers_and_bounds),
		cmocka_unit_test(test_names_and_strings),
		cmocka_unit_test(test_choices),
		cmocka_unit_test_setup_teardown(test_comments_and_blank_lines,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pidfile_needs_room, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relative_paths, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_load_resets_to_defaults,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
