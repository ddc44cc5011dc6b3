/*
 * NAME
 *	command - what the user types, as protocol lines
 * DESCRIPTION
 *	The commands of the classroom command lists are taken word for word.
 *	Most are protocol commands already and go out as typed; the file
 *	commands name a file on this machine instead of carrying its
 *	content, so the client reads and encodes it and sends the form the
 *	server expects, "<command> <targets> <name> <base64>".  Anything the
 *	table does not know goes out raw, so every server command can be
 *	reached, and its reply is printed readably.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/realmchat.h"
#include "lib/filedata.h"
#include "lib/request.h"
#include "lib/util.h"

#define MAX_LOCAL_FILE	(256u << 20)	/* largest file read to send */

struct ccmd {
	const char	*name;
	int		 targets;	/* file commands: words before the path */
	int		(*run)(struct rc *, const struct ccmd *, const char *,
			    const struct request_line *);
};

static int run_file(struct rc *, const struct ccmd *, const char *,
    const struct request_line *);
static int run_login(struct rc *, const struct ccmd *, const char *,
    const struct request_line *);
static int run_logout(struct rc *, const struct ccmd *, const char *,
    const struct request_line *);
static int run_download(struct rc *, const struct ccmd *, const char *,
    const struct request_line *);
static int run_help(struct rc *, const struct ccmd *, const char *,
    const struct request_line *);
static int run_quit(struct rc *, const struct ccmd *, const char *,
    const struct request_line *);

static const struct ccmd commands[] = {
	{ "sendprivatefile", 1, run_file },
	{ "sendfile", 1, run_file },
	{ "sendgroupfile", 1, run_file },
	{ "sendprivatefilerealm", 2, run_file },
	{ "sendfilerealm", 2, run_file },
	{ "sendrealmfile", 2, run_file },
	{ "sendgroupfilerealm", 2, run_file },
	{ "sendgrouprealmfile", 2, run_file },
	{ "auth", 0, run_login },
	{ "register", 0, run_login },
	{ "logout", 0, run_logout },
	{ "downloadfile", 0, run_download },
	{ "getfile", 0, run_download },
	{ "help", 0, run_help },
	{ "quit", 0, run_quit },
	{ "exit", 0, run_quit },
};

/* Every command word, for completion and help: the client's and the server's. */
static const char *const all_names[] = {
	"auth", "register", "logout", "send", "sendprivate", "sendfile",
	"sendprivatefile", "inbox", "info", "login_info", "whoami",
	"addgroup", "joingroup", "leavegroup", "sendgroup", "sendgroupfile",
	"inboxgroup", "listgroups", "groupmembers", "group", "downloadfile",
	"addrealm", "listrealm", "ackrealm", "sendrealm", "sendprivaterealm",
	"sendfilerealm", "sendprivatefilerealm", "sendgrouprealm",
	"sendgroupfilerealm", "inboxrealm", "getrealminbox", "joingrouprealm",
	"inboxgrouprealm", "help", "quit", NULL
};

/* command_names - every command word, NULL-terminated */
const char *const *
command_names(void)
{
	return all_names;
}

/* cmd_done - show a reply; the command's status */
static int
cmd_done(struct rc *rc, const char *cmd, cJSON *r, char *raw)
{
	int st = reply_ok(r) ? CMD_OK : CMD_FAILED;

	show_reply(rc, cmd, r, raw);
	cJSON_Delete(r);
	free(raw);
	return st;
}

/* run_raw - send the line as it is and show the reply */
static int
run_raw(struct rc *rc, const char *line, size_t len)
{
	cJSON *r;
	char *raw;

	if (conn_request_raw(rc, line, len, &r, &raw) == -1)
		return rc->fd == -1 ? CMD_LOST : CMD_FAILED;
	return cmd_done(rc, line, r, raw);
}

/* local_path - the path as typed, with a leading ~/ meaning $HOME */
static char *
local_path(const char *p, size_t len)
{
	const char *home = getenv("HOME");
	char *out;

	if (len >= 2 && p[0] == '~' && p[1] == '/' && home != NULL) {
		if (asprintf(&out, "%s%.*s", home, (int)len - 1, p + 1) == -1)
			return NULL;
		return out;
	}
	return strndup(p, len);
}

