/*
 * NAME
 *	client - realmchat(1), the terminal client, against the real daemon
 * DESCRIPTION
 *	The client runs under a pseudo-terminal (forkpty) as a person would
 *	use it: the test types keys into the master side and reads what the
 *	client draws.  Other users are harness clients on plain sockets.
 *	  - login, send, and a message arriving while a line is half typed:
 *	    it is shown, and the typed line survives and is sent whole; a
 *	    user name completed with Tab;
 *	  - every command of the two classroom command lists, word for word,
 *	    file commands with a local path, across two linked realms;
 *	  - a 10 MiB file out through one client and back through another,
 *	    byte-exact, and a second copy saved under a new name;
 *	  - a daemon restart while connected: reconnect, session kept; a
 *	    session lost or kicked: logged in again;
 *	  - scripted use: -c, --json, a pipe on stdin, exit statuses, and the
 *	    messages for a refused connection, a wrong password and a file
 *	    that cannot be read;
 *	  - a server with push (watch), faked here: pushed messages are shown
 *	    with their realm and group, a pushed file is saved, an escape
 *	    sequence in a message is not passed to the terminal, and the
 *	    client does not poll.
 *	REALMCHAT names the client (default bin/realmchat).
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define WAIT_S		15.0	/* longest wait for text on the terminal */

struct term {
	pid_t	 pid;		/* the client */
	int	 fd;		/* master side of its terminal */
	char	*out;		/* everything it wrote */
	size_t	 len, cap;
	size_t	 mark;		/* expectations are met after this */
};

static char tmpdir[256];	/* files and download directories */

/* client_bin - the client under test */
static const char *
client_bin(void)
{
	const char *p = getenv("REALMCHAT");

	return p != NULL && *p != '\0' ? p : "bin/realmchat";
}

/* term_read - take what the client wrote, waiting up to ms */
static int
term_read(struct term *t, int ms)
{
	struct pollfd p = { t->fd, POLLIN, 0 };
	char buf[65536];
	ssize_t n;

	if (poll(&p, 1, ms) <= 0)
		return 0;
	n = read(t->fd, buf, sizeof(buf));
	if (n <= 0)
		return -1;
	if (t->len + (size_t)n + 1 > t->cap) {
		t->cap = (t->len + (size_t)n + 1) * 2;
		t->out = realloc(t->out, t->cap);
		assert_non_null(t->out);
	}
	memcpy(t->out + t->len, buf, (size_t)n);
	t->len += (size_t)n;
	t->out[t->len] = '\0';
	return 1;
}

