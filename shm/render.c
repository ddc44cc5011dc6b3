/*
 * NAME
 *	render - the JSON of what the state holds: an inbox or history entry,
 *	a file body, a link
 * DESCRIPTION
 *	Every process shows stored messages the same way: a worker in inbox
 *	and history replies and pushes, realmd in history a peer asks for
 *	and in the mail it forwards, the master in realmctl's view of the
 *	links.  Text comes out of the heap as it was stored (well-formed
 *	UTF-8, shm/inbox.c); a bounce notice is rendered from its fields.
 *	Callers hold the lock, or a lease on the message.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/filedata.h"
#include "lib/log.h"
#include "shm/deliver.h"

static cJSON *bounce_json(struct state *, const struct shm_msg *, cJSON *);

/* file_body_b64 - the base64 of a spooled body, malloc'd; NULL on error */
char *
file_body_b64(struct state *st, const struct shm_file *f)
{
	char path[PATH_MAX + 32], *b64 = NULL;
	unsigned char *body;
	int fd;

	spool_path(st, f->id, false, path, sizeof(path));
	if ((body = malloc(f->size ? f->size : 1)) == NULL)
		return NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1 &&
	    read_full(fd, body, f->size) == 0 &&
	    (b64 = malloc(b64_encoded_len(f->size) + 1)) != NULL)
		b64_encode(body, f->size, b64);
	else if (errno != ENOENT)
		log_err("%s: cannot read spooled file: %m", path);
	if (fd != -1)
		close(fd);
	free(body);
	return b64;
}

/*
 * message_json - one inbox or history entry.  File entries carry their
 * body (base64) only when content is true.
 */
cJSON *
message_json(struct state *st, const struct shm_msg *m, bool content)
{
	const struct shm_user *from = &st->users[m->from];
	cJSON *e = cJSON_CreateObject();
	char when[21];

	if (m->flags & MF_BOUNCE)
		return bounce_json(st, m, e);
	json_add_text(e, "msg_from", from->display, strlen(from->display));
	if (m->to != 0)
		json_add_text(e, "msg_to", st->users[m->to].display,
		    strlen(st->users[m->to].display));
	if (m->kind == MSG_FILE) {
		const struct shm_file *f = &st->files[m->file];
		char id[FILE_ID_LEN + 1], *b64;

		snprintf(id, sizeof(id), "%016llx", (unsigned long long)f->id);
		cJSON_AddStringToObject(e, "msg", f->name);
		cJSON_AddStringToObject(e, "file_id", id);
		cJSON_AddStringToObject(e, "file_name", f->name);
		json_add_uint(e, "file_size", f->size);
		if (content && (b64 = file_body_b64(st, f)) != NULL) {
			cJSON_AddStringToObject(e, "file_content", b64);
			free(b64);
		}
	} else
		json_add_text(e, "msg", heap_ptr(st, m->text), m->len);
	json_add_uint(e, "id", m->id);
	if (from->realm != 0) {		/* "user@realm": a user over a link */
		size_t len;
		const char *name = remote_user_name(from, &len);
		json_add_text(e, "from", name, len);
		cJSON_AddStringToObject(e, "realm",
		    name[len] == '@' ? name + len + 1 : "");
	} else
		cJSON_AddStringToObject(e, "from", from->name);
	iso_time(m->time, when);
	cJSON_AddStringToObject(e, "time", when);
	if (m->group != 0)
		cJSON_AddStringToObject(e, "group", st->groups[m->group].name);
	return e;
}

/* next_field - the NUL-ended field at *p, up to end at most; *p goes past it */
static const char *
next_field(const char **p, const char *end, size_t *len)
{
	const char *f = *p;

	*len = strnlen(f, (size_t)(end - f));
	*p = f + *len < end ? f + *len + 1 : end;
	return f;
}

/*
 * bounce_json - a notice that a peer realm refused one of our messages;
 * its text is "<realm>\0<code>\0<target>\0<why>" (bounce_enqueue)
 */
static cJSON *
bounce_json(struct state *st, const struct shm_msg *m, cJSON *e)
{
	const char *p = heap_ptr(st, m->text), *end = p + m->len;
	const char *realm, *code, *target, *why;
	size_t rlen, clen, tlen, wlen;
	char when[21], *text = NULL;

	realm = next_field(&p, end, &rlen);
	code = next_field(&p, end, &clen);
	target = next_field(&p, end, &tlen);
	why = next_field(&p, end, &wlen);
	cJSON_AddStringToObject(e, "msg_from", BOUNCE_FROM);
	json_add_text(e, "msg_to", st->users[m->to].display,
	    strlen(st->users[m->to].display));
	if (asprintf(&text, "Pesan ke %.*s di realm %.*s ditolak: %.*s",
	    (int)tlen, target, (int)rlen, realm, (int)wlen, why) >= 0) {
		json_add_text(e, "msg", text, strlen(text));
		free(text);
	}
	cJSON_AddBoolToObject(e, "bounce", true);
	json_add_text(e, "code", code, clen);
	json_add_text(e, "realm", realm, rlen);
	cJSON_AddNumberToObject(e, "ref", (double)m->ref);
	cJSON_AddNumberToObject(e, "id", (double)m->id);
	cJSON_AddStringToObject(e, "from", BOUNCE_FROM);
	iso_time(m->time, when);
	cJSON_AddStringToObject(e, "time", when);
	return e;
}

/* link_state_name - a link's state as listrealm shows it */
static const char *
link_state_name(uint32_t s)
{
	static const char *const names[] = {
		[LINK_DOWN] = "down", [LINK_CONNECTING] = "connecting",
		[LINK_AUTH] = "authenticating", [LINK_UP] = "up",
		[LINK_BACKOFF] = "backoff",
	};

	return s < ARRAY_LEN(names) ? names[s] : "down";
}

/* realm_json - one link as listrealm (and realmctl) show it */
cJSON *
realm_json(const struct shm_realm *r)
{
	cJSON *e = cJSON_CreateObject(), *names;
	const char *name[REALM_NAMES_MAX];
	int n = realm_names(r, name);

	cJSON_AddStringToObject(e, "id", r->name);
	cJSON_AddStringToObject(e, "peer", r->peer);
	names = cJSON_AddArrayToObject(e, "names");
	for (int k = 0; k < n; k++)
		cJSON_AddItemToArray(names, cJSON_CreateString(name[k]));
	cJSON_AddStringToObject(e, "host", r->host);
	cJSON_AddNumberToObject(e, "port", r->port);
	cJSON_AddBoolToObject(e, "dialer", (r->flags & RF_DIALER) != 0);
	cJSON_AddStringToObject(e, "state", link_state_name(r->link));
	cJSON_AddNumberToObject(e, "queued", r->out_count);
	cJSON_AddNumberToObject(e, "sent", (double)r->sent);
	cJSON_AddNumberToObject(e, "received", (double)r->received);
	return e;
}