/* read_local - the whole of a regular file; -1 (reported) if it cannot be */
static int
read_local(struct rc *rc, const char *path, unsigned char **data, size_t *len)
{
	struct stat st;
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		show_error(rc, "cannot read file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size > MAX_LOCAL_FILE) {
		show_error(rc, "cannot send %s: %s", path,
		    !S_ISREG(st.st_mode) ? "not a regular file" : "too large");
		close(fd);
		return -1;
	}
	*len = (size_t)st.st_size;
	if ((*data = malloc(*len + 1)) == NULL)
		r = -1;
	else
		r = read_full(fd, *data, *len);
	if (r == -1) {
		show_error(rc, "cannot read file %s: %s", path, strerror(errno));
		free(*data);
	}
	close(fd);
	return r;
}

/*
 * file_line - "<words before the path> <name> <base64>" for the file at
 * path; malloc'd, its length in *len.  The name is one word: blanks in
 * it become '_'.
 */
static char *
file_line(struct rc *rc, const char *head, size_t headlen, const char *path,
    size_t *len)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t blen = strlen(base), dlen, n;
	unsigned char *data;
	char *line;

	if (read_local(rc, path, &data, &dlen) == -1)
		return NULL;
	line = malloc(headlen + blen + b64_encoded_len(dlen) + 4);
	if (line != NULL) {
		memcpy(line, head, headlen);
		n = headlen;
		line[n++] = ' ';
		for (size_t i = 0; i < blen; i++)
			line[n++] = base[i] == ' ' || base[i] == '\t' ? '_' : base[i];
		line[n++] = ' ';
		n += b64_encode(data, dlen, line + n);
		*len = n;
	}
	free(data);
	return line;
}

/*
 * run_file - a file command with a local path: read, encode, send.  With
 * more words and no such file, the line is taken as the protocol form
 * (name and content already there) and sent raw.
 */
static int
run_file(struct rc *rc, const struct ccmd *c, const char *line,
    const struct request_line *rl)
{
	const char *p;
	size_t plen, len, head;
	struct stat st;
	char *path, *out;
	int st_r;

	if (rl->nwords < c->targets + 2)
		return run_raw(rc, line, strlen(line));
	plen = request_rest(rl, c->targets + 1, &p);
	if ((path = local_path(p, plen)) == NULL)
		return CMD_FAILED;
	if (stat(path, &st) == -1 && (rl->nwords > c->targets + 2 || rl->more)) {
		free(path);
		return run_raw(rc, line, strlen(line));
	}
	head = (size_t)(rl->w[c->targets].p + rl->w[c->targets].len - line);
	out = file_line(rc, line, head, path, &len);
	free(path);
	if (out == NULL)
		return CMD_FAILED;
	st_r = run_raw(rc, out, len);
	free(out);
	return st_r;
}

/* run_login - auth or register: keep the user, password and token */
static int
run_login(struct rc *rc, const struct ccmd *c, const char *line,
    const struct request_line *rl)
{
	char user[128], pass[256];
	cJSON *r;
	char *raw;

	if (rl->nwords < 3 || rl->w[1].len >= sizeof(user) ||
	    rl->w[2].len >= sizeof(pass))
		return run_raw(rc, line, strlen(line));
	snprintf(user, sizeof(user), "%.*s", (int)rl->w[1].len, rl->w[1].p);
	snprintf(pass, sizeof(pass), "%.*s", (int)rl->w[2].len, rl->w[2].p);
	rc->token[0] = '\0';	/* a new login: the old token goes */
	if (conn_request_raw(rc, line, strlen(line), &r, &raw) == -1)
		return rc->fd == -1 ? CMD_LOST : CMD_FAILED;
	conn_note_login(rc, user, pass, r);
	explicit_bzero(pass, sizeof(pass));
	if (reply_ok(r) && rc->interactive) {
		conn_watch(rc);
		command_learn(rc);
	}
	return cmd_done(rc, line, r, raw);
}

/* run_logout - end the session; nothing is kept for reconnects */
static int
run_logout(struct rc *rc, const struct ccmd *c, const char *line,
    const struct request_line *rl)
{
	int st = run_raw(rc, line, strlen(line));

	if (st == CMD_OK) {
		rc->token[0] = '\0';
		rc->watching = false;
		free(rc->password);
		rc->password = NULL;
	}
	return st;
}

/* run_download - fetch a file's body and save it */
static int
run_download(struct rc *rc, const struct ccmd *c, const char *line,
    const struct request_line *rl)
{
	const char *body, *name;
	char path[4096];
	cJSON *r;
	char *raw;
	int st;

	if (conn_request_raw(rc, line, strlen(line), &r, &raw) == -1)
		return rc->fd == -1 ? CMD_LOST : CMD_FAILED;
	body = reply_str(r, "message");
	if ((name = reply_str(r, "file_name")) == NULL)
		name = "file";
	if (!reply_ok(r) || body == NULL || rc->json)
		return cmd_done(rc, line, r, raw);
	st = save_file(rc, name, body, path, sizeof(path)) == 0 ? CMD_OK :
	    CMD_FAILED;
	if (st == CMD_OK)
		printf("file %s saved as %s\n", name, path);
	cJSON_Delete(r);
	free(raw);
	return st;
}

