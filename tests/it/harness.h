/*
 * NAME
 *	harness - drive a real realmchatd from integration tests
 * SUMMARY
 *	struct daemon *d = daemon_start("inbox_quota = 3\n");
 *	struct client *c = client_connect(d);
 *	const char *tok = client_auth(c, "messi", "surabaya");
 *	cJSON *r = client_cmd(c, "send henderson %s", "hello");
 *	assert_reply_ok(r);
 *	daemon_stop(d);
 * DESCRIPTION
 *	Each daemon runs in its own temporary directory (config, seed users,
 *	state, log) on a free loopback port. Every wait is bounded: a daemon
 *	that hangs, crashes or answers garbage fails the test, never hangs it.
 *	A watchdog ends the whole program (killing the daemons it started) if
 *	it runs for longer than IT_WATCHDOG seconds (default 120).
 *
 *	Every reply read by client_reply() is checked to be strict JSON, pure
 *	ASCII, one object with "status" OK or ERROR (errors with "code" and
 *	"message"), framed by exactly "\r\n\r\n".
 *
 *	Environment: REALMCHATD (daemon binary, default bin/realmchatd of the
 *	repository), REALMCTL (default bin/realmctl), TMPDIR, IT_KEEP=1 (keep temp dirs and daemon.log),
 *	IT_WATCHDOG (seconds, default 120), IT_REPLY_TIMEOUT (seconds, default
 *	5), IT_START_TIMEOUT (seconds until the daemon accepts, default 5),
 *	IT_FILTER (run only the tests matching this cmocka pattern).
 *
 *	daemon_restart() starts the daemon again on the same directory, state
 *	and port (stopping it gracefully first if it still runs). The default
 *	config: listen on a free loopback port, workers = 2, password_cost =
 *	1, realm_name = itrealm, control = <dir>/control.sock, user = the
 *	account running the tests (so root stays root), seed users messi,
 *	henderson and lineker with password "surabaya"; extra lines replace
 *	defaults with the same key.
 */
#ifndef IT_HARNESS_H
#define IT_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdbool.h>
#include <sys/types.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

/* The password of every seeded user. */
#define SEED_PASSWORD "surabaya"
/* The realm name written into every test config. */
#define IT_REALM "itrealm"
/* Workers in the default test config. */
#define IT_WORKERS 2

struct daemon;
struct client;

/* Daemon life cycle. */
struct daemon *daemon_prepare(const char *extra_config_lines);
struct daemon *daemon_start(const char *extra_config_lines);
void daemon_launch(struct daemon *d);
int daemon_try_launch(struct daemon *d, int *wstatus);
void daemon_stop(struct daemon *d);
void daemon_kill9_tree(struct daemon *d);
void daemon_restart(struct daemon *d);
void daemon_destroy(struct daemon *d);
bool daemon_running(struct daemon *d);

/* Realms: a daemon with a realm name and secret, and sockets to play one. */
struct daemon *realm_start(const char *name, const char *secret,
    const char *extra);
void realm_wait_serving(const struct daemon *d, const char *name);
int loopback_listener(int *port, bool listening);

/* Daemon facts. */
pid_t daemon_pid(const struct daemon *d);
int daemon_port(const struct daemon *d);
const char *daemon_dir(const struct daemon *d);
const char *daemon_config_path(const struct daemon *d);
const char *realmchatd_path(void);
int daemon_children(struct daemon *d, pid_t *pids, int max);
int daemon_workers(struct daemon *d, pid_t *pids, int max);
pid_t daemon_realmd(struct daemon *d);
int daemon_wait_workers(struct daemon *d, int n, const pid_t *gone,
    int ngone, pid_t *pids, double timeout_s);
int daemon_check_config(const char *config_path, char **err_text);
void daemon_log_tail(const struct daemon *d, int lines);
char *daemon_log_text(const struct daemon *d);
bool daemon_wait_log(const struct daemon *d, const char *text,
    double timeout_s);

/*
 * realmctl: run with args (NULL-ended), stdout and stderr captured (the
 * caller frees them); the exit status, or -1 if it was killed or hung.
 * daemon_ctl() adds "-s <the daemon's control socket>" before the words.
 */
const char *realmctl_path(void);
const char *daemon_control_path(const struct daemon *d);
int realmctl_run(const char *const args[], char **out, char **err);
int daemon_ctl(struct daemon *d, char **out, char **err, ...)
    __attribute__((sentinel));
int daemon_wait_exit(struct daemon *d, double timeout_s);

/* Processes. */
char *proc_title(pid_t pid);
bool proc_alive(pid_t pid);
bool proc_wait_gone(pid_t pid, double timeout_s);

/* Files. */
void write_file(const char *path, const char *text);

/* Base64 of the tests' own, to build file contents and check replies. */
char *b64(const unsigned char *p, size_t len);		/* padded, malloc'd */
long unb64(const char *s, unsigned char *out);		/* -1 if malformed */

/* Standard cmocka fixtures: a daemon with the default config in *state. */
int it_setup(void **state);
int it_teardown(void **state);

