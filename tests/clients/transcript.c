/*
 * NAME
 *	transcript - replay client transcripts against real daemons
 * SYNOPSIS
 *	TRANSCRIPTS=tests/clients build/tests/transcripts
 * DESCRIPTION
 *	Each file TRANSCRIPTS/NAME.txt (default tests/clients; several
 *	directories split by ':') is one test: the
 *	realms it names are started (tests/it/harness.c), its lines are
 *	replayed in order, and the daemons are removed.  Output is TAP, one
 *	line per file, so tests/run counts them.  The format is described
 *	in tests/clients/README; in short:
 *
 *	  # comment                     blank lines are skipped too
 *	  realm NAME [key = v; ...]     a realm (daemon) named NAME, before
 *	                                any command; none: "realm alpha"
 *	  conn CONN REALM               connection CONN talks to REALM
 *	                                (default: the first realm)
 *	  CONN> command line            send it (CRLF added), read the reply
 *	  > command line                the same on connection "c"
 *	  < {json}                      the reply holds this subset
 *	  <~ {json}                     resend the command until it does (10 s)
 *	  <! text                       the reply does not contain text
 *
 *	Every reply must be framed JSON in pure ASCII.  ${var} is replaced
 *	in every line; "$var" as a whole string in a < line captures the
 *	value found there ("$_" matches anything).  ${REALM.port} and
 *	${REALM.name} are set for each realm.  In command lines \xNN is a
 *	byte and \\ a backslash.
 */
#include <ctype.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define MAX_REALMS	4
#define MAX_CONNS	16
#define MAX_VARS	64
#define RETRY_S		10.0	/* <~ keeps resending for this long */
#define SECRET		"transcript-secret"

struct realm {
	char		 name[33];
	char		*config;	/* extra config lines */
	struct daemon	*d;
};

struct conn {
	char		 name[33];
	int		 realm;		/* index into realms */
	struct client	*c;		/* connected on first use */
};

struct var {
	char		 name[64];
	char		*value;
};

struct run {
	const char	*path;
	int		 lineno;
	bool		 started;	/* realms are running */
	struct realm	 realms[MAX_REALMS];
	int		 nrealms;
	struct conn	 conns[MAX_CONNS];
	int		 nconns;
	struct var	 vars[MAX_VARS];
	int		 nvars;
	int		 last_conn;	/* connection of the last command, or -1 */
	char		*last_line;	/* that command, as sent */
	char		*last_raw;	/* its reply's text */
	cJSON		*last;		/* its reply */
};

#define tfail(r, ...) do {						\
	print_error("# %s:%d: ", (r)->path, (r)->lineno);		\
	fail_msg(__VA_ARGS__);						\
} while (0)

/* var_find - the variable called name (len bytes), or NULL */
static struct var *
var_find(struct run *r, const char *name, size_t len)
{
	for (int i = 0; i < r->nvars; i++)
		if (strlen(r->vars[i].name) == len &&
		    memcmp(r->vars[i].name, name, len) == 0)
			return &r->vars[i];
	return NULL;
}

/* var_set - bind name to a copy of value */
static void
var_set(struct run *r, const char *name, const char *value)
{
	struct var *v = var_find(r, name, strlen(name));

	if (v == NULL) {
		if (r->nvars == MAX_VARS || strlen(name) >= sizeof(v->name))
			tfail(r, "too many variables, or name too long: %s", name);
		v = &r->vars[r->nvars++];
		snprintf(v->name, sizeof(v->name), "%s", name);
	}
	free(v->value);
	v->value = strdup(value);
}

/* expand - s with every ${var} replaced; malloc'd */
static char *
expand(struct run *r, const char *s)
{
	size_t cap = strlen(s) + 1, n = 0;
	char *out = malloc(cap);

	while (*s != '\0') {
		const char *end;
		const char *val = NULL;

		if (s[0] == '$' && s[1] == '{' && (end = strchr(s, '}')) != NULL) {
			struct var *v = var_find(r, s + 2, (size_t)(end - s - 2));
			if (v == NULL)
				tfail(r, "unknown variable %.*s", (int)(end - s + 1), s);
			val = v->value;
			s = end + 1;
		}
		size_t add = val != NULL ? strlen(val) : 1;
		if (n + add + 1 > cap) {
			cap = 2 * (n + add + 1);
			out = realloc(out, cap);
		}
		if (val != NULL)
			memcpy(out + n, val, add);
		else
			out[n] = *s++;
		n += add;
	}
	out[n] = '\0';
	return out;
}