/* run_quit - leave the client */
static int
run_quit(struct rc *rc, const struct ccmd *c, const char *line,
    const struct request_line *rl)
{
	return CMD_QUIT;
}

/* run_help - the commands, as the classroom lists write them */
static int
run_help(struct rc *rc, const struct ccmd *c, const char *line,
    const struct request_line *rl)
{
	static const char *const text[] = {
		"auth <username> <password>",
		"register <username> <password> [<name>] [<country>]",
		"logout                        info, login_info, whoami",
		"send <user> <message>         sendprivate <user> <message>",
		"sendfile <user> <path>        sendprivatefile <user> <path>",
		"addgroup <group> [<password>] joingroup <group> [<password>]",
		"sendgroup <group|u1,u2> <message>",
		"sendgroupfile <group|u1,u2> <path>",
		"inbox                         inboxgroup <group>",
		"downloadfile <file_id>        listgroups",
		"addrealm <realm> <address> <port>            listrealm",
		"sendprivaterealm <realm> <user> <message>",
		"sendprivatefilerealm <realm> <user> <path>",
		"sendfilerealm <realm> <user> <path>",
		"sendgrouprealm <realm> <group|u1,u2> <message>",
		"sendgroupfilerealm <realm> <group|u1,u2> <path>",
		"inboxrealm <realm>            getrealminbox <realm>",
		"quit",
		"Paths are files on this machine. Received files are saved in",
		"the download directory. Any other line is sent to the server",
		"as it is.",
		NULL
	};

	for (int i = 0; text[i] != NULL; i++)
		printf("%s\n", text[i]);
	return CMD_OK;
}

/* command_run - run one line the user typed; a CMD_ status */
int
command_run(struct rc *rc, const char *line)
{
	struct request_line rl;

	while (*line == ' ' || *line == '\t')
		line++;
	request_split(line, strlen(line), &rl);
	if (rl.nwords == 0 || line[0] == '#')
		return CMD_OK;
	for (size_t i = 0; i < ARRAY_LEN(commands); i++)
		if (word_is(&rl.w[0], commands[i].name))
			return commands[i].run(rc, &commands[i], line, &rl);
	return run_raw(rc, rl.line, rl.len);
}

/* poll_one - one quiet inbox request; its messages shown */
static int
poll_one(struct rc *rc, const char *line, const char *realm, cJSON **keep)
{
	cJSON *r;

	if (conn_request(rc, line, strlen(line), &r) == -1)
		return -1;
	if (!reply_ok(r)) {
		cJSON_Delete(r);
		return -1;
	}
	show_messages(rc, cJSON_GetObjectItemCaseSensitive(r, "messages"),
	    realm);
	*keep = r;
	return 0;
}

/*
 * command_poll - without push: fetch waiting messages, and those of the
 * realms the inbox says have some.
 */
int
command_poll(struct rc *rc)
{
	const cJSON *pend, *p;
	char line[128];
	cJSON *r, *rr;
	bool more = true;

	for (int round = 0; more && round < 16; round++) {
		if (poll_one(rc, "inbox", NULL, &r) == -1)
			return -1;
		more = cJSON_IsTrue(cJSON_GetObjectItem(r, "more"));
		pend = cJSON_GetObjectItemCaseSensitive(r, "realm_pending");
		cJSON_ArrayForEach(p, pend) {
			if (p->string == NULL || strlen(p->string) > 64)
				continue;
			snprintf(line, sizeof(line), "inboxrealm %s", p->string);
			if (poll_one(rc, line, p->string, &rr) == 0)
				cJSON_Delete(rr);
		}
		cJSON_Delete(r);
	}
	return 0;
}

/* command_learn - fetch user, group and realm names for completion */
void
command_learn(struct rc *rc)
{
	static const char *const asks[] = { "info", "listgroups", "listrealm" };
	cJSON *r;

	for (size_t i = 0; i < ARRAY_LEN(asks) && rc->token[0] != '\0'; i++) {
		if (conn_request(rc, asks[i], strlen(asks[i]), &r) == -1)
			return;
		names_learn(rc, r);
		cJSON_Delete(r);
	}
}
