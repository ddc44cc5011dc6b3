/*
 * NAME
 *	it_ctl - realmctl against a running daemon, over its control socket
 * DESCRIPTION
 *	Every realmctl command in text and in -j form: status, show users,
 *	show sessions, show groups, stats, kick (the kicked tokens get
 *	NO_SESSION), reload with a good config (a new worker count, a key
 *	that needs a restart) and with a bad one (refused, the old config
 *	still serving), stop (the daemon exits 0).  An unknown word and a
 *	dead socket fail with a message on stderr.  Also: the read-only
 *	socket, SIGHUP still reloading, idle control clients that cannot
 *	stall supervision, the log lines of notable events, and the drop to
 *	an unprivileged user when started as root.
 *
 *	The realm words run against two daemons, alpha and beta, sharing a
 *	realm secret: add realm links them (show realms then lists the link
 *	as up on both sides), a dead port or a second link of the same name
 *	fails, a master waiting on realmd still answers other clients, and
 *	del realm drops what was queued while moving what had arrived over
 *	the link to its recipient's personal inbox.
 */
#include "harness.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/version.h"

/* ctl_ok - realmctl words... must exit 0 with nothing on stderr */
#define ctl_ok(d, ...) ctl_ok_at(__FILE__, __LINE__, (d), __VA_ARGS__, NULL)
#define ctl_json(d, ...) \
	ctl_json_at(__FILE__, __LINE__, (d), __VA_ARGS__, NULL)
#define ctl_fails(d, want, ...) \
	ctl_fails_at(__FILE__, __LINE__, (d), (want), __VA_ARGS__, NULL)

/* ctl_vrun - realmctl -s <socket> with the words of ap */
static int ctl_vrun(struct daemon *d, char **out, char **err, va_list ap)
{
	const char *args[16];
	const char *w;
	int n = 0;

	args[n++] = "-s";
	args[n++] = daemon_control_path(d);
	while ((w = va_arg(ap, const char *)) != NULL && n < 15)
		args[n++] = w;
	args[n] = NULL;
	return realmctl_run(args, out, err);
}

/* ctl_ok_at - stdout of a realmctl run that must succeed; caller frees */
static char *ctl_ok_at(const char *file, int line, struct daemon *d, ...)
{
	char *out, *err;
	va_list ap;
	int rc;

	va_start(ap, d);
	rc = ctl_vrun(d, &out, &err, ap);
	va_end(ap);
	if (rc != 0 || err[0] != '\0') {
		daemon_log_tail(d, 20);
		print_error("# realmctl exit %d\n# stdout: %s\n# stderr: %s\n",
		    rc, out, err);
		_fail(file, line);
	}
	free(err);
	return out;
}

/* ctl_json_at - the parsed stdout of "realmctl -j words..."; must succeed */
static cJSON *ctl_json_at(const char *file, int line, struct daemon *d, ...)
{
	const char *args[16] = { "-j", "-s", daemon_control_path(d) };
	const char *w;
	char *out, *err;
	cJSON *j;
	va_list ap;
	int n = 3, rc;

	va_start(ap, d);
	while ((w = va_arg(ap, const char *)) != NULL && n < 15)
		args[n++] = w;
	va_end(ap);
	args[n] = NULL;
	rc = realmctl_run(args, &out, &err);
	j = cJSON_Parse(out);
	if (rc != 0 || err[0] != '\0' || !cJSON_IsObject(j) ||
	    cJSON_GetObjectItemCaseSensitive(j, "status") != NULL) {
		print_error("# realmctl -j exit %d\n# stdout: %s\n# stderr: %s\n",
		    rc, out, err);
		_fail(file, line);
	}
	free(out);
	free(err);
	return j;
}

/* ctl_fails_at - realmctl words... must fail, saying want on stderr */
static void ctl_fails_at(const char *file, int line, struct daemon *d,
    const char *want, ...)
{
	char *out, *err;
	va_list ap;
	int rc;

	va_start(ap, want);
	rc = ctl_vrun(d, &out, &err, ap);
	va_end(ap);
	if (rc <= 0 || err[0] == '\0' || strstr(err, want) == NULL ||
	    out[0] != '\0') {
		print_error("# realmctl exit %d (want non-zero), stderr \"%s\" "
		    "(want \"%s\"), stdout \"%s\" (want none)\n", rc, err, want,
		    out);
		_fail(file, line);
	}
	free(out);
	free(err);
}

