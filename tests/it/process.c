/*
 * NAME
 *	it_process - process tree, crashes, restarts and config checking
 * DESCRIPTION
 *	Covers the process titles, kill -9 of workers (respawned, nothing
 *	lost, also under a steady stream of sends), connections shared by
 *	the workers, a graceful stop and a
 *	start on the same state (also with a client stuck on a huge reply),
 *	kill -9 of the whole tree and a start again (also under load), seed
 *	users loaded only into an empty state, a damaged state file refused
 *	cleanly, and "realmchatd -n" on good and bad configs.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* wait_workers - the expected number of workers, none of gone[] */
static void wait_workers(struct daemon *d, const pid_t *gone, int ngone,
    pid_t *pids)
{
	int n = daemon_wait_workers(d, IT_WORKERS, gone, ngone, pids, 10.0);

	if (n != IT_WORKERS)
		fail_msg("expected %d live workers (none of the killed ones) "
		    "within 10 s, found %d", IT_WORKERS, n);
}

/* texts_of - the msg strings of one sender in a collected inbox */
static int texts_of(const cJSON *all, const char *sender, const char **out,
    int max)
{
	const cJSON *e;
	int n = 0;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(all, sender)) {
		assert_true(n < max);
		out[n++] = json_string(e, "msg");
	}
	return n;
}

/* has_prefix - s starts with p */
static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* wait_title - the title of pid starts with prefix within 3 s */
static void wait_title(pid_t pid, const char *prefix)
{
	double end = now_s() + 3.0;
	char *title;

	/* the title may be set a moment after the socket accepts */
	while (!has_prefix(title = proc_title(pid), prefix) && now_s() < end) {
		free(title);
		sleep_ms(20);
	}
	if (!has_prefix(title, prefix))
		fail_msg("pid %d has title \"%s\", expected \"%s...\"",
		    (int)pid, title, prefix);
	free(title);
}

static void test_process_titles(void **state)
{
	struct daemon *d = *state;
	pid_t pids[8];

	wait_title(daemon_pid(d), "realmchatd: master");
	wait_workers(d, NULL, 0, pids);
	for (int i = 0; i < IT_WORKERS; i++)
		wait_title(pids[i], "realmchatd: worker");
}

static void test_kill_each_worker(void **state)
{
	struct daemon *d = *state;
	struct client *m = client_login(d, "messi"), *h, *o;
	pid_t orig[8], now[8];
	const char *tx[8];
	char tok[64];
	cJSON *all, *r;

	snprintf(tok, sizeof tok, "%s", client_auth(m, "messi",
	    SEED_PASSWORD));
	for (int i = 0; i < 3; i++)
		assert_reply_ok(client_cmd(m, "send henderson before-kill-%d",
		    i));
	wait_workers(d, NULL, 0, orig);
	for (int i = 0; i < IT_WORKERS; i++) {
		assert_int_equal(kill(orig[i], SIGKILL), 0);
		assert_true(proc_wait_gone(orig[i], 5.0));
		wait_workers(d, orig, i + 1, now);
		for (int k = 0; k < IT_WORKERS; k++)
			for (int j = 0; j <= i; j++)
				assert_int_not_equal(now[k], orig[j]);
	}
	assert_true(daemon_running(d));
	h = client_login(d, "henderson");
	all = client_inbox_all(h, 100);
	assert_int_equal(texts_of(all, "messi", tx, 8), 3);
	assert_string_equal(tx[0], "before-kill-0");
	assert_string_equal(tx[1], "before-kill-1");
	assert_string_equal(tx[2], "before-kill-2");
	/* the session made before the kills is still good */
	o = client_connect(d);
	r = client_cmd(o, "whoami %s", tok);
	assert_reply_ok(r);
	assert_string_equal(json_string(r, "username"), "messi");
}

/* worker_conns - the connections each worker holds, from realmctl -j status */
static int worker_conns(struct daemon *d, int *conns, int max)
{
	char *out, *err;
	cJSON *j, *w;
	int n = 0;

	assert_int_equal(daemon_ctl(d, &out, &err, "-j", "status", NULL), 0);
	assert_non_null(j = cJSON_Parse(out));
	cJSON_ArrayForEach(w, cJSON_GetObjectItem(j, "workers")) {
		assert_true(n < max);
		conns[n++] = (int)cJSON_GetNumberValue(
		    cJSON_GetObjectItem(w, "connections"));
	}
	cJSON_Delete(j);
	free(out);
	free(err);
	return n;
}