/* term_dump - the terminal's output since the mark, for a failure */
static void
term_dump(const struct term *t)
{
	fprintf(stderr, "# terminal output since the last match:\n");
	for (size_t i = t->mark; i < t->len; i++) {
		unsigned char c = (unsigned char)t->out[i];
		if (c == '\n')
			fputs("\n# ", stderr);
		else if (c < 0x20 || c == 0x7f)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fputc('\n', stderr);
}

/* term_expect - text appears after the mark; the mark moves past it */
static void
term_expect(struct term *t, const char *text)
{
	double end = now_s() + WAIT_S;
	char *hit;

	for (;;) {
		if (t->out != NULL &&
		    (hit = strstr(t->out + t->mark, text)) != NULL) {
			t->mark = (size_t)(hit - t->out) + strlen(text);
			return;
		}
		if (now_s() > end || term_read(t, 100) == -1) {
			term_dump(t);
			fail_msg("the client did not show \"%s\"", text);
		}
	}
}

/* term_type - keys typed on the terminal */
static void
term_type(struct term *t, const char *keys)
{
	size_t len = strlen(keys);

	assert_int_equal(write(t->fd, keys, len), (ssize_t)len);
}

/* term_start_port - the client as "realmchat -p PORT args..." on a terminal */
static struct term *
term_start_port(int portnum, const char *const args[])
{
	struct winsize ws = { .ws_row = 50, .ws_col = 250 };
	struct term *t = calloc(1, sizeof(*t));
	const char *argv[16];
	char port[16];
	int n = 0;

	snprintf(port, sizeof(port), "%d", portnum);
	argv[n++] = client_bin();
	argv[n++] = "-p";
	argv[n++] = port;
	for (int i = 0; args[i] != NULL && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	t->pid = forkpty(&t->fd, NULL, NULL, &ws);
	assert_true(t->pid != -1);
	if (t->pid == 0) {
		setenv("TERM", "xterm", 1);
		setenv("HOME", tmpdir, 1);
		setenv("REALMCHAT_PASSWORD", SEED_PASSWORD, 1);
		unsetenv("NO_COLOR");
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	return t;
}

/* term_start - the client on a terminal, against the daemon d */
static struct term *
term_start(struct daemon *d, const char *const args[])
{
	return term_start_port(daemon_port(d), args);
}

/* term_end - quit the client; its exit status */
static int
term_end(struct term *t)
{
	double end = now_s() + WAIT_S;
	int st = -1;

	term_type(t, "quit\r");
	while (waitpid(t->pid, &st, WNOHANG) == 0) {
		if (now_s() > end) {
			kill(t->pid, SIGKILL);
			waitpid(t->pid, &st, 0);
			break;
		}
		term_read(t, 50);
	}
	close(t->fd);
	free(t->out);
	free(t);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* drain - read fds until both close or the deadline passes */
static void
drain(int fds[2], char *buf[2], double end)
{
	size_t len[2] = { 0, 0 }, cap[2] = { 0, 0 };
	bool open_[2] = { true, true };

	for (int i = 0; i < 2; i++)
		buf[i] = calloc(1, 1);
	while ((open_[0] || open_[1]) && now_s() < end) {
		struct pollfd p[2] = { { fds[0], POLLIN, 0 }, { fds[1], POLLIN, 0 } };
		char tmp[65536];

		if (poll(p, 2, 100) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			ssize_t n;
			if (!open_[i] || p[i].revents == 0)
				continue;
			if ((n = read(fds[i], tmp, sizeof(tmp))) <= 0) {
				open_[i] = false;
				p[i].fd = -1;
				continue;
			}
			if (len[i] + (size_t)n + 1 > cap[i]) {
				cap[i] = (len[i] + (size_t)n + 1) * 2;
				buf[i] = realloc(buf[i], cap[i]);
			}
			memcpy(buf[i] + len[i], tmp, (size_t)n);
			len[i] += (size_t)n;
			buf[i][len[i]] = '\0';
		}
	}
}

/*
 * run_client - the client without a terminal: args after "-p PORT",
 * input on its stdin; stdout and stderr captured; its exit status.
 */
static int
run_client(int port, const char *password, const char *input, char **out,
    char **err, const char *const args[])
{
	int in[2], o[2], e[2], st, fds[2];
	const char *argv[16];
	char portstr[16];
	char *bufs[2];
	int n = 0;
	pid_t pid;

	snprintf(portstr, sizeof(portstr), "%d", port);
	argv[n++] = client_bin();
	argv[n++] = "-p";
	argv[n++] = portstr;
	for (int i = 0; args[i] != NULL && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(o), 0);
	assert_int_equal(pipe(e), 0);
	if ((pid = fork()) == 0) {
		dup2(in[0], 0);
		dup2(o[1], 1);
		dup2(e[1], 2);
		close(in[1]);
		close(o[0]);
		close(e[0]);
		setsid();	/* no controlling terminal to ask on */
		setenv("HOME", tmpdir, 1);
		if (password != NULL)
			setenv("REALMCHAT_PASSWORD", password, 1);
		else
			unsetenv("REALMCHAT_PASSWORD");
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	close(in[0]);
	close(o[1]);
	close(e[1]);
	if (input != NULL)
		assert_int_equal(write(in[1], input, strlen(input)),
		    (ssize_t)strlen(input));
	close(in[1]);
	fds[0] = o[0];
	fds[1] = e[0];
	drain(fds, bufs, now_s() + 60);
	close(o[0]);
	close(e[0]);
	waitpid(pid, &st, 0);
	*out = bufs[0];
	*err = bufs[1];
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* make_file - a file of len pseudo-random bytes under tmpdir */
static char *
make_file(const char *name, size_t len, unsigned seed)
{
	char *path, *data = malloc(len ? len : 1);
	FILE *fp;

	assert_true(asprintf(&path, "%s/%s", tmpdir, name) > 0);
	srandom(seed);
	for (size_t i = 0; i < len; i++)
		data[i] = (char)(random() >> 7);
	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
	free(data);
	return path;
}

/* same_file - two files hold the same bytes */
static bool
same_file(const char *a, const char *b)
{
	char *cmd;
	int r;

	assert_true(asprintf(&cmd, "cmp -s '%s' '%s'", a, b) > 0);
	r = system(cmd);
	free(cmd);
	return r == 0;
}

/* inbox_text - the text of the first message from sender, NULL if none */
static char *
inbox_text(struct client *c, const char *sender)
{
	cJSON *r = client_inbox_all(c, 10);
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(r, sender), *e;
	char *s = NULL;

	e = cJSON_GetArrayItem(list, 0);
	if (cJSON_IsString(cJSON_GetObjectItem(e, "msg")))
		s = strdup(cJSON_GetObjectItem(e, "msg")->valuestring);
	cJSON_Delete(r);
	return s;
}

/* ---------------------------------------------------------------- */
/* Tests                                                             */
/* ---------------------------------------------------------------- */

/*
 * A message arrives while a line is half typed: it is shown above the
 * prompt, the prompt comes back with the half line, and finishing the
 * line sends the whole of it.
 */
static void
test_receive_while_typing(void **state)
{
	const char *args[] = { "-u", "messi", "-i", "0.3", NULL };
	struct client *h = client_login(*state, "henderson");
	struct term *t = term_start(*state, args);
	cJSON *r;
	char *s;

	term_expect(t, "logged in as messi");
	term_expect(t, "messi> ");
	term_type(t, "send hen\t");		/* completed from info */
	term_expect(t, "derson ");
	term_type(t, "half");
	term_expect(t, "half");
	r = client_cmd(h, "send messi ping while typing");
	assert_reply_ok(r);
	cJSON_Delete(r);
	term_expect(t, "ping while typing");
	term_expect(t, "messi> send henderson half");
	term_type(t, " and whole\r");
	term_expect(t, "Message Sent");
	s = inbox_text(h, "messi");
	assert_non_null(s);
	assert_string_equal(s, "half and whole");
	free(s);
	assert_int_equal(term_end(t), 0);
}

/* say - type a command, wait for what it should show */
static void
say(struct term *t, const char *cmd, const char *expect)
{
	char line[4096];

	snprintf(line, sizeof(line), "%s\r", cmd);
	term_type(t, line);
	term_expect(t, expect);
}

/* sayf - say() with a formatted command */
__attribute__((format(printf, 3, 4)))
static void
sayf(struct term *t, const char *expect, const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	say(t, cmd, expect);
}

/* start_realm - a daemon named name, linkable with the other test realm */
static struct daemon *
start_realm(const char *name)
{
	char cfg[512], want[64];
	struct daemon *d;

	snprintf(cfg, sizeof(cfg), "realm_name = %s\nrealm_secret = "
	    "client-test\nrealm_backoff_max = 1\nrealm_wait = 5\n", name);
	d = daemon_start(cfg);
	snprintf(want, sizeof(want), "serving realm %s", name);
	assert_true(daemon_wait_log(d, want, 10.0));
	return d;
}

/* cmd_ok - a harness command that must succeed */
static void
cmd_ok(struct client *c, const char *line)
{
	cJSON *r = client_cmd(c, "%s", line);

	assert_reply_ok(r);
	cJSON_Delete(r);
}

/* seed_sends - the send commands of both lists, private, group and file */
static void
seed_sends(struct term *t, struct client *h, const char *small)
{
	say(t, "sendprivate henderson seed zero", "Message Sent");
	say(t, "send henderson hello world", "Message Sent");
	sayf(t, "File Sent", "sendprivatefile henderson %s", small);
	sayf(t, "File Sent", "sendfile henderson %s", small);
	say(t, "addgroup jarkom3", "Add group Berhasil");
	cmd_ok(h, "joingroup jarkom3");
	say(t, "joingroup kelas", "Join group berhasil");
	say(t, "sendgroup jarkom3 hallo guys welcome", "Message Sent");
	sayf(t, "File Sent", "sendgroupfile jarkom3 %s", small);
}

/* seed_realm - the realm commands of both lists, alpha to beta */
static void
seed_realm(struct term *t, struct daemon *beta, const char *small)
{
	struct client *hb = client_login(beta, "henderson");
	cJSON *r;

	sayf(t, "Connect realm berhasil", "addrealm beta 127.0.0.1 %d",
	    daemon_port(beta));
	say(t, "sendprivaterealm beta henderson over the link", "realm: beta");
	sayf(t, "realm: beta", "sendprivatefilerealm beta henderson %s", small);
	sayf(t, "realm: beta", "sendfilerealm beta henderson %s", small);
	say(t, "sendgrouprealm beta henderson,lineker to the realm",
	    "realm: beta");
	sayf(t, "realm: beta", "sendgroupfilerealm beta henderson %s", small);
	cmd_ok(hb, "sendrealm alpha messi first from beta");
	say(t, "inboxrealm beta", "first from beta");
	cmd_ok(hb, "sendrealm alpha messi second from beta");
	say(t, "getrealminbox beta", "second from beta");
	r = client_cmd(hb, "inboxrealm alpha");
	assert_reply_ok(r);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r,
	    "messages")), 5);
	cJSON_Delete(r);
	client_close(hb);
}

/*
 * Every command of the two classroom lists, word for word, against two
 * linked realms; what the client sent is checked where it arrived.
 */
static void
test_seed_commands(void **state)
{
	struct daemon *alpha = start_realm("alpha"), *beta = start_realm("beta");
	const char *args[] = { "-i", "3600", NULL };
	char *small = make_file("notes file.txt", 300, 7), *dl;
	struct term *t = term_start(alpha, args);
	struct client *h = client_login(alpha, "henderson");
	cJSON *r;

	assert_true(asprintf(&dl, "%s/Downloads/realmchat/hello.txt", tmpdir) > 0);
	term_expect(t, "realmchat> ");
	say(t, "register joni admin joni_perkasa Indonesia", "Register berhasil");
	say(t, "auth joni admin", "Login berhasil");
	say(t, "auth messi surabaya", "Login berhasil");
	say(t, "login_info", "Lionel Messi");
	say(t, "info", "Argentina");
	cmd_ok(h, "addgroup kelas");
	seed_sends(t, h, small);
	seed_realm(t, beta, small);
	cmd_ok(h, "send messi hello messi");
	cmd_ok(h, "sendfile messi hello.txt aGVsbG8gZmlsZQ==");
	say(t, "inbox", "hello messi");
	term_expect(t, dl);
	assert_true(access(dl, R_OK) == 0);
	r = client_inbox_all(h, 10);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "messi")), 6);
	cJSON_Delete(r);
	say(t, "logout", "Logout berhasil");
	assert_int_equal(term_end(t), 0);
	client_close(h);
	daemon_stop(alpha);
	daemon_stop(beta);
	daemon_destroy(alpha);
	daemon_destroy(beta);
	free(small);
	free(dl);
}