/* Clients that assert. */
struct client *client_connect(struct daemon *d);
struct client *client_connect_from(struct daemon *d, const char *source);
void client_close(struct client *c);
void client_close_reset(struct client *c);
void client_write(struct client *c, const void *data, size_t len);
void client_send(struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *client_reply_raw(struct client *c, size_t *len);
cJSON *client_reply(struct client *c);
cJSON *client_cmd(struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *client_auth(struct client *c, const char *user, const char *pass);
struct client *client_login(struct daemon *d, const char *user);
void client_expect_silence(struct client *c, int ms);
void client_expect_eof(struct client *c, int ms);
int client_fd(const struct client *c);

/* Clients that report instead of asserting (for forked helpers). */
struct client *client_try_connect(int port);
int client_try_cmd(struct client *c, const char *line, cJSON **reply,
    int timeout_ms);

/*
 * Pushes: a watching connection gets objects with "event" between its
 * replies.  client_object reads the next object of either kind.
 */
cJSON *client_object(struct client *c);
cJSON *client_event(struct client *c);
int client_try_object(struct client *c, int timeout_ms, cJSON **obj);
int client_try_write(struct client *c, const char *line, int timeout_ms);

/* Reply checks; the macros report the caller's line. */
#define assert_reply_ok(r) reply_assert_ok((r), __FILE__, __LINE__)
#define assert_reply_error(r, code) \
	reply_assert_error((r), (code), __FILE__, __LINE__)
#define assert_reply_message(r, text) \
	reply_assert_message((r), (text), __FILE__, __LINE__)
#define json_string(obj, key) json_get_string((obj), (key), __FILE__, __LINE__)
void reply_assert_ok(const cJSON *r, const char *file, int line);
void reply_assert_error(const cJSON *r, const char *code, const char *file,
    int line);
void reply_assert_message(const cJSON *r, const char *text, const char *file,
    int line);
const char *json_get_string(const cJSON *obj, const char *key,
    const char *file, int line);

/* Inbox helpers. */
int inbox_count(const cJSON *reply);
bool inbox_more(const cJSON *reply);
const cJSON *inbox_from(const cJSON *reply, const char *sender);
cJSON *client_inbox_all(struct client *c, int max_rounds);

/* Text checks. */
bool is_uuid_v4(const char *s);
bool utf8_valid(const char *s, size_t len);
bool json_strict_valid(const char *s, size_t len);
bool iso8601_utc(const char *s, long *epoch);

/* Time. */
double now_s(void);
void sleep_ms(int ms);

/*
 * Failures found inside the harness are reported at the test line that
 * called it: these macros record that line first.
 */
void it_at(const char *file, int line);
#ifndef IT_HARNESS_INTERNAL
#define IT_AT it_at(__FILE__, __LINE__)
#define daemon_prepare(...)	(IT_AT, daemon_prepare(__VA_ARGS__))
#define daemon_start(...)	(IT_AT, daemon_start(__VA_ARGS__))
#define daemon_launch(...)	(IT_AT, daemon_launch(__VA_ARGS__))
#define daemon_try_launch(...)	(IT_AT, daemon_try_launch(__VA_ARGS__))
#define daemon_stop(...)	(IT_AT, daemon_stop(__VA_ARGS__))
#define daemon_restart(...)	(IT_AT, daemon_restart(__VA_ARGS__))
#define daemon_kill9_tree(...)	(IT_AT, daemon_kill9_tree(__VA_ARGS__))
#define daemon_ctl(...)	(IT_AT, daemon_ctl(__VA_ARGS__))
#define realmctl_run(...)	(IT_AT, realmctl_run(__VA_ARGS__))
#define client_connect(...)	(IT_AT, client_connect(__VA_ARGS__))
#define client_connect_from(...) (IT_AT, client_connect_from(__VA_ARGS__))
#define client_write(...)	(IT_AT, client_write(__VA_ARGS__))
#define client_send(...)	(IT_AT, client_send(__VA_ARGS__))
#define client_reply_raw(...)	(IT_AT, client_reply_raw(__VA_ARGS__))
#define client_reply(...)	(IT_AT, client_reply(__VA_ARGS__))
#define client_cmd(...)		(IT_AT, client_cmd(__VA_ARGS__))
#define client_auth(...)	(IT_AT, client_auth(__VA_ARGS__))
#define client_expect_silence(...) (IT_AT, client_expect_silence(__VA_ARGS__))
#define client_expect_eof(...)	(IT_AT, client_expect_eof(__VA_ARGS__))
#define client_inbox_all(...)	(IT_AT, client_inbox_all(__VA_ARGS__))
#define client_object(...)	(IT_AT, client_object(__VA_ARGS__))
#define client_event(...)	(IT_AT, client_event(__VA_ARGS__))
#define inbox_count(...)	(IT_AT, inbox_count(__VA_ARGS__))
#define write_file(...)		(IT_AT, write_file(__VA_ARGS__))
#endif

#endif