/*
 * share_round - n connections made one by one, each answered before the
 * next; true if every worker holds n / workers +- n / 8 of them
 */
static bool share_round(struct daemon *d, int n)
{
	struct client *cs[40];
	int conns[8], nw, total = 0;
	bool fair = true;

	for (int i = 0; i < n; i++) {
		cs[i] = client_connect(d);
		assert_reply_error(client_cmd(cs[i], "whoami"), "NO_SESSION");
	}
	nw = worker_conns(d, conns, 8);
	assert_int_equal(nw, IT_WORKERS);
	for (int i = 0; i < nw; i++) {
		printf("# worker %d holds %d of %d\n", i, conns[i], n);
		fair = fair && conns[i] >= n / nw - n / 8 &&
		    conns[i] <= n / nw + n / 8;
		total += conns[i];
	}
	assert_int_equal(total, n);
	for (int i = 0; i < n; i++)
		client_close(cs[i]);
	return fair;
}

/*
 * Connections made one by one while the workers idle (the way clients
 * come in over a day): every worker holds a fair part of them, not one
 * worker all.  A worker busy with other work on a loaded machine is not
 * idle, so a round may come out uneven: one of three rounds must be fair
 * (without the sharing, none is: one worker takes all 40).
 */
static void test_workers_share_connections(void **state)
{
	struct daemon *d = *state;
	int round = 0;

	while (!share_round(d, 40)) {
		int conns[8], nw, open = 1;

		assert_true(++round < 3);
		/* the closed ones leave the workers' counts first */
		for (double end = now_s() + 10; open > 0 && now_s() < end; ) {
			sleep_ms(100);
			nw = worker_conns(d, conns, 8);
			open = 0;
			for (int i = 0; i < nw; i++)
				open += conns[i];
		}
	}
}

/* hammer_run - in a child: send numbered messages, report each OK */
static void hammer_run(int port, const char *token, int out)
{
	struct client *c = NULL;
	double end = now_s() + 30;
	char line[128];

	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
	for (int32_t seq = 0; now_s() < end; ) {
		cJSON *r = NULL;
		int32_t rec;

		if (c == NULL && (c = client_try_connect(port)) == NULL) {
			sleep_ms(20);
			continue;
		}
		snprintf(line, sizeof line, "send %s henderson n%d", token,
		    (int)seq);
		if (client_try_cmd(c, line, &r, 3000) != 0) {
			client_close(c);	/* outcome unknown */
			c = NULL;
			seq++;
			continue;
		}
		rec = strcmp(cJSON_GetObjectItemCaseSensitive(r,
		    "status")->valuestring, "OK") == 0 ? seq : -1 - seq;
		if (write(out, &rec, sizeof rec) != sizeof rec)
			break;
		cJSON_Delete(r);
		seq++;
		sleep_ms(2);
	}
	_exit(0);
}

/* hammer_start - fork the sender; returns its pid, *rfd its reports */
static pid_t hammer_start(struct daemon *d, const char *token, int *rfd)
{
	int p[2];
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		close(p[0]);
		hammer_run(daemon_port(d), token, p[1]);
	}
	assert_true(pid > 0);
	close(p[1]);
	*rfd = p[0];
	return pid;
}

/* hammer_stop - stop the sender; fills ok[] and counts errors */
static int hammer_stop(pid_t pid, int rfd, char *ok, int max, int *errors)
{
	int32_t rec;
	int n = 0, st;

	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	while (read(rfd, &rec, sizeof rec) == sizeof rec) {
		if (rec < 0) {
			(*errors)++;
			continue;
		}
		assert_true(rec < max);
		ok[rec] = 1;
		n++;
	}
	close(rfd);
	return n;
}

/* check_hammer_inbox - every OK'd send is in henderson's inbox, once */
static void check_hammer_inbox(struct daemon *d, char *ok, int maxseq,
    int nok)
{
	struct client *h = client_login(d, "henderson");
	cJSON *all = client_inbox_all(h, 10000), *e;
	int last = -1, found = 0;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(all, "messi")) {
		int k = -1;

		sscanf(json_string(e, "msg"), "n%d", &k);
		if (k <= last)
			fail_msg("message n%d after n%d: out of order or "
			    "duplicated", k, last);
		last = k;
		if (k >= 0 && k < maxseq && ok[k] == 1) {
			ok[k] = 2;
			found++;
		}
	}
	if (found != nok)
		fail_msg("%d of %d sends that got OK are missing from the "
		    "inbox", nok - found, nok);
	cJSON_Delete(all);
}