/*
 * A 10 MiB file goes out through the interactive client and comes back
 * through a scripted one, byte-exact; a second copy is saved beside the
 * first under a new name.
 */
static void
test_ten_mib_file(void **state)
{
	char *big = make_file("big.bin", 10u << 20, 42), *dl, *out, *err;
	char *first, *second;
	const char *args[] = { "-u", "messi", "-i", "3600", NULL };
	struct term *t = term_start(*state, args);
	int st;

	assert_true(asprintf(&dl, "%s/dl-big", tmpdir) > 0);
	assert_true(asprintf(&first, "%s/big.bin", dl) > 0);
	assert_true(asprintf(&second, "%s/big-1.bin", dl) > 0);
	term_expect(t, "messi> ");
	sayf(t, "File Sent", "sendfile henderson %s", big);
	sayf(t, "File Sent", "sendprivatefile henderson %s", big);
	assert_int_equal(term_end(t), 0);
	{
		const char *a[] = { "-u", "henderson", "-d", dl, "-c", "inbox",
		    NULL };
		st = run_client(daemon_port(*state), SEED_PASSWORD, NULL, &out,
		    &err, a);
	}
	if (st != 0 || strstr(out, second) == NULL)
		fail_msg("exit %d, out: %.500s err: %s", st, out, err);
	assert_true(same_file(big, first));
	assert_true(same_file(big, second));
	free(out);
	free(err);
	free(big);
	free(dl);
	free(first);
	free(second);
}