/* unescape - \xNN and \\ in a command line, in place; its new length */
static size_t
unescape(struct run *r, char *s)
{
	size_t o = 0;

	for (size_t i = 0; s[i] != '\0'; i++) {
		if (s[i] != '\\') {
			s[o++] = s[i];
		} else if (s[i + 1] == '\\') {
			s[o++] = '\\';
			i++;
		} else if (s[i + 1] == 'x' && isxdigit((unsigned char)s[i + 2]) &&
		    isxdigit((unsigned char)s[i + 3])) {
			char hex[3] = { s[i + 2], s[i + 3], '\0' };
			s[o++] = (char)strtol(hex, NULL, 16);
			i += 3;
		} else
			tfail(r, "bad escape in command line: %s", s + i);
	}
	s[o] = '\0';
	return o;
}

/* capture_name - the NAME of a "$NAME" capture string, or NULL */
static const char *
capture_name(const cJSON *want)
{
	const char *s = cJSON_GetStringValue(want);

	if (s == NULL || s[0] != '$' || s[1] == '\0')
		return NULL;
	for (const char *p = s + 1; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.')
			return NULL;
	return s + 1;
}

/* capture - bind name to got: a string as it is, anything else as JSON */
static void
capture(struct run *r, const char *name, const cJSON *got)
{
	char *text;

	if (strcmp(name, "_") == 0)
		return;
	if (cJSON_IsString(got)) {
		var_set(r, name, got->valuestring);
		return;
	}
	text = cJSON_PrintUnformatted(got);
	var_set(r, name, text);
	free(text);
}

/*
 * subset - does got hold want?  Objects: every key of want, matching;
 * arrays: the same length, element by element; anything else equal.
 */
static bool
subset(struct run *r, const cJSON *want, const cJSON *got, bool bind)
{
	const char *cap = capture_name(want);
	const cJSON *w, *g;

	if (cap != NULL) {
		if (got != NULL && bind)
			capture(r, cap, got);
		return got != NULL;
	}
	if (got == NULL)
		return false;
	if (cJSON_IsObject(want)) {
		if (!cJSON_IsObject(got))
			return false;
		cJSON_ArrayForEach(w, want)
			if (!subset(r, w, cJSON_GetObjectItemCaseSensitive(got,
			    w->string), bind))
				return false;
		return true;
	}
	if (cJSON_IsArray(want)) {
		if (!cJSON_IsArray(got) ||
		    cJSON_GetArraySize(want) != cJSON_GetArraySize(got))
			return false;
		g = got->child;
		cJSON_ArrayForEach(w, want) {
			if (!subset(r, w, g, bind))
				return false;
			g = g->next;
		}
		return true;
	}
	return cJSON_Compare(want, got, true);
}

/* realm_index - the realm called name, or -1 */
static int
realm_index(struct run *r, const char *name)
{
	for (int i = 0; i < r->nrealms; i++)
		if (strcmp(r->realms[i].name, name) == 0)
			return i;
	return -1;
}

/* add_realm - "realm NAME [key = v; ...]" */
static void
add_realm(struct run *r, char *rest)
{
	struct realm *rm;
	char name[33], *extra;
	int n = 0;

	if (r->started || r->nrealms == MAX_REALMS ||
	    sscanf(rest, "%32s%n", name, &n) != 1 || realm_index(r, name) != -1)
		tfail(r, "realm lines come first, at most %d, each named once",
		    MAX_REALMS);
	rm = &r->realms[r->nrealms++];
	snprintf(rm->name, sizeof(rm->name), "%s", name);
	extra = strdup(rest + n + strspn(rest + n, " \t"));
	for (char *p = extra; *p != '\0'; p++)
		if (*p == ';')
			*p = '\n';
	rm->config = extra;
}

/* start_realms - start every realm (alpha if none was named) */
static void
start_realms(struct run *r)
{
	char cfg[2048], port[16], var[64];

	if (r->nrealms == 0)
		add_realm(r, (char[]){ "alpha" });
	r->started = true;
	for (int i = 0; i < r->nrealms; i++) {
		struct realm *rm = &r->realms[i];

		snprintf(cfg, sizeof(cfg), "realm_name = %s\nrealm_secret = %s\n"
		    "realm_backoff_max = 1\nrealm_wait = 2\n%s\n", rm->name,
		    SECRET, rm->config);
		rm->d = daemon_start(cfg);
		snprintf(port, sizeof(port), "%d", daemon_port(rm->d));
		snprintf(var, sizeof(var), "%s.port", rm->name);
		var_set(r, var, port);
		snprintf(var, sizeof(var), "%s.name", rm->name);
		var_set(r, var, rm->name);
	}
}

/* conn_index - the connection called name (made if new), or fails */
static int
conn_index(struct run *r, const char *name, const char *realm)
{
	int i, rl = realm != NULL ? realm_index(r, realm) : 0;

	for (i = 0; i < r->nconns; i++)
		if (strcmp(r->conns[i].name, name) == 0) {
			if (realm != NULL)
				tfail(r, "connection %s declared twice", name);
			return i;
		}
	if (r->nconns == MAX_CONNS || strlen(name) >= sizeof(r->conns[0].name) ||
	    rl == -1)
		tfail(r, "too many connections, or unknown realm %s",
		    realm ? realm : "");
	snprintf(r->conns[i].name, sizeof(r->conns[i].name), "%s", name);
	r->conns[i].realm = rl;
	r->nconns++;
	return i;
}

/* all_ascii - no byte of s is 0x80 or above */
static bool
all_ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

/* exchange - send line on connection ci and read its reply */
static void
exchange(struct run *r, int ci, const char *line, size_t len)
{
	struct conn *cn = &r->conns[ci];
	char *wire = malloc(len + 2);
	size_t rawlen;

	if (cn->c == NULL)
		cn->c = client_connect(r->realms[cn->realm].d);
	memcpy(wire, line, len);
	memcpy(wire + len, "\r\n", 2);
	client_write(cn->c, wire, len + 2);
	free(wire);
	free(r->last_raw);
	cJSON_Delete(r->last);
	r->last_raw = NULL;		/* a failure below jumps to teardown */
	r->last = NULL;
	r->last_raw = client_reply_raw(cn->c, &rawlen);
	if (!all_ascii(r->last_raw, rawlen))
		tfail(r, "reply is not pure ASCII: %s", r->last_raw);
	if ((r->last = cJSON_ParseWithLength(r->last_raw, rawlen)) == NULL)
		tfail(r, "reply is not JSON: %s", r->last_raw);
	r->last_conn = ci;
}

/* do_command - "CONN> line" or "> line" (connection "c") */
static void
do_command(struct run *r, char *text, const char *conn)
{
	char *line = expand(r, text);
	size_t len = unescape(r, line);

	if (!r->started)
		start_realms(r);
	free(r->last_line);
	r->last_line = malloc(len + 1);
	memcpy(r->last_line, line, len + 1);
	exchange(r, conn_index(r, conn, NULL), line, len);
	free(line);
}

/* do_expect - "< {json}", or "<~ {json}" retried until it holds */
static void
do_expect(struct run *r, char *text, bool retry)
{
	char *json = expand(r, text);
	cJSON *want = cJSON_Parse(json);
	double end = now_s() + RETRY_S;

	if (want == NULL || !cJSON_IsObject(want))
		tfail(r, "expected reply is not a JSON object: %s", json);
	if (r->last == NULL)
		tfail(r, "an expected reply before any command");
	while (!subset(r, want, r->last, false)) {
		if (!retry || now_s() > end)
			tfail(r, "reply does not hold %s\n# reply: %s\n# request: %s",
			    json, r->last_raw, r->last_line);
		sleep_ms(100);
		exchange(r, r->last_conn, r->last_line, strlen(r->last_line));
	}
	subset(r, want, r->last, true);		/* now bind the captures */
	cJSON_Delete(want);
	free(json);
}

/* do_absent - "<! text": the reply must not contain text */
static void
do_absent(struct run *r, char *text)
{
	char *s = expand(r, text);

	if (r->last_raw == NULL || strstr(r->last_raw, s) != NULL)
		tfail(r, "reply contains \"%s\": %s", s,
		    r->last_raw ? r->last_raw : "(no reply)");
	free(s);
}

/* do_line - one line of a transcript */
static void
do_line(struct run *r, char *line)
{
	char *gt, word[33];
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (line[strspn(line, " \t")] == '\0' || line[0] == '#')
		return;
	if (strncmp(line, "realm ", 6) == 0)
		add_realm(r, line + 6);
	else if (strncmp(line, "conn ", 5) == 0) {
		char name[33], realm[33];
		if (r->nrealms == 0)
			add_realm(r, (char[]){ "alpha" });
		if (sscanf(line + 5, "%32s %32s", name, realm) != 2)
			tfail(r, "usage: conn NAME REALM");
		conn_index(r, name, realm);
	} else if (strncmp(line, "<~", 2) == 0)
		do_expect(r, line + 2, true);
	else if (strncmp(line, "<!", 2) == 0)
		do_absent(r, line + 2 + strspn(line + 2, " "));
	else if (line[0] == '<')
		do_expect(r, line + 1, false);
	else if (line[0] == '>')
		do_command(r, line + 1 + (line[1] == ' '), "c");
	else if ((gt = strstr(line, "> ")) != NULL && gt - line < 33 &&
	    strcspn(line, " \t") == (size_t)(gt - line) + 1) {
		memcpy(word, line, (size_t)(gt - line));
		word[gt - line] = '\0';
		do_command(r, gt + 2, word);
	} else
		tfail(r, "not a transcript line: %s", line);
}

/* run_setup - a fresh run for the file in *state */
static int
run_setup(void **state)
{
	struct run *r = calloc(1, sizeof(*r));

	r->path = *state;
	r->last_conn = -1;
	*state = r;
	return 0;
}

/* run_teardown - stop and remove the realms, free the run */
static int
run_teardown(void **state)
{
	struct run *r = *state;

	for (int i = 0; i < r->nrealms; i++) {
		if (r->realms[i].d != NULL)
			daemon_destroy(r->realms[i].d);
		free(r->realms[i].config);
	}
	for (int i = 0; i < r->nvars; i++)
		free(r->vars[i].value);
	free(r->last_line);
	free(r->last_raw);
	cJSON_Delete(r->last);
	free(r);
	return 0;
}

/* test_transcript - replay one file */
static void
test_transcript(void **state)
{
	struct run *r = *state;
	FILE *fp = fopen(r->path, "r");
	char *line = NULL;
	size_t cap = 0;

	if (fp == NULL)
		tfail(r, "cannot open the transcript");
	while (getline(&line, &cap, fp) != -1) {
		r->lineno++;
		do_line(r, line);
	}
	free(line);
	fclose(fp);
	if (r->last == NULL)
		fail_msg("%s: no command in the transcript", r->path);
}

int
main(void)
{
	const char *dir = getenv("TRANSCRIPTS") ? getenv("TRANSCRIPTS") :
	    "tests/clients";
	char pattern[4096];
	struct CMUnitTest *tests;
	glob_t g = { 0 };
	int rc;

	/* TRANSCRIPTS may name several directories, split by ':' */
	for (int flags = 0; *dir != '\0'; flags = GLOB_APPEND) {
		size_t n = strcspn(dir, ":");
		snprintf(pattern, sizeof(pattern), "%.*s/*.txt", (int)n, dir);
		if (glob(pattern, flags, NULL, &g) == GLOB_NOSPACE) {
			fprintf(stderr, "out of memory\n");
			return 1;
		}
		dir += n + (dir[n] == ':');
	}
	if (g.gl_pathc == 0) {
		fprintf(stderr, "no transcripts in %s\n", getenv("TRANSCRIPTS") ?
		    getenv("TRANSCRIPTS") : "tests/clients");
		return 1;
	}
	alarm((unsigned)(30 * g.gl_pathc + 60));	/* the harness watchdog */
	tests = calloc(g.gl_pathc, sizeof(*tests));
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *base = strrchr(g.gl_pathv[i], '/');
		tests[i].name = base ? base + 1 : g.gl_pathv[i];
		tests[i].test_func = test_transcript;
		tests[i].setup_func = run_setup;
		tests[i].teardown_func = run_teardown;
		tests[i].initial_state = g.gl_pathv[i];
	}
	rc = _cmocka_run_group_tests("transcripts", tests, g.gl_pathc, NULL,
	    NULL);
	free(tests);
	globfree(&g);
	return rc;
}