static void test_kill_workers_under_load(void **state)
{
	enum { MAXSEQ = 100000 };
	struct daemon *d = *state;
	struct client *m = client_login(d, "messi");
	char *ok = calloc(MAXSEQ, 1), tok[64];
	pid_t orig[8], now[8], hp;
	int rfd, nok, errors = 0;

	snprintf(tok, sizeof tok, "%s", client_auth(m, "messi",
	    SEED_PASSWORD));
	wait_workers(d, NULL, 0, orig);
	hp = hammer_start(d, tok, &rfd);
	sleep_ms(500);
	for (int i = 0; i < IT_WORKERS; i++) {
		kill(orig[i], SIGKILL);
		wait_workers(d, orig, i + 1, now);
		sleep_ms(500);
	}
	nok = hammer_stop(hp, rfd, ok, MAXSEQ, &errors);
	if (errors > 0)
		fail_msg("%d sends got an ERROR reply during the kills",
		    errors);
	if (nok < 50)
		fail_msg("only %d sends got OK in 1.5 s of load", nok);
	printf("# %d sends got OK while the workers were killed\n", nok);
	check_hammer_inbox(d, ok, MAXSEQ, nok);
	free(ok);
}

static void test_kill9_tree_under_load(void **state)
{
	enum { MAXSEQ = 100000 };
	struct daemon *d = *state;
	struct client *m = client_login(d, "messi");
	char *ok = calloc(MAXSEQ, 1), tok[64];
	int rfd, nok, errors = 0;
	pid_t hp;

	snprintf(tok, sizeof tok, "%s", client_auth(m, "messi",
	    SEED_PASSWORD));
	hp = hammer_start(d, tok, &rfd);
	sleep_ms(700);
	daemon_kill9_tree(d);
	nok = hammer_stop(hp, rfd, ok, MAXSEQ, &errors);
	assert_int_equal(errors, 0);
	if (nok < 20)
		fail_msg("only %d sends got OK before the kill", nok);
	daemon_restart(d);
	check_hammer_inbox(d, ok, MAXSEQ, nok);
	/* the state is usable after the crash, not just readable */
	m = client_login(d, "messi");
	assert_reply_ok(client_cmd(m, "register aftercrash pw"));
	assert_reply_ok(client_cmd(m, "send henderson after the crash"));
	free(ok);
}

/* State made before a restart and checked after it. */
struct before {
	char	newbie_tok[64];		/* session of a registered user */
	char	messi_tok[64];		/* session of a seed user */
};

/* make_state - a user, sessions, queued and drained messages */
static void make_state(struct daemon *d, struct before *b)
{
	struct client *a = client_connect(d), *m = client_connect(d), *l;
	cJSON *r = client_cmd(a, "register newbie secret1 New_Bie Indonesia");

	assert_reply_ok(r);
	snprintf(b->newbie_tok, sizeof b->newbie_tok, "%s",
	    json_string(r, "tokenid"));
	snprintf(b->messi_tok, sizeof b->messi_tok, "%s",
	    client_auth(m, "messi", SEED_PASSWORD));
	assert_reply_ok(client_cmd(m, "send henderson s1"));
	assert_reply_ok(client_cmd(m, "send newbie s3"));
	assert_reply_ok(client_cmd(m, "send lineker drained"));
	l = client_login(d, "lineker");
	r = client_cmd(l, "inbox");
	assert_int_equal(inbox_count(r), 1);
	/*
	 * The worker removes what it delivered once the reply is written,
	 * a moment after we read it; it answers the next request on the
	 * same connection only after that, so a kill -9 cannot undo it.
	 */
	assert_int_equal(inbox_count(client_cmd(l, "inbox")), 0);
	assert_reply_ok(client_cmd(m, "sendprivate henderson s2"));
}