/*
 * The daemon restarts under a connected client: it reconnects by itself,
 * keeps its session token, and messages keep arriving.  When the server
 * comes back without the session (its state started afresh), or ends it
 * under a live connection, the client logs in again.
 */
static void
test_server_restart(void **state)
{
	const char *args[] = { "-u", "messi", "-i", "0.3", NULL };
	struct term *t = term_start(*state, args);
	struct client *h;
	char *out, *err, *cmd;
	cJSON *r;

	term_expect(t, "messi> ");
	daemon_restart(*state);
	term_expect(t, "reconnected; session kept");
	say(t, "whoami", "username: messi");
	h = client_login(*state, "henderson");
	r = client_cmd(h, "send messi after the restart");
	assert_reply_ok(r);
	cJSON_Delete(r);
	term_expect(t, "after the restart");
	say(t, "send henderson still here", "Message Sent");
	/* the server comes back without the session: the client logs in */
	daemon_stop(*state);
	assert_true(asprintf(&cmd, "rm -rf '%s/state'", daemon_dir(*state)) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	daemon_launch(*state);
	term_expect(t, "reconnected; logged in again as messi");
	say(t, "send henderson back again", "Message Sent");
	/* ended under a live connection: found at the next command */
	assert_int_equal(daemon_ctl(*state, &out, &err, "kick", "messi", NULL),
	    0);
	free(out);
	free(err);
	say(t, "send henderson once more", "logged in again as messi");
	term_expect(t, "Message Sent");
	assert_int_equal(term_end(t), 0);
}

/* script - run_client with -u messi and the given -c script */
static int
script(struct daemon *d, const char *password, const char *cmds, char **out,
    char **err)
{
	const char *a[] = { "-u", "messi", "-c", cmds, NULL };

	return run_client(daemon_port(d), password, NULL, out, err, a);
}

/* contains - the text has the part, or the test fails showing both */
static void
contains(const char *text, const char *part)
{
	if (strstr(text, part) == NULL)
		fail_msg("\"%s\" not in: %s", part, text);
}

/* -c and a pipe: exit statuses, messages, no colours, --json */
static void
test_scripted(void **state)
{
	struct daemon *d = *state;
	char *out, *err;
	cJSON *j;

	assert_int_equal(script(d, SEED_PASSWORD, "send henderson hi; whoami",
	    &out, &err), 0);
	contains(out, "Message Sent");
	contains(out, "username: messi");
	assert_null(strchr(out, '\033'));
	free(out), free(err);

	assert_int_equal(script(d, SEED_PASSWORD, "send nobody hi", &out,
	    &err), 1);
	contains(err, "User Tidak Ditemukan");
	free(out), free(err);

	assert_int_equal(script(d, SEED_PASSWORD, "sendfile henderson "
	    "/nonexistent/x.txt", &out, &err), 1);
	contains(err, "cannot read file /nonexistent/x.txt");
	free(out), free(err);

	assert_int_equal(script(d, "wrong", "whoami", &out, &err), 4);
	contains(err, "Password Salah");
	free(out), free(err);

	assert_int_equal(script(d, NULL, "whoami", &out, &err), 2);
	contains(err, "no password");
	free(out), free(err);

	{
		const char *a[] = { "-c", "whoami", NULL };
		assert_int_equal(run_client(1, NULL, NULL, &out, &err, a), 3);
		contains(err, "connection refused");
		free(out), free(err);
	}
	{
		const char *a[] = { "-u", "messi", "--json", "-c", "whoami", NULL };
		assert_int_equal(run_client(daemon_port(d), SEED_PASSWORD, NULL,
		    &out, &err, a), 0);
		assert_non_null(j = cJSON_Parse(out));
		assert_string_equal(json_string(j, "username"), "messi");
		cJSON_Delete(j);
		free(out), free(err);
	}
	{
		const char *a[] = { "-u", "messi", NULL };
		assert_int_equal(run_client(daemon_port(d), SEED_PASSWORD,
		    "send henderson through a pipe\nbogus\nwhoami\n", &out,
		    &err, a), 1);
		contains(out, "Message Sent");
		contains(out, "username: messi");
		contains(err, "BAD_COMMAND");
		free(out), free(err);
	}
}

/* ---------------------------------------------------------------- */
/* A server with push, faked                                         */
/* ---------------------------------------------------------------- */

#define FAKE_TOKEN	"0b0e6f0c-4a3e-4b1f-9c2d-6e7f8a9b0c1d"

/* fake_send - one frame to the client */
static void
fake_send(int fd, const char *json)
{
	char frame[1024];
	int n = snprintf(frame, sizeof(frame), "%s\r\n\r\n", json);

	if (write(fd, frame, (size_t)n) != n)
		_exit(100);
}

/* fake_answer - the reply (and pushes) for one request line */
static void
fake_answer(int fd, const char *line, int *inboxes)
{
	if (strncmp(line, "auth ", 5) == 0)
		fake_send(fd, "{\"status\":\"OK\",\"message\":\"Login berhasil\","
		    "\"tokenid\":\"" FAKE_TOKEN "\",\"username\":\"messi\"}");
	else if (strcmp(line, "watch") == 0) {
		fake_send(fd, "{\"status\":\"OK\",\"message\":\"Watching\"}");
		fake_send(fd, "{\"event\":\"message\",\"msg_from\":\"Jordan "
		    "Henderson\",\"msg\":\"pushed while waiting\",\"id\":1,"
		    "\"from\":\"henderson\",\"time\":\"2026-12-02T10:00:00Z\"}");
	} else if (strcmp(line, "whoami") == 0) {
		fake_send(fd, "{\"status\":\"OK\",\"username\":\"messi\"}");
		fake_send(fd, "{\"event\":\"message\",\"msg\":\"goal\\u001b[2J\",\"id\":2,"
		    "\"from\":\"lineker\",\"group\":\"football\",\"realm\":\"beta\","
		    "\"time\":\"2026-12-02T10:00:01Z\"}");
		fake_send(fd, "{\"event\":\"message\",\"msg\":\"p.txt\",\"id\":3,"
		    "\"from\":\"henderson\",\"file_id\":\"00000000000000aa\","
		    "\"file_name\":\"../p.txt\",\"file_size\":6,"
		    "\"file_content\":\"cHVzaGVk\"}");
	} else if (strcmp(line, "inbox") == 0) {
		(*inboxes)++;
		fake_send(fd, "{\"status\":\"OK\",\"messages\":{}}");
	} else if (strncmp(line, "info", 4) == 0 || strncmp(line, "list", 4) == 0)
		fake_send(fd, "{\"status\":\"OK\",\"message\":\"none\"}");
	else
		fake_send(fd, "{\"status\":\"ERROR\",\"code\":\"BAD_COMMAND\","
		    "\"message\":\"Maaf, command tidak benar\"}");
}

/*
 * fake_serve - one connection, until it closes; exits with the number of
 * inbox requests it saw (a client with push should make none).
 */
static void
fake_serve(int lfd)
{
	char buf[8192], *nl;
	size_t len = 0;
	int fd, inboxes = 0;
	ssize_t n;

	signal(SIGALRM, SIG_DFL);	/* not the harness's: it kills daemons */
	alarm(60);
	if ((fd = accept(lfd, NULL, NULL)) == -1)
		_exit(101);
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0) {
		len += (size_t)n;
		buf[len] = '\0';
		while ((nl = strchr(buf, '\n')) != NULL) {
			*nl = '\0';
			if (nl > buf && nl[-1] == '\r')
				nl[-1] = '\0';
			fake_answer(fd, buf, &inboxes);
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len + 1);
		}
	}
	_exit(inboxes > 100 ? 100 : inboxes);
}

