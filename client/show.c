/*
 * NAME
 *	show - print replies, messages and tables for a person to read
 * DESCRIPTION
 *	Replies are read tolerantly: any member may be missing or of another
 *	type than expected, and the classroom servers' shapes (entries as
 *	bare strings, "tokenId") are taken as they come.  Colours only go to
 *	a terminal.  Anything printed while the prompt is being edited goes
 *	through term_hold()/term_release(), which clear the prompt line and
 *	draw it again below, with what was typed, under the new text.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/realmchat.h"

#define C_TIME	"\033[2m"
#define C_FROM	"\033[1;36m"
#define C_GROUP	"\033[33m"
#define C_ERR	"\033[1;31m"
#define C_NOTE	"\033[35m"
#define C_HEAD	"\033[1m"
#define C_OFF	"\033[0m"

#define MAX_COLS	12	/* columns of a table */

/* col - a colour code, or nothing when not on a terminal */
static const char *
col(const struct rc *rc, const char *code)
{
	return rc->color ? code : "";
}

/* vshow - one line on stderr in colour code, after prefix */
static void
vshow(struct rc *rc, const char *code, const char *prefix, const char *fmt,
    va_list ap)
{
	term_hold(rc);
	fprintf(stderr, "%s%s", col(rc, code), prefix);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "%s\n", col(rc, C_OFF));
	term_release(rc);
}

/* show_note - a remark of the client's own, on stderr */
void
show_note(struct rc *rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vshow(rc, C_NOTE, "-- ", fmt, ap);
	va_end(ap);
}

/* show_error - something failed, on stderr */
void
show_error(struct rc *rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vshow(rc, C_ERR, "realmchat: ", fmt, ap);
	va_end(ap);
}

/* name_remember - a user, group or realm name, for tab completion */
void
name_remember(struct rc *rc, const char *name)
{
	if (name == NULL || *name == '\0' || strlen(name) > 64 ||
	    strchr(name, ' ') != NULL)
		return;
	for (int i = 0; i < rc->nnames; i++)
		if (strcmp(rc->names[i], name) == 0)
			return;
	if (rc->nnames < RC_NAMES && (rc->names[rc->nnames] = strdup(name)))
		rc->nnames++;
}

/* local_time - "HH:MM:SS" here for an ISO 8601 UTC time, else now */
static void
local_time(const char *iso, char out[16])
{
	struct tm tm = { 0 };
	time_t t = time(NULL);

	if (iso != NULL && strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm) != NULL)
		t = timegm(&tm);
	localtime_r(&t, &tm);
	strftime(out, 16, "%H:%M:%S", &tm);
}

/*
 * clean - control characters (ESC among them) as '?', in place: text from
 * the server never moves the cursor or recolours the terminal.
 */