/* check_state - everything make_state() made is still there */
static void check_state(struct daemon *d, const struct before *b)
{
	struct client *c = client_connect(d), *h, *l;
	const char *tx[8];
	double id[3];
	pid_t pids[8];
	cJSON *r, *all;

	r = client_cmd(c, "whoami %s", b->newbie_tok);
	assert_reply_ok(r);
	assert_string_equal(json_string(r, "username"), "newbie");
	assert_string_equal(json_string(r, "name"), "New Bie");
	r = client_cmd(c, "whoami %s", b->messi_tok);
	assert_reply_ok(r);
	assert_string_equal(json_string(r, "username"), "messi");
	assert_reply_error(client_cmd(c, "auth newbie wrong"), "BAD_PASSWORD");
	assert_reply_error(client_cmd(c, "register newbie x"), "USER_EXISTS");
	client_auth(c, "newbie", "secret1");
	r = client_cmd(c, "inbox %s", b->newbie_tok);
	assert_reply_ok(r);
	assert_int_equal(inbox_count(r), 1);
	assert_string_equal(json_string(cJSON_GetArrayItem(
	    inbox_from(r, "messi"), 0), "msg"), "s3");
	/* what was drained before stays drained */
	l = client_login(d, "lineker");
	r = client_cmd(l, "inbox");
	assert_int_equal(inbox_count(r), 0);
	assert_reply_ok(client_cmd(c, "send %s henderson s4", b->messi_tok));
	h = client_login(d, "henderson");
	all = client_inbox_all(h, 100);
	assert_int_equal(texts_of(all, "messi", tx, 8), 3);
	assert_string_equal(tx[0], "s1");
	assert_string_equal(tx[1], "s2");
	assert_string_equal(tx[2], "s4");
	for (int i = 0; i < 3; i++)
		id[i] = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(
		    cJSON_GetObjectItemCaseSensitive(all, "messi"), i),
		    "id")->valuedouble;
	assert_true(id[0] != id[1] && id[0] != id[2] && id[1] != id[2]);
	wait_workers(d, NULL, 0, pids);
}

static void test_sigterm_then_start_keeps_state(void **state)
{
	struct daemon *d = *state;
	struct before b;

	make_state(d, &b);
	daemon_stop(d);
	daemon_restart(d);
	check_state(d, &b);
}

static void test_kill9_tree_then_start_keeps_state(void **state)
{
	struct daemon *d = *state;
	struct before b;

	make_state(d, &b);
	daemon_kill9_tree(d);
	/* SIGKILL is delivered at once, but a worker's exit may lag behind */
	for (int i = 0; i < 60; i++) {
		struct client *c = client_try_connect(daemon_port(d));
		if (c == NULL)
			break;
		client_close(c);
		assert_true(i < 59);
		sleep_ms(50);
	}
	daemon_restart(d);
	check_state(d, &b);
	/* and once more, straight after a write */
	assert_reply_ok(client_cmd(client_login(d, "messi"),
	    "send lineker after-second-start"));
	daemon_kill9_tree(d);
	daemon_restart(d);
	{
		struct client *l = client_login(d, "lineker");
		cJSON *r = client_cmd(l, "inbox");

		assert_int_equal(inbox_count(r), 1);
		assert_string_equal(json_string(cJSON_GetArrayItem(
		    inbox_from(r, "messi"), 0), "msg"), "after-second-start");
	}
}

static void test_sigterm_stops_everything(void **state)
{
	struct daemon *d = *state;
	struct client *c = client_login(d, "messi");
	pid_t pids[8];

	wait_workers(d, NULL, 0, pids);
	daemon_stop(d);		/* asserts exit status 0 */
	for (int i = 0; i < IT_WORKERS; i++)
		assert_false(proc_alive(pids[i]));
	assert_null(client_try_connect(daemon_port(d)));
	client_expect_eof(c, 2000);
}

static void test_seed_only_into_empty_state(void **state)
{
	struct daemon *d = *state;
	struct client *c;
	char path[1100];

	daemon_stop(d);
	snprintf(path, sizeof path, "%s/users", daemon_dir(d));
	write_file(path, "messi newpass Lionel_Messi Argentina\n"
	    "zidane pw Zinedine_Zidane France\n");
	daemon_restart(d);
	c = client_connect(d);
	client_auth(c, "messi", SEED_PASSWORD);
	assert_reply_error(client_cmd(c, "auth messi newpass"), "BAD_PASSWORD");
	assert_reply_error(client_cmd(c, "auth zidane pw"), "NO_USER");
	client_auth(c, "lineker", SEED_PASSWORD);
}