/*
 * A server that pushes (watch): the client asks for push after login,
 * shows what is pushed (realm and group, a file saved), and never polls.
 */
static void
test_push_from_a_watching_server(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	const char *args[] = { "-u", "messi", "-i", "0.2", NULL };
	struct term *t;
	char *saved;
	int lfd, st;
	pid_t pid;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((lfd = socket(AF_INET, SOCK_STREAM, 0)) != -1);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &salen), 0);
	if ((pid = fork()) == 0)
		fake_serve(lfd);
	close(lfd);
	t = term_start_port(ntohs(sa.sin_port), args);
	term_expect(t, "pushed while waiting");
	term_expect(t, "messi> ");
	sleep_ms(1000);		/* five polling intervals */
	say(t, "whoami", "username: messi");
	term_expect(t, "lineker@beta");
	term_expect(t, "#football");
	term_expect(t, "goal?[2J");	/* no escape sequence from the server */
	assert_true(asprintf(&saved, "%s/Downloads/realmchat/p.txt", tmpdir) > 0);
	term_expect(t, saved);
	assert_int_equal(term_end(t), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);	/* no inbox polling */
	free(saved);
}

#define T(f) cmocka_unit_test_setup_teardown(f, it_setup, it_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_receive_while_typing),
		cmocka_unit_test(test_seed_commands),
		T(test_ten_mib_file),
		T(test_server_restart),
		T(test_scripted),
		cmocka_unit_test(test_push_from_a_watching_server),
	};
	const char *base = getenv("TMPDIR");
	char cmd[400];
	int r;

	snprintf(tmpdir, sizeof(tmpdir), "%s/realmchat-client.XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (getenv("IT_KEEP") == NULL && system(cmd) != 0)
		r = 1;
	return r;
}