static char *
clean(char *s)
{
	for (char *p = s; p != NULL && *p != '\0'; p++)
		if (((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t') ||
		    *p == 0x7f)
			*p = '?';
	return s;
}

/* clean_str - a cleaned copy of a string member, or of dflt; malloc'd */
static char *
clean_str(const cJSON *o, const char *key, const char *dflt)
{
	const char *v = reply_str(o, key);

	if (v == NULL && dflt == NULL)
		return NULL;
	return clean(strdup(v != NULL ? v : dflt));
}

/* value_text - a scalar as text, or compact JSON; malloc'd, cleaned */
static char *
value_text(const cJSON *v)
{
	char num[64];

	if (cJSON_IsString(v))
		return clean(strdup(v->valuestring));
	if (cJSON_IsNumber(v)) {
		snprintf(num, sizeof(num), "%.15g", v->valuedouble);
		return strdup(num);
	}
	if (cJSON_IsBool(v))
		return strdup(cJSON_IsTrue(v) ? "yes" : "no");
	if (cJSON_IsNull(v))
		return strdup("-");
	return clean(cJSON_PrintUnformatted(v));
}

/* entry_file - save the file an entry carries; describe it in out */
static void
entry_file(struct rc *rc, const cJSON *e, const char *name, char *out,
    size_t outlen)
{
	const char *body = reply_str(e, "file_content");
	const char *id = reply_str(e, "file_id");
	char path[4096];

	if (body != NULL && save_file(rc, name, body, path, sizeof(path)) == 0)
		snprintf(out, outlen, "file %s, saved as %s", name, path);
	else if (body != NULL)
		snprintf(out, outlen, "file %s (not saved)", name);
	else if (id != NULL)
		snprintf(out, outlen, "file %s (downloadfile %s)", name, id);
	else
		snprintf(out, outlen, "file %s", name);
}

/* entry_print - the line of one message, its parts cleaned */
static void
entry_print(struct rc *rc, const char *when, const char *from,
    const char *realm, const char *group, const char *text)
{
	term_hold(rc);
	printf("%s[%s]%s %s%s%s%s%s", col(rc, C_TIME), when, col(rc, C_OFF),
	    col(rc, C_FROM), from, realm ? "@" : "", realm ? realm : "",
	    col(rc, C_OFF));
	if (group != NULL)
		printf(" in %s#%s%s", col(rc, C_GROUP), group, col(rc, C_OFF));
	printf(": %s\n", text);
	fflush(stdout);
	term_release(rc);
}

/*
 * show_entry - one message: time, sender, realm and group, text; a file
 * it carries is saved.  key is the sender's name from the enclosing
 * object, if any.
 */
void
show_entry(struct rc *rc, const cJSON *e, const char *key, const char *realm)
{
	char when[16], file[4600], *from, *rlm, *group, *text, *fname;

	if (cJSON_IsString(e)) {
		text = clean(strdup(e->valuestring));
		entry_print(rc, "--:--:--", key ? key : "?", NULL, NULL, text);
		free(text);
		return;
	}
	if ((from = clean_str(e, "from", NULL)) == NULL)
		from = clean_str(e, "msg_from", key ? key : "?");
	rlm = clean_str(e, "realm", realm);
	group = clean_str(e, "group", NULL);
	if ((text = clean_str(e, "msg", NULL)) == NULL)
		text = clean_str(e, "message", "");
	name_remember(rc, from);
	name_remember(rc, group);
	if ((fname = clean_str(e, "file_name", NULL)) != NULL)
		entry_file(rc, e, fname, file, sizeof(file));
	local_time(reply_str(e, "time"), when);
	entry_print(rc, when, from, rlm, group, fname != NULL ? file : text);
	free(from);
	free(rlm);
	free(group);
	free(text);
	free(fname);
}

/* show_messages - every entry of "messages", by sender or as a list */
int
show_messages(struct rc *rc, const cJSON *msgs, const char *realm)
{
	const cJSON *s, *e;
	int n = 0;

	if (cJSON_IsArray(msgs)) {
		cJSON_ArrayForEach(e, msgs) {
			show_entry(rc, e, NULL, realm);
			n++;
		}
		return n;
	}
	cJSON_ArrayForEach(s, msgs) {
		if (!cJSON_IsArray(s)) {
			show_entry(rc, s, s->string, realm);
			n++;
			continue;
		}
		cJSON_ArrayForEach(e, s) {
			show_entry(rc, e, s->string, realm);
			n++;
		}
	}
	return n;
}

/* show_event - a message the server pushed */
void
show_event(struct rc *rc, const cJSON *ev, const char *raw)
{
	const char *kind = reply_str(ev, "event");

	if (rc->json) {
		term_hold(rc);
		printf("%s\n", raw);
		fflush(stdout);
		term_release(rc);
	} else if (kind != NULL && strcmp(kind, "message") == 0)
		show_entry(rc, ev, NULL, NULL);
	else
		show_note(rc, "server event: %s", raw);
}

static bool is_table(const cJSON *);

/* table_columns - the keys of the rows' objects, in order of appearance */
static int
table_columns(const cJSON *rows, const char *cols[MAX_COLS])
{
	const cJSON *r, *f;
	int n = 0, i;

	cJSON_ArrayForEach(r, rows) {
		cJSON_ArrayForEach(f, r) {
			for (i = 0; i < n && strcmp(cols[i], f->string); i++)
				;
			if (i == n && n < MAX_COLS && f->string != NULL)
				cols[n++] = f->string;
		}
	}
	return n;
}

/* table_remember - names in a table, for completion */
static void
table_remember(struct rc *rc, const char *key, const cJSON *row)
{
	if (key == NULL)
		return;
	name_remember(rc, reply_str(row, "username"));
	if (strcmp(key, "groups") == 0)
		name_remember(rc, reply_str(row, "name"));
	if (strcmp(key, "realms") == 0)
		name_remember(rc, reply_str(row, "id"));
}

/* names_learn - remember the names in every table of a reply */
void
names_learn(struct rc *rc, const cJSON *r)
{
	const cJSON *f, *row;

	cJSON_ArrayForEach(f, r)
		if (is_table(f))
			cJSON_ArrayForEach(row, f)
				table_remember(rc, f->string, row);
}

/* table_row - one row, each cell padded to its column's width */
static void
table_row(struct rc *rc, char *const cells[], const int width[], int n,
    bool head)
{
	for (int i = 0; i < n; i++)
		printf("%s%s%-*s%s", i ? "  " : "", head ? col(rc, C_HEAD) : "",
		    i == n - 1 ? 0 : width[i], cells[i], head ? col(rc, C_OFF) : "");
	printf("\n");
}

/* show_table - an array of objects as aligned columns */
void
show_table(struct rc *rc, const char *key, const cJSON *rows)
{
	const char *cols[MAX_COLS] = { NULL };
	int n = table_columns(rows, cols), width[MAX_COLS] = { 0 };
	char *cells[MAX_COLS] = { NULL };
	const cJSON *r;

	for (int i = 0; i < n; i++)
		width[i] = (int)strlen(cols[i]);
	cJSON_ArrayForEach(r, rows) {
		table_remember(rc, key, r);
		for (int i = 0; i < n; i++) {
			char *t = value_text(cJSON_GetObjectItemCaseSensitive(r, cols[i]));
			if (t != NULL && (int)strlen(t) > width[i])
				width[i] = (int)strlen(t);
			free(t);
		}
	}
	table_row(rc, (char *const *)cols, width, n, true);
	cJSON_ArrayForEach(r, rows) {
		for (int i = 0; i < n; i++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, cols[i]);
			cells[i] = v != NULL ? value_text(v) : strdup("");
			if (cells[i] == NULL)
				cells[i] = strdup("");
		}
		table_row(rc, cells, width, n, false);
		for (int i = 0; i < n; i++)
			free(cells[i]);
	}
}

/* is_table - an array whose members are all objects */
static bool
is_table(const cJSON *v)
{
	const cJSON *e;

	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
		return false;
	cJSON_ArrayForEach(e, v)
		if (!cJSON_IsObject(e))
			return false;
	return true;
}

/* scalar_list - "key: value, ..." of the reply's scalar members; malloc'd */
static char *
scalar_list(const cJSON *r)
{
	const cJSON *f;
	char *out = NULL, *t, *n;

	cJSON_ArrayForEach(f, r) {
		const char *k = f->string;
		if (k == NULL || !strcmp(k, "status") || !strcmp(k, "message") ||
		    cJSON_IsArray(f) || cJSON_IsObject(f) ||
		    (t = value_text(f)) == NULL)
			continue;
		if (asprintf(&n, "%s%s%s: %s", out ? out : "", out ? ", " : "",
		    k, t) == -1)
			n = NULL;
		free(t);
		free(out);
		out = n;
	}
	return out;
}

/* show_fields - the list and object members of an OK reply */
static void
show_fields(struct rc *rc, const cJSON *r)
{
	const cJSON *f;
	char *t;

	cJSON_ArrayForEach(f, r) {
		const char *k = f->string;
		if (k == NULL || (!cJSON_IsArray(f) && !cJSON_IsObject(f)))
			continue;
		if (!strcmp(k, "messages")) {
			if (show_messages(rc, f, reply_str(r, "realm")) == 0)
				printf("no messages\n");
		} else if (is_table(f)) {
			show_table(rc, k, f);
		} else if (cJSON_GetArraySize(f) == 0) {
			printf("%s: none\n", k);
		} else if ((t = cJSON_PrintUnformatted(f)) != NULL) {
			printf("%s: %s\n", k, t);
			free(t);
		}
	}
}

/* show_ok - the message with the plain members after it, then the rest */
static void
show_ok(struct rc *rc, const cJSON *r)
{
	char *msg = clean_str(r, "message", NULL), *plain = scalar_list(r);

	if (msg != NULL && plain != NULL)
		printf("%s (%s)\n", msg, plain);
	else if (msg != NULL || plain != NULL)
		printf("%s\n", msg != NULL ? msg : plain);
	free(plain);
	free(msg);
	show_fields(rc, r);
}

/*
 * show_reply - a reply to cmd: raw with --json, else an error line or the
 * message and the other members; messages are listed, files saved.
 */
void
show_reply(struct rc *rc, const char *cmd, const cJSON *r, const char *raw)
{
	char *msg = clean_str(r, "message", NULL), *code = clean_str(r, "code", NULL);

	term_hold(rc);
	if (rc->json) {
		printf("%s\n", raw != NULL ? raw : "");
	} else if (r == NULL) {
		char *t = clean(strdup(raw != NULL ? raw : ""));
		printf("%s\n", t != NULL ? t : "");
		free(t);
	} else if (!reply_ok(r)) {
		fflush(stdout);
		fprintf(stderr, "%serror: %s%s%s%s%s\n", col(rc, C_ERR),
		    msg != NULL ? msg : "request refused", code ? " (" : "",
		    code ? code : "", code ? ")" : "", col(rc, C_OFF));
	} else {
		show_ok(rc, r);
	}
	fflush(stdout);
	term_release(rc);
	free(msg);
	free(code);
}