static int setup_big_messages(void **state)
{
	*state = daemon_start("max_message = 1M\nmessage_store = 64M\n"
	    "inbox_batch = 1000\n");
	return 0;
}

static void test_sigterm_with_stuck_reader(void **state)
{
	struct daemon *d = *state;
	struct client *m = client_login(d, "messi");
	struct client *h = client_login(d, "henderson");
	size_t len = 512 * 1024;
	char *text = malloc(len + 32);
	cJSON *all;

	memcpy(text, "send henderson ", 15);
	memset(text + 15, 's', len);
	memcpy(text + 15 + len, "\r\n", 2);
	for (int i = 0; i < 40; i++) {
		client_write(m, text, 15 + len + 2);
		assert_reply_ok(client_reply(m));
	}
	/* a 20 MiB reply the client never reads must not stall the stop */
	client_send(h, "inbox\r\n");
	sleep_ms(300);
	daemon_stop(d);
	daemon_restart(d);
	h = client_login(d, "henderson");
	all = client_inbox_all(h, 100);
	{
		const cJSON *list = cJSON_GetObjectItemCaseSensitive(all,
		    "messi");

		if (cJSON_GetArraySize(list) != 40)
			fail_msg("%d of 40 messages left the inbox although "
			    "their reply was never read",
			    40 - cJSON_GetArraySize(list));
	}
	free(text);
}

/* damage_state - apply damage to every regular file in the state dir */
static int damage_state(struct daemon *d, bool truncate_half)
{
	char dir[1100], path[1400];
	struct dirent *de;
	DIR *dp;
	int n = 0;

	snprintf(dir, sizeof dir, "%s/state", daemon_dir(d));
	assert_non_null(dp = opendir(dir));
	while ((de = readdir(dp)) != NULL) {
		struct stat sb;
		int fd;

		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (stat(path, &sb) == -1 || !S_ISREG(sb.st_mode))
			continue;
		assert_true((fd = open(path, O_RDWR)) != -1);
		if (truncate_half)
			assert_int_equal(ftruncate(fd, sb.st_size / 2), 0);
		else {
			char junk[4096];

			memset(junk, 0xa5, sizeof junk);
			assert_int_equal(pwrite(fd, junk, sizeof junk, 0),
			    (ssize_t)sizeof junk);
		}
		close(fd);
		n++;
	}
	closedir(dp);
	return n;
}

/* check_damaged_start - refused with a message, or started and sane */
static void check_damaged_start(struct daemon *d, const char *what)
{
	char *before = daemon_log_text(d), *after;
	int st;

	if (daemon_try_launch(d, &st) == -1) {
		after = daemon_log_text(d);
		if (!WIFEXITED(st))
			fail_msg("%s state: the daemon died of signal %d "
			    "instead of refusing", what, WTERMSIG(st));
		assert_int_not_equal(WEXITSTATUS(st), 0);
		if (strlen(after) <= strlen(before))
			fail_msg("%s state: refused without a message", what);
		printf("# %s state: refused, exit status %d\n", what,
		    WEXITSTATUS(st));
		free(after);
	} else {
		struct client *c = client_connect(d);
		cJSON *r = client_cmd(c, "auth messi " SEED_PASSWORD);

		if (strcmp(json_string(r, "status"), "OK") == 0)
			assert_reply_ok(client_cmd(c, "inbox"));
		assert_reply_ok(client_cmd(c, "register fresh pw"));
		printf("# %s state: started and served requests\n", what);
		daemon_stop(d);
	}
	free(before);
}

static void test_damaged_state_refused_cleanly(void **state)
{
	struct daemon *d = *state;
	struct before b;

	make_state(d, &b);
	daemon_stop(d);
	assert_true(damage_state(d, true) > 0);
	check_damaged_start(d, "truncated");
	assert_true(damage_state(d, false) > 0);
	check_damaged_start(d, "overwritten");
}

/* check_fails_at - -n on this config fails, naming file and line */
static void check_fails_at(const char *path, int line)
{
	char *err, want[4200];
	int rc = daemon_check_config(path, &err);

	snprintf(want, sizeof want, "%s:%d:", path, line);
	if (rc <= 0)
		fail_msg("-n on a bad config: exit %d (want non-zero), "
		    "stderr: %s", rc, err);
	if (strstr(err, want) == NULL)
		fail_msg("-n stderr lacks \"%s\": %s", want, err);
	free(err);
}