/* has_line - some line of text starts with the words a and b, aligned */
static bool has_line(const char *text, const char *a, const char *b)
{
	for (const char *p = text; p != NULL && *p; ) {
		size_t la = strlen(a);
		const char *q = p + la;

		if (strncmp(p, a, la) == 0 && *q == ' ') {
			while (*q == ' ')
				q++;
			if (strncmp(q, b, strlen(b)) == 0)
				return true;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return false;
}

static const cJSON *get(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (v == NULL)
		fail_msg("no \"%s\" in %s", key, cJSON_PrintUnformatted(o));
	return v;
}

static double number(const cJSON *o, const char *key)
{
	const cJSON *v = get(o, key);

	assert_true(cJSON_IsNumber(v));
	return v->valuedouble;
}

/* entry - the element of array key whose field is value, or NULL */
static const cJSON *entry(const cJSON *o, const char *key, const char *field,
    const char *value)
{
	const cJSON *e;

	assert_true(cJSON_IsArray(get(o, key)));
	cJSON_ArrayForEach(e, get(o, key)) {
		const cJSON *f = cJSON_GetObjectItemCaseSensitive(e, field);

		if (cJSON_IsString(f) && strcmp(f->valuestring, value) == 0)
			return e;
	}
	return NULL;
}

/* append_config - add lines to the daemon's config (later lines win) */
static void append_config(struct daemon *d, const char *lines)
{
	FILE *f = fopen(daemon_config_path(d), "a");

	assert_non_null(f);
	fputs(lines, f);
	assert_int_equal(fclose(f), 0);
}

static void test_status_text(void **state)
{
	struct daemon *d = *state;
	pid_t pids[64];
	char want[64], *out;
	int n = daemon_wait_workers(d, IT_WORKERS, NULL, 0, pids, 5.0);

	assert_int_equal(n, IT_WORKERS);
	client_login(d, "messi");
	out = ctl_ok(d, "status");
	snprintf(want, sizeof want, "realmchatd %s, realm %s, pid %d",
	    REALMCHAT_VERSION, IT_REALM, (int)daemon_pid(d));
	if (strstr(out, want) == NULL)
		fail_msg("status lacks \"%s\":\n%s", want, out);
	snprintf(want, sizeof want, "127.0.0.1:%d", daemon_port(d));
	assert_true(has_line(out, "listen", want));
	assert_true(has_line(out, "workers", "2"));
	assert_true(has_line(out, "sessions", "1"));
	for (int i = 0; i < n; i++) {
		snprintf(want, sizeof want, "%d", (int)pids[i]);
		assert_true(has_line(out, want, "20"));	/* started 20xx-... */
	}
	assert_true(has_line(out, "users", "3"));
	assert_true(has_line(out, "sessions", "1"));
	assert_true(has_line(out, "messages", "0"));
	assert_true(has_line(out, "groups", "0"));
	assert_true(has_line(out, "message_store", "0 B"));
	free(out);
}

static void test_status_json(void **state)
{
	static const char *const tables[] = { "users", "sessions", "messages",
	    "message_store", "groups", "memberships", "files", "spool",
	    "kept_files" };
	struct daemon *d = *state;
	struct client *c = client_login(d, "messi");
	const cJSON *w, *t;
	pid_t pids[64];
	cJSON *j;
	int n = daemon_wait_workers(d, IT_WORKERS, NULL, 0, pids, 5.0);

	assert_reply_ok(client_cmd(c, "send henderson hi"));
	j = ctl_json(d, "status");
	assert_string_equal(json_string(j, "version"), REALMCHAT_VERSION);
	assert_string_equal(json_string(j, "realm"), IT_REALM);
	assert_int_equal((int)number(j, "pid"), (int)daemon_pid(d));
	assert_true(number(j, "uptime") >= 0);
	assert_true(number(j, "connections") >= 1);
	assert_int_equal((int)number(j, "sessions"), 1);
	assert_false(cJSON_IsTrue(get(j, "stopping")));
	assert_int_equal(cJSON_GetArraySize(get(j, "workers")), n);
	cJSON_ArrayForEach(w, get(j, "workers")) {
		bool known = false;

		for (int i = 0; i < n; i++)
			known |= (pid_t)number(w, "pid") == pids[i];
		assert_true(known);
	}
	for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
		t = get(get(j, "tables"), tables[i]);
		assert_true(number(t, "capacity") > 0);
		assert_true(number(t, "used") <= number(t, "capacity"));
	}
	assert_int_equal((int)number(get(get(j, "tables"), "users"), "used"), 3);
	assert_int_equal((int)number(get(get(j, "tables"), "messages"), "used"),
	    1);
	assert_true(number(get(get(j, "tables"), "message_store"), "used") > 0);
	cJSON_Delete(j);
}

static void test_show_users(void **state)
{
	struct daemon *d = *state;
	struct client *c = client_connect(d);
	const cJSON *u;
	char *out;
	cJSON *j;

	assert_reply_ok(client_cmd(c, "register newbie pw New_Bie Indonesia"));
	out = ctl_ok(d, "show", "users");
	assert_true(has_line(out, "USER", "NAME"));
	assert_true(has_line(out, "messi", "Lionel Messi"));
	assert_true(has_line(out, "henderson", "Jordan Henderson"));
	assert_true(has_line(out, "newbie", "New Bie"));
	free(out);
	j = ctl_json(d, "show", "users");
	assert_int_equal(cJSON_GetArraySize(get(j, "users")), 4);
	assert_int_equal((int)number(j, "total"), 4);
	assert_false(cJSON_IsTrue(get(j, "truncated")));
	u = entry(j, "users", "user", "newbie");
	assert_non_null(u);
	assert_string_equal(json_string(u, "country"), "Indonesia");
	assert_int_equal((int)number(u, "sessions"), 1);
	assert_int_equal((int)number(entry(j, "users", "user", "lineker"),
	    "sessions"), 0);
	cJSON_Delete(j);
	/* shortened words work while they stay unambiguous */
	free(ctl_ok(d, "sh", "us"));
}

static void test_show_sessions(void **state)
{
	struct daemon *d = *state;
	char tok[64], prefix[16], *out;
	const cJSON *s;
	cJSON *j;

	snprintf(tok, sizeof tok, "%s", client_auth(client_connect(d),
	    "messi", SEED_PASSWORD));
	client_auth(client_connect(d), "messi", SEED_PASSWORD);
	client_auth(client_connect(d), "henderson", SEED_PASSWORD);
	snprintf(prefix, sizeof prefix, "%.8s", tok);
	out = ctl_ok(d, "show", "sessions");
	assert_true(has_line(out, "messi", prefix));
	assert_true(has_line(out, "henderson", ""));
	/* a token is a password: only its start is shown */
	assert_null(strstr(out, tok));
	free(out);
	j = ctl_json(d, "show", "sessions");
	assert_int_equal(cJSON_GetArraySize(get(j, "sessions")), 3);
	assert_int_equal((int)number(j, "total"), 3);
	s = entry(j, "sessions", "token", prefix);
	assert_non_null(s);
	assert_string_equal(json_string(s, "user"), "messi");
	assert_true(number(s, "idle") >= 0);
	assert_false(cJSON_IsTrue(get(s, "expired")));
	out = cJSON_PrintUnformatted(j);
	assert_null(strstr(out, tok));
	free(out);
	cJSON_Delete(j);
}

static void test_show_groups(void **state)
{
	struct daemon *d = *state;
	struct client *m = client_login(d, "messi"),
	    *h = client_login(d, "henderson");
	const cJSON *g;
	char *out;
	cJSON *j;

	assert_reply_ok(client_cmd(m, "addgroup team"));
	assert_reply_ok(client_cmd(m, "addgroup locked secret"));
	assert_reply_ok(client_cmd(h, "joingroup team"));
	assert_reply_ok(client_cmd(m, "sendgroup team hello team"));
	out = ctl_ok(d, "show", "groups");
	assert_true(has_line(out, "GROUP", "CREATOR"));
	assert_true(has_line(out, "team", "messi"));
	assert_true(has_line(out, "locked", "messi"));
	free(out);
	j = ctl_json(d, "show", "groups");
	assert_int_equal(cJSON_GetArraySize(get(j, "groups")), 2);
	g = entry(j, "groups", "group", "team");
	assert_non_null(g);
	assert_string_equal(json_string(g, "creator"), "messi");
	assert_int_equal((int)number(g, "members"), 2);
	assert_int_equal((int)number(g, "history"), 1);
	assert_false(cJSON_IsTrue(get(g, "password")));
	assert_true(cJSON_IsTrue(get(entry(j, "groups", "group", "locked"),
	    "password")));
	cJSON_Delete(j);
}

/* counter - one count of a stats reply: "commands" or "errors" */
static int counter(const cJSON *stats, const char *group, const char *name)
{
	return (int)number(get(stats, group), name);
}

static void test_stats(void **state)
{
	struct daemon *d = *state;
	struct client *c = client_connect(d), *h;
	pid_t pids[64];
	cJSON *before, *after;
	char *out;

	assert_reply_error(client_cmd(c, "whoami"), "NO_SESSION");
	client_auth(c, "messi", SEED_PASSWORD);
	assert_reply_ok(client_cmd(c, "send henderson one"));
	assert_reply_ok(client_cmd(c, "send henderson two"));
	h = client_login(d, "henderson");
	assert_int_equal(inbox_count(client_cmd(h, "inbox")), 2);
	out = ctl_ok(d, "stats");
	assert_true(has_line(out, "auth", "2"));
	assert_true(has_line(out, "send", "2"));
	assert_true(has_line(out, "inbox", "1"));
	assert_true(has_line(out, "NO_SESSION", ""));
	assert_true(has_line(out, "messages", "2 stored, 2 delivered"));
	free(out);
	before = ctl_json(d, "stats");
	assert_int_equal(counter(before, "commands", "auth"), 2);
	assert_int_equal(counter(before, "commands", "send"), 2);
	assert_true(counter(before, "errors", "NO_SESSION") >= 1);
	assert_int_equal(counter(before, "errors", "BAD_COMMAND"), 0);
	assert_int_equal((int)number(before, "stored"), 2);
	assert_int_equal((int)number(before, "delivered"), 2);
	assert_true(number(before, "bytes_in") > 0);
	assert_true(number(before, "bytes_out") > number(before, "bytes_in"));
	assert_true(number(before, "requests") >= 6);
	/* the counts of workers that died are kept */
	assert_int_equal(daemon_wait_workers(d, IT_WORKERS, NULL, 0, pids, 5.0),
	    IT_WORKERS);
	for (int i = 0; i < IT_WORKERS; i++)
		kill(pids[i], SIGKILL);
	assert_int_equal(daemon_wait_workers(d, IT_WORKERS, pids, IT_WORKERS,
	    pids + IT_WORKERS, 10.0), IT_WORKERS);
	after = ctl_json(d, "stats");
	assert_int_equal(counter(after, "commands", "auth"), 2);
	assert_int_equal(counter(after, "commands", "inbox"), 1);
	assert_int_equal(counter(after, "errors", "NO_SESSION"),
	    counter(before, "errors", "NO_SESSION"));
	assert_true(number(after, "bytes_in") == number(before, "bytes_in"));
	assert_int_equal((int)number(after, "stored"), 2);
	cJSON_Delete(before);
	cJSON_Delete(after);
}

static void test_kick(void **state)
{
	struct daemon *d = *state;
	struct client *m = client_connect(d), *o = client_connect(d);
	struct client *h = client_login(d, "henderson");
	char tok[64], *out;
	cJSON *j;

	snprintf(tok, sizeof tok, "%s", client_auth(m, "messi", SEED_PASSWORD));
	client_auth(client_connect(d), "messi", SEED_PASSWORD);
	out = ctl_ok(d, "kick", "messi");
	assert_string_equal(out, "kicked messi: 2 sessions ended\n");
	free(out);
	assert_reply_error(client_cmd(m, "whoami"), "NO_SESSION");
	assert_reply_error(client_cmd(o, "whoami %s", tok), "NO_SESSION");
	assert_reply_error(client_cmd(o, "send %s henderson hi", tok),
	    "NO_SESSION");
	assert_reply_ok(client_cmd(h, "whoami"));
	/* messi may log in again; -j reports the count */
	client_auth(m, "messi", SEED_PASSWORD);
	j = ctl_json(d, "kick", "messi");
	assert_string_equal(json_string(j, "user"), "messi");
	assert_int_equal((int)number(j, "sessions"), 1);
	cJSON_Delete(j);
	assert_reply_error(client_cmd(m, "whoami"), "NO_SESSION");
	ctl_fails(d, "no such user", "kick", "nosuchuser");
	ctl_fails(d, "no such user", "-j", "kick", "nosuchuser");
	ctl_fails(d, "expected one of: USER", "kick");
}

static void test_reload_good(void **state)
{
	struct daemon *d = *state;
	pid_t old[64], now[64];
	char tok[64], *out;
	cJSON *j;

	snprintf(tok, sizeof tok, "%s", client_auth(client_connect(d), "messi",
	    SEED_PASSWORD));
	assert_int_equal(daemon_wait_workers(d, IT_WORKERS, NULL, 0, old, 5.0),
	    IT_WORKERS);
	append_config(d, "workers = 3\n");
	out = ctl_ok(d, "reload");
	assert_string_equal(out, "reloaded: 3 workers\n");
	free(out);
	assert_int_equal(daemon_wait_workers(d, 3, old, IT_WORKERS, now, 10.0),
	    3);
	/* the old workers closed their connections; the session lives on */
	assert_reply_ok(client_cmd(client_connect(d), "whoami %s", tok));
	/* a key that needs a restart is named, and keeps its old value */
	append_config(d, "workers = 2\nlisten = 127.0.0.1:1\n");
	j = ctl_json(d, "reload");
	assert_int_equal((int)number(j, "workers"), 2);
	assert_non_null(cJSON_GetArrayItem(get(j, "restart_needed"), 0));
	assert_string_equal(cJSON_GetArrayItem(get(j, "restart_needed"),
	    0)->valuestring, "listen");
	cJSON_Delete(j);
	assert_int_equal(daemon_wait_workers(d, 2, now, 3, old, 10.0), 2);
	assert_reply_ok(client_cmd(client_login(d, "lineker"), "whoami"));
	out = ctl_ok(d, "reload");
	assert_non_null(strstr(out, "listen changed: it needs a restart"));
	free(out);
}

static void test_reload_bad(void **state)
{
	struct daemon *d = *state;
	struct client *c = client_login(d, "messi");
	pid_t before[64], after[64];
	cJSON *j;

	assert_int_equal(daemon_wait_workers(d, IT_WORKERS, NULL, 0, before,
	    5.0), IT_WORKERS);
	append_config(d, "workers = 5\nfrobnicate = yes\n");
	ctl_fails(d, "reload refused", "reload");
	ctl_fails(d, "frobnicate", "-j", "reload");
	/* the old configuration still serves, with the same workers */
	sleep_ms(300);
	assert_int_equal(daemon_workers(d, after, 64), IT_WORKERS);
	for (int i = 0; i < IT_WORKERS; i++)
		assert_true(after[i] == before[0] || after[i] == before[1]);
	assert_reply_ok(client_cmd(c, "send henderson still here"));
	assert_reply_ok(client_cmd(client_login(d, "henderson"), "inbox"));
	j = ctl_json(d, "status");
	assert_int_equal(cJSON_GetArraySize(get(j, "workers")), IT_WORKERS);
	cJSON_Delete(j);
	assert_true(daemon_wait_log(d, "reload refused", 2.0));
}

static void test_stop_text(void **state)
{
	struct daemon *d = *state;
	int st;
	char *out = ctl_ok(d, "stop");

	assert_string_equal(out, "realmchatd stopped\n");
	free(out);
	st = daemon_wait_exit(d, 5.0);
	assert_true(st != -1 && WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* the socket is gone with the daemon */
	ctl_fails(d, "cannot connect", "status");
}

static void test_stop_json(void **state)
{
	struct daemon *d = *state;
	cJSON *j = ctl_json(d, "stop");
	int st;

	assert_string_equal(json_string(j, "message"), "stopped");
	cJSON_Delete(j);
	st = daemon_wait_exit(d, 5.0);
	assert_true(st != -1 && WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_unknown_words(void **state)
{
	struct daemon *d = *state;

	ctl_fails(d, "unknown word \"frobnicate\"", "frobnicate");
	ctl_fails(d, "unknown word \"frobnicate\"", "-j", "frobnicate");
	ctl_fails(d, "unknown word \"tables\"", "show", "tables");
	ctl_fails(d, "ambiguous word \"s\"", "s");
	ctl_fails(d, "missing word", "show");
	ctl_fails(d, "unexpected word \"now\"", "stop", "now");
	assert_true(daemon_running(d));
}

static void test_dead_socket(void **state)
{
	const char *text[] = { "-s", "/nonexistent/realmchat.ctl", "status",
	    NULL };
	const char *json[] = { "-j", "-s", "/nonexistent/realmchat.ctl",
	    "status", NULL };
	char *out, *err;

	(void)state;
	assert_true(realmctl_run(text, &out, &err) > 0);
	assert_non_null(strstr(err, "cannot connect"));
	assert_string_equal(out, "");
	free(out);
	free(err);
	assert_true(realmctl_run(json, &out, &err) > 0);
	assert_non_null(strstr(err, "cannot connect"));
	free(out);
	free(err);
}

/* test_stale_socket - a socket file nobody serves: refused, then reused */
static void test_stale_socket(void **state)
{
	struct daemon *d = daemon_prepare(NULL);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *stale[] = { "-s", sun.sun_path, "status", NULL };
	char *out, *err;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	*state = d;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s",
	    daemon_control_path(d));
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	close(fd);
	assert_true(realmctl_run(stale, &out, &err) > 0);
	assert_non_null(strstr(err, "Connection refused"));
	free(out);
	free(err);
	daemon_launch(d);
	free(ctl_ok(d, "status"));
}

static int setup_read_only(void **state)
{
	struct daemon *d = daemon_prepare(NULL);
	char line[1200];

	snprintf(line, sizeof line, "control_ro = %s/ro.sock\n",
	    daemon_dir(d));
	append_config(d, line);
	daemon_launch(d);
	*state = d;
	return 0;
}

/* ro_refused - realmctl args exits 1 and says want on stderr */
static void ro_refused(const char *const args[], const char *want)
{
	char *out, *err;

	assert_int_equal(realmctl_run(args, &out, &err), 1);
	assert_non_null(strstr(err, want));
	free(out);
	free(err);
}

static void test_read_only_socket(void **state)
{
	struct daemon *d = *state;
	char ro[1100], *out, *err;
	const char *status[] = { "-s", ro, "-j", "status", NULL };
	const char *kick[] = { "-s", ro, "kick", "messi", NULL };
	const char *stop[] = { "-s", ro, "stop", NULL };
	const char *add[] = { "-s", ro, "add", "realm", "beta", "127.0.0.1",
	    "1", NULL };
	const char *del[] = { "-s", ro, "del", "realm", "beta", NULL };
	const char *realms[] = { "-s", ro, "show", "realms", NULL };
	struct stat sb;

	snprintf(ro, sizeof ro, "%s/ro.sock", daemon_dir(d));
	assert_int_equal(stat(ro, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0666);
	assert_int_equal(stat(daemon_control_path(d), &sb), 0);
	assert_true(S_ISSOCK(sb.st_mode));
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(realmctl_run(status, &out, &err), 0);
	assert_non_null(strstr(out, "\"version\""));
	free(out);
	free(err);
	ro_refused(kick, "not allowed on a read-only");
	ro_refused(stop, "not allowed on a read-only");
	ro_refused(add, "add_realm is not allowed on a read-only");
	ro_refused(del, "del_realm is not allowed on a read-only");
	assert_int_equal(realmctl_run(realms, &out, &err), 0);
	assert_true(has_line(out, "REALM", "PEER"));
	free(out);
	free(err);
	assert_true(daemon_running(d));
	free(ctl_ok(d, "show", "users"));
}

static void test_sighup_still_reloads(void **state)
{
	struct daemon *d = *state;
	pid_t old[64], now[64];

	assert_int_equal(daemon_wait_workers(d, IT_WORKERS, NULL, 0, old, 5.0),
	    IT_WORKERS);
	append_config(d, "workers = 1\n");
	kill(daemon_pid(d), SIGHUP);
	assert_int_equal(daemon_wait_workers(d, 1, old, IT_WORKERS, now, 10.0),
	    1);
	append_config(d, "workers = 3\nbad line\n");
	kill(daemon_pid(d), SIGHUP);
	assert_true(daemon_wait_log(d, "reload refused", 3.0));
	assert_int_equal(daemon_workers(d, old, 64), 1);
	if (old[0] != now[0]) {
		daemon_log_tail(d, 20);
		fail_msg("worker %d replaced by %d after a refused reload",
		    (int)now[0], (int)old[0]);
	}
	assert_reply_ok(client_cmd(client_login(d, "messi"), "whoami"));
}

/* idle_client - a connection to the control socket that says little */
static int idle_client(struct daemon *d, const char *say)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof sun.sun_path, "%s",
	    daemon_control_path(d));
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	if (say != NULL)
		assert_true(write(fd, say, strlen(say)) == (ssize_t)strlen(say));
	return fd;
}

static void test_slow_clients_do_not_stall(void **state)
{
	struct daemon *d = *state;
	pid_t pids[64], again[64];
	int fds[24];
	double t0;
	char *out;

	/* more idle clients than the master serves at once */
	for (int i = 0; i < 24; i++)
		fds[i] = idle_client(d, i % 2 ? "{\"type\":" : NULL);
	assert_int_equal(daemon_wait_workers(d, IT_WORKERS, NULL, 0, pids, 5.0),
	    IT_WORKERS);
	kill(pids[0], SIGKILL);
	t0 = now_s();
	assert_int_equal(daemon_wait_workers(d, IT_WORKERS, pids, 1, again,
	    3.0), IT_WORKERS);
	assert_true(now_s() - t0 < 3.0);
	assert_reply_ok(client_cmd(client_login(d, "messi"), "whoami"));
	/* they are dropped in time, and realmctl gets its turn */
	out = ctl_ok(d, "status");
	assert_true(has_line(out, "workers", "2"));
	free(out);
	assert_true(daemon_wait_log(d, "too slow", 1.0));
	for (int i = 0; i < 24; i++)
		close(fds[i]);
}

static void test_log_lines(void **state)
{
	struct daemon *d = *state;
	pid_t pids[64], now[64];
	char dead[64];
	int st;

	assert_true(daemon_wait_log(d, "notice: started " REALMCHAT_VERSION,
	    2.0));
	assert_int_equal(daemon_wait_workers(d, IT_WORKERS, NULL, 0, pids, 5.0),
	    IT_WORKERS);
	kill(pids[0], SIGKILL);
	snprintf(dead, sizeof dead, "warning: worker %d killed by signal 9",
	    (int)pids[0]);
	assert_true(daemon_wait_log(d, dead, 3.0));
	assert_true(daemon_wait_log(d, "respawned", 3.0));
	daemon_wait_workers(d, IT_WORKERS, pids, 1, now, 5.0);
	free(ctl_ok(d, "reload"));
	assert_true(daemon_wait_log(d, "notice: reloaded", 2.0));
	free(ctl_ok(d, "stop"));
	st = daemon_wait_exit(d, 5.0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_true(daemon_wait_log(d, "notice: stopping (realmctl stop", 1.0));
	assert_true(daemon_wait_log(d, "notice: stopped", 1.0));
}

/* owner_of - uid owning path */
static uid_t owner_of(const char *path)
{
	struct stat sb;

	if (lstat(path, &sb) == -1)
		fail_msg("stat %s: %s", path, strerror(errno));
	return sb.st_uid;
}

/* uid_of - the real and effective uid of a process, from /proc */
static void uid_of(pid_t pid, uid_t *real, uid_t *eff)
{
	char path[64], line[256];
	FILE *f;
	unsigned r = 0, e = 0;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "Uid: %u %u", &r, &e) == 2)
			break;
	fclose(f);
	*real = r;
	*eff = e;
}

static void test_privilege_drop(void **state)
{
	struct passwd *pw = getpwnam("nobody");
	char path[1200];
	struct daemon *d;
	pid_t pids[64];
	uid_t r, e;

	(void)state;
	if (geteuid() != 0 || pw == NULL) {
		print_message("# needs root and a \"nobody\" account\n");
		skip();
	}
	d = daemon_prepare("user = nobody\n");
	/* nobody reads the config at reload, and reaches the state */
	assert_int_equal(chmod(daemon_dir(d), 0755), 0);
	daemon_launch(d);
	uid_of(daemon_pid(d), &r, &e);
	assert_int_equal(r, pw->pw_uid);
	assert_int_equal(e, pw->pw_uid);
	assert_int_equal(daemon_wait_workers(d, IT_WORKERS, NULL, 0, pids, 5.0),
	    IT_WORKERS);
	for (int i = 0; i < IT_WORKERS; i++) {
		uid_of(pids[i], &r, &e);
		assert_int_equal(e, pw->pw_uid);
	}
	snprintf(path, sizeof path, "%s/state", daemon_dir(d));
	assert_int_equal(owner_of(path), pw->pw_uid);
	snprintf(path, sizeof path, "%s/state/realmchat.state", daemon_dir(d));
	assert_int_equal(owner_of(path), pw->pw_uid);
	snprintf(path, sizeof path, "%s/state/spool", daemon_dir(d));
	assert_int_equal(owner_of(path), pw->pw_uid);
	assert_int_equal(owner_of(daemon_control_path(d)), pw->pw_uid);
	assert_true(daemon_wait_log(d, "running as nobody", 1.0));
	/* serving, reloading, kicking and stopping all work as nobody */
	assert_reply_ok(client_cmd(client_login(d, "messi"),
	    "send henderson x"));
	free(ctl_ok(d, "reload"));
	free(ctl_ok(d, "kick", "messi"));
	free(ctl_ok(d, "stop"));
	assert_int_equal(daemon_wait_exit(d, 5.0), 0);
	daemon_destroy(d);
}

static void test_missing_user_refused(void **state)
{
	struct daemon *d;
	char *log;
	int st;

	(void)state;
	if (geteuid() != 0) {
		print_message("# needs root: others run as themselves\n");
		skip();
	}
	d = daemon_prepare("user = no_such_realmchat_user\n");
	assert_int_equal(daemon_try_launch(d, &st), -1);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	log = daemon_log_text(d);
	assert_non_null(strstr(log, "user no_such_realmchat_user does not "
	    "exist"));
	free(log);
	assert_int_equal(daemon_check_config(daemon_config_path(d), &log), 1);
	assert_non_null(strstr(log, "does not exist"));
	free(log);
	daemon_destroy(d);
}


/* ---- realms ---- */

#define REALM_LINES(name) \
	"realm_name = " name "\nrealm_secret = s\nrealm_backoff_max = 1\n"

struct pair {
	struct daemon	*alpha, *beta;
};

static int setup_pair(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	p->alpha = daemon_start(REALM_LINES("alpha"));
	p->beta = daemon_start(REALM_LINES("beta"));
	*state = p;
	/* the chat port may open before realmd takes requests */
	assert_true(daemon_wait_log(p->alpha, "serving realm alpha", 5.0));
	assert_true(daemon_wait_log(p->beta, "serving realm beta", 5.0));
	return 0;
}

static int teardown_pair(void **state)
{
	struct pair *p = *state;
	void *d;

	d = p->alpha;
	it_teardown(&d);
	d = p->beta;
	it_teardown(&d);
	free(p);
	return 0;
}

/* port_of - the daemon's chat port, as a word */
static const char *port_of(struct daemon *d, char *buf, size_t len)
{
	snprintf(buf, len, "%d", daemon_port(d));
	return buf;
}

/* link_state - state of link id in -j show realms, "" if not listed */
static void link_state(struct daemon *d, const char *id, char *out, size_t len)
{
	cJSON *j = ctl_json(d, "show", "realms");
	const cJSON *l = entry(j, "realms", "id", id);

	snprintf(out, len, "%s", l != NULL ? json_string(l, "state") : "");
	cJSON_Delete(j);
}

/* wait_link - link id of d reaches state want within the time */
static void wait_link(struct daemon *d, const char *id, const char *want)
{
	double end = now_s() + 5.0;
	char st[32];

	for (;;) {
		link_state(d, id, st, sizeof st);
		if (strcmp(st, want) == 0)
			return;
		if (now_s() > end)
			fail_msg("link %s is \"%s\", not \"%s\"", id, st, want);
		sleep_ms(50);
	}
}

/* add_beta - alpha links to beta under the id "beta" */
static void add_beta(struct pair *p)
{
	char port[16], *out;

	out = ctl_ok(p->alpha, "add", "realm", "beta", "127.0.0.1",
	    port_of(p->beta, port, sizeof port));
	assert_string_equal(out, "added realm beta: linked to beta\n");
	free(out);
}

static void test_realm_add_and_show(void **state)
{
	struct pair *p = *state;
	const cJSON *l;
	char port[16], want[128], *out;
	cJSON *j;

	/* nothing yet: only the header */
	out = ctl_ok(p->alpha, "show", "realms");
	assert_true(has_line(out, "REALM", "PEER"));
	assert_null(strchr(strchr(out, '\n') + 1, '\n'));
	free(out);
	add_beta(p);
	wait_link(p->alpha, "beta", "up");
	wait_link(p->beta, "alpha", "up");
	out = ctl_ok(p->alpha, "sh", "re");
	assert_true(has_line(out, "beta", "beta"));
	snprintf(want, sizeof want, "%-24s %5s %-6s %-14s %7d", "127.0.0.1",
	    port_of(p->beta, port, sizeof port), "yes", "up", 0);
	if (strstr(out, want) == NULL)
		fail_msg("show realms lacks \"%s\":\n%s", want, out);
	free(out);
	out = ctl_ok(p->beta, "show", "realms");
	assert_true(has_line(out, "alpha", "alpha"));
	assert_non_null(strstr(out, " alpha\n"));	/* NAMES, last */
	free(out);
	j = ctl_json(p->alpha, "show", "realms");
	assert_int_equal(cJSON_GetArraySize(get(j, "realms")), 1);
	l = entry(j, "realms", "id", "beta");
	assert_non_null(l);
	assert_string_equal(json_string(l, "peer"), "beta");
	assert_string_equal(json_string(l, "host"), "127.0.0.1");
	assert_int_equal((int)number(l, "port"), daemon_port(p->beta));
	assert_true(cJSON_IsTrue(get(l, "dialer")));
	assert_int_equal((int)number(l, "queued"), 0);
	assert_int_equal((int)number(l, "sent"), 0);
	assert_int_equal((int)number(l, "received"), 0);
	cJSON_Delete(j);
	j = ctl_json(p->beta, "show", "realms");
	assert_false(cJSON_IsTrue(get(entry(j, "realms", "id", "alpha"),
	    "dialer")));
	cJSON_Delete(j);
	/* the same link again is fine; the same id for another is refused */
	add_beta(p);
	ctl_fails(p->alpha, "cannot add realm beta", "add", "realm", "beta",
	    "127.0.0.1", port_of(p->alpha, port, sizeof port));
}

static void test_realm_add_json(void **state)
{
	struct pair *p = *state;
	char port[16];
	cJSON *j;

	j = ctl_json(p->alpha, "add", "realm", "b2", "127.0.0.1",
	    port_of(p->beta, port, sizeof port));
	assert_string_equal(json_string(j, "realm"), "b2");
	assert_string_equal(json_string(j, "peer"), "beta");
	cJSON_Delete(j);
	wait_link(p->alpha, "b2", "up");
}

static void test_realm_add_dead_port(void **state)
{
	struct pair *p = *state;
	char *out;

	ctl_fails(p->alpha, "cannot add realm gamma: Realm Unreachable",
	    "add", "realm", "gamma", "127.0.0.1", "1");
	ctl_fails(p->alpha, "cannot add realm gamma", "-j", "add", "realm",
	    "gamma", "127.0.0.1", "1");
	out = ctl_ok(p->alpha, "show", "realms");
	assert_null(strstr(out, "gamma"));
	free(out);
	/* words that cannot be an id, a host or a port */
	ctl_fails(p->alpha, "expected one of: PORT", "add", "realm", "gamma",
	    "127.0.0.1", "http");
	ctl_fails(p->alpha, "expected one of: PORT", "add", "realm", "gamma",
	    "127.0.0.1", "65536");
	ctl_fails(p->alpha, "expected one of: ID", "add", "realm", "a b");
	ctl_fails(p->alpha, "missing word", "add", "realm", "gamma");
	ctl_fails(p->alpha, "no such realm: gamma", "del", "realm", "gamma");
}

/* test_realm_add_waits_aside - a silent realmd holds up no one else */
static void test_realm_add_waits_aside(void **state)
{
	struct pair *p = *state;
	pid_t rd = daemon_realmd(p->alpha), ctl;
	char port[16], *out;
	double t0, took;
	int st;

	if (rd == 0)
		fail_msg("no realmd among alpha's children");
	assert_int_equal(kill(rd, SIGSTOP), 0);
	port_of(p->beta, port, sizeof port);
	if ((ctl = fork()) == 0) {
		const char *args[] = { "-s", daemon_control_path(p->alpha),
		    "add", "realm", "beta", "127.0.0.1", port, NULL };
		char *o, *e;
		int rc = realmctl_run(args, &o, &e);

		_exit(rc == 1 && strstr(e, "no answer from realmd") ? 0 : 1);
	}
	assert_true(ctl > 0);
	sleep_ms(300);
	t0 = now_s();
	out = ctl_ok(p->alpha, "status");
	took = now_s() - t0;
	free(out);
	assert_int_equal(waitpid(ctl, &st, 0), ctl);
	kill(rd, SIGCONT);
	assert_true(took < 1.0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_realm_del(void **state)
{
	struct pair *p = *state;
	struct client *b = client_login(p->beta, "messi");
	struct client *a = client_login(p->alpha, "messi"), *h;
	const cJSON *from;
	cJSON *r, *j;
	char *out;

	add_beta(p);
	wait_link(p->alpha, "beta", "up");
	wait_link(p->beta, "alpha", "up");
	/* one message arrives at alpha over the link ... */
	assert_reply_ok(client_cmd(b, "sendrealm alpha henderson hello from beta"));
	/* ... and one waits at alpha for beta, which has gone */
	daemon_stop(p->beta);
	wait_link(p->alpha, "beta", "backoff");
	r = client_cmd(a, "sendrealm beta lineker see you later");
	assert_reply_ok(r);
	assert_true(cJSON_IsTrue(get(r, "queued")));
	out = ctl_ok(p->alpha, "del", "realm", "beta");
	assert_string_equal(out, "deleted realm beta: 1 queued messages "
	    "dropped, 1 moved to personal inboxes\n");
	free(out);
	assert_true(daemon_wait_log(p->alpha, "notice: realm beta deleted",
	    1.0));
	j = ctl_json(p->alpha, "show", "realms");
	assert_int_equal(cJSON_GetArraySize(get(j, "realms")), 0);
	cJSON_Delete(j);
	ctl_fails(p->alpha, "no such realm: beta", "del", "realm", "beta");
	assert_reply_error(client_cmd(a, "sendrealm beta lineker again"),
	    "NO_REALM");
	/* the state passes its check at start; the message is henderson's */
	daemon_restart(p->alpha);
	h = client_login(p->alpha, "henderson");
	r = client_cmd(h, "inbox");
	assert_int_equal(inbox_count(r), 1);
	from = cJSON_GetArrayItem(inbox_from(r, "messi@beta"), 0);
	assert_non_null(from);
	assert_string_equal(json_string(from, "msg"), "hello from beta");
	assert_string_equal(json_string(from, "realm"), "beta");
	assert_null(cJSON_GetObjectItemCaseSensitive(r, "realm_pending"));
}

static void test_realm_del_json(void **state)
{
	struct pair *p = *state;
	cJSON *j;

	add_beta(p);
	j = ctl_json(p->alpha, "del", "realm", "beta");
	assert_string_equal(json_string(j, "realm"), "beta");
	assert_int_equal((int)number(j, "dropped"), 0);
	assert_int_equal((int)number(j, "moved"), 0);
	cJSON_Delete(j);
	/* realmd lets the connection go; the peer sees the link down */
	wait_link(p->beta, "alpha", "down");
	/* and the id can be used again */
	add_beta(p);
	wait_link(p->alpha, "beta", "up");
}

#define T(f) cmocka_unit_test_setup_teardown(f, it_setup, it_teardown)
#define TP(f) cmocka_unit_test_setup_teardown(f, setup_pair, teardown_pair)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_status_text),
		T(test_status_json),
		T(test_show_users),
		T(test_show_sessions),
		T(test_show_groups),
		T(test_stats),
		T(test_kick),
		T(test_reload_good),
		T(test_reload_bad),
		T(test_stop_text),
		T(test_stop_json),
		T(test_unknown_words),
		cmocka_unit_test(test_dead_socket),
		cmocka_unit_test_setup_teardown(test_stale_socket, NULL,
		    it_teardown),
		cmocka_unit_test_setup_teardown(test_read_only_socket,
		    setup_read_only, it_teardown),
		T(test_sighup_still_reloads),
		T(test_slow_clients_do_not_stall),
		T(test_log_lines),
		cmocka_unit_test(test_privilege_drop),
		cmocka_unit_test(test_missing_user_refused),
		TP(test_realm_add_and_show),
		TP(test_realm_add_json),
		TP(test_realm_add_dead_port),
		TP(test_realm_add_waits_aside),
		TP(test_realm_del),
		TP(test_realm_del_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