static void test_check_config_good(void **state)
{
	struct daemon *d = daemon_prepare(NULL);
	/* -n run by root also checks that the user to run as exists */
	struct passwd *pw = getpwuid(geteuid());
	char path[4200], *text, *err;
	int rc;

	(void)state;
	rc = daemon_check_config(daemon_config_path(d), &err);
	if (rc != 0)
		fail_msg("-n on the test config: exit %d, stderr: %s", rc, err);
	assert_null(client_try_connect(daemon_port(d)));
	/* every documented key, with comments, blanks and suffixes */
	assert_true(asprintf(&text,
	    "# every key\n\n"
	    "listen = 127.0.0.1:%d\n"
	    "workers = 3\n"
	    "state_dir = %s/state\n"
	    "realm_name = full\n"
	    "realm_secret = a long secret with spaces\n"
	    "control = %s/control.sock\n"
	    "control_ro = %s/control-ro.sock\n"
	    "seed_users = %s/users\n"
	    "pidfile = %s/realmchatd.pid\n"
	    "user = %s\n"
	    "   # an indented comment\n"
	    "max_line = 16M\n"
	    "max_message = 64K\n"
	    "inbox_quota = 10000\n"
	    "inbox_batch = 100\n"
	    "session_timeout = 1d\n"
	    "idle_timeout = 10m\n"
	    "password_cost = 11\n"
	    "max_users = 1000\n"
	    "max_sessions = 1000\n"
	    "max_messages = 100000\n"
	    "message_store = 8M\n"
	    "log_level = notice\n", daemon_port(d), daemon_dir(d),
	    daemon_dir(d), daemon_dir(d), daemon_dir(d), daemon_dir(d),
	    pw != NULL ? pw->pw_name : "root") > 0);
	snprintf(path, sizeof path, "%s/full.conf", daemon_dir(d));
	write_file(path, text);
	rc = daemon_check_config(path, &err);
	if (rc != 0)
		fail_msg("-n on a config with every key: exit %d, stderr: %s",
		    rc, err);
	free(text);
	daemon_destroy(d);
}

static void test_check_config_bad(void **state)
{
	struct daemon *d = daemon_prepare(NULL);
	char path[4200], *text;

	(void)state;
	assert_true(asprintf(&text,
	    "# line 1\n"
	    "listen = 127.0.0.1:%d\n"
	    "state_dir = %s/state\n"
	    "\n"
	    "frobnicate = yes\n"
	    "workers = 2\n", daemon_port(d), daemon_dir(d)) > 0);
	snprintf(path, sizeof path, "%s/unknown.conf", daemon_dir(d));
	write_file(path, text);
	free(text);
	check_fails_at(path, 5);
	assert_true(asprintf(&text,
	    "listen = 127.0.0.1:%d\n"
	    "state_dir = %s/state\n"
	    "# line 3\n"
	    "workers = lots\n", daemon_port(d), daemon_dir(d)) > 0);
	snprintf(path, sizeof path, "%s/badvalue.conf", daemon_dir(d));
	write_file(path, text);
	free(text);
	check_fails_at(path, 4);
	assert_true(asprintf(&text,
	    "listen = 127.0.0.1:%d\n"
	    "max_line = 12Q\n"
	    "state_dir = %s/state\n", daemon_port(d), daemon_dir(d)) > 0);
	snprintf(path, sizeof path, "%s/badsize.conf", daemon_dir(d));
	write_file(path, text);
	free(text);
	check_fails_at(path, 2);
	daemon_destroy(d);
}

#define T(f) cmocka_unit_test_setup_teardown(f, it_setup, it_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_process_titles),
		T(test_kill_each_worker),
		T(test_workers_share_connections),
		T(test_kill_workers_under_load),
		T(test_kill9_tree_under_load),
		T(test_sigterm_then_start_keeps_state),
		T(test_kill9_tree_then_start_keeps_state),
		T(test_sigterm_stops_everything),
		T(test_seed_only_into_empty_state),
		cmocka_unit_test_setup_teardown(test_sigterm_with_stuck_reader,
		    setup_big_messages, it_teardown),
		T(test_damaged_state_refused_cleanly),
		cmocka_unit_test(test_check_config_good),
		cmocka_unit_test(test_check_config_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
