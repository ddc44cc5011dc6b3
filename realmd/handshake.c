/*
 * NAME
 *	handshake - the realm handshake: hello, TLS, challenge, proof, welcome
 * DESCRIPTION
 *	The dialer's first line (hello) is plain text; TLS starts on the
 *	byte after it.  Inside TLS the acceptor proves the realm secret on
 *	this channel (challenge), the dialer checks that and proves it back
 *	(proof), and the acceptor stores the link and says welcome.  Each
 *	proof is bound to both nonces, both names and the channel's
 *	tls-exporter value.  These are link_fsm's actions: each returns the
 *	next event, LE_REFUSE or LE_CLOSE when the link cannot go on.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <bsd/string.h>

#include "lib/ascii.h"
#include "lib/log.h"
#include "realmd/peer.h"

#define LABEL_ACCEPT	"realmchat-link-2 accept"
#define LABEL_DIAL	"realmchat-link-2 dial"

static void
inst_hex(uint64_t v, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)v);
}

static bool
parse_inst(const char *hex, uint64_t *out)
{
	char *end;

	if (hex == NULL || strlen(hex) != 16)
		return false;
	*out = strtoull(hex, &end, 16);
	return *end == '\0';
}

/*
 * tls_take - n bytes read from the socket go to TLS; whatever it decrypts
 * lands in p->in.  When the handshake ends, the peer's certificate is
 * checked against what the operator asked for and the channel's binding
 * is taken: LE_TLS_UP.
 */
enum link_event
tls_take(struct peer *p, const char *data, size_t n)
{
	const char *why = "TLS: out of memory";
	int rc;

	if (tls_feed(p->ssl, data, n) == -1 ||
	    (rc = tls_step(p->ssl, &p->in, &why)) == -1)
		return link_closing(p, why);
	if (rc == 1 && (tls_check_peer(p->ssl, &why) == -1 ||
	    tls_binding(p->ssl, p->binding) == -1)) {
		log_limited(&refusal_log, LOG_WARNING, "realm link %s%s: %s",
		    p->peer_name[0] ? "with " : "", p->peer_name, why);
		return link_closing(p, why);
	}
	return rc == 1 ? LE_TLS_UP : LE_NONE;
}

/* tls_begin - TLS from here on; the handshake's first step */
static enum link_event
tls_begin(struct peer *p)
{
	enum link_event ev;

	if ((p->ssl = tls_new(p->dialer)) == NULL)
		return link_closing(p, "TLS: cannot start");
	ev = tls_take(p, NULL, 0);
	if (ev != LE_CLOSE && !p->batching)
		peer_flush(p);
	return ev;
}

/* hello_send - (LE_CONNECTED) the dialer's first line, then TLS */
enum link_event
hello_send(struct peer *p)
{
	char line[512], inst[17];
	cJSON *o = cJSON_CreateObject();
	char *text;

	link_nonce(p->nonce);
	inst_hex(rd.st->hdr->instance, inst);
	cJSON_AddNumberToObject(o, "v", LINK_VERSION);
	cJSON_AddStringToObject(o, "realm", rd.cf->realm_name);
	cJSON_AddStringToObject(o, "nonce", p->nonce);
	cJSON_AddStringToObject(o, "inst", inst);
	text = json_print_ascii(o);
	cJSON_Delete(o);
	if (text == NULL)
		return link_closing(p, "out of memory");
	snprintf(line, sizeof(line), "%s %s\n", LINK_COMMAND, text);
	cJSON_free(text);
	set_link(p->realm, LINK_AUTH);
	if (buf_append(&p->out, line, strlen(line)) == -1)
		return link_closing(p, "out of memory");
	return tls_begin(p);	/* its first record goes right after the line */
}

/* hello_take - (LE_HELLO) the acceptor reads the dialer's first line */
enum link_event
hello_take(struct peer *p)
{
	const char *why, *name, *nonce;
	enum link_event ev;
	struct buf rest;
	cJSON *hello;

	if (link_hello_parse(p->line, p->line_len, &hello, &why) == -1)
		return link_refusal(p, why);
	name = link_str(hello, "realm");
	nonce = link_str(hello, "nonce");
	if (!name_valid(name, strlen(name)) || strlen(nonce) != 2 * NONCE_LEN ||
	    !parse_inst(link_str(hello, "inst"), &p->peer_inst)) {
		cJSON_Delete(hello);
		return link_refusal(p, "bad realm handshake");
	}
	strlcpy(p->peer_name, name, sizeof(p->peer_name));
	strlcpy(p->peer_nonce, nonce, sizeof(p->peer_nonce));
	cJSON_Delete(hello);
	if (rd.cf->realm_secret[0] == '\0')
		return link_refusal(p, "this realm takes no links (no "
		    "realm_secret)");
	if (strcmp(p->peer_name, rd.cf->realm_name) == 0)
		return link_refusal(p, "a realm cannot link to itself");
	ev = tls_begin(p);
	if (ev != LE_NONE || p->phase == PH_CLOSED || buf_used(&p->in) == 0)
		return ev;
	/* what the dialer sent after its line is already TLS */
	rest = p->in;
	memset(&p->in, 0, sizeof(p->in));
	p->scanned = 0;
	ev = tls_take(p, buf_head(&rest), buf_used(&rest));
	buf_free(&rest);
	return ev;
}

/* challenge_send - (LE_TLS_UP) the acceptor proves the secret on this channel */
enum link_event
challenge_send(struct peer *p)
{
	char proof[PROOF_HEX + 1], inst[17];
	cJSON *o;

	link_nonce(p->nonce);
	link_proof(rd.cf->realm_secret, LABEL_ACCEPT, p->peer_nonce, p->nonce,
	    p->peer_name, rd.cf->realm_name, p->binding, proof);
	inst_hex(rd.st->hdr->instance, inst);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "t", "challenge");
	cJSON_AddNumberToObject(o, "v", LINK_VERSION);
	cJSON_AddStringToObject(o, "realm", rd.cf->realm_name);
	cJSON_AddStringToObject(o, "nonce", p->nonce);
	cJSON_AddStringToObject(o, "inst", inst);
	cJSON_AddStringToObject(o, "proof", proof);
	send_frame(p, o);
	return LE_NONE;
}

/* challenge_take - (LE_CHALLENGE) the dialer checks the proof, gives its own */
enum link_event
challenge_take(struct peer *p)
{
	const cJSON *j = p->frame->json;
	const char *name = link_str(j, "realm"), *nonce = link_str(j, "nonce");
	char proof[PROOF_HEX + 1];
	cJSON *o;

	if (p->frame->id != LINK_VERSION)
		return link_refusal(p, "unsupported link version");
	if (!name_valid(name, strlen(name)) || strlen(nonce) != 2 * NONCE_LEN ||
	    !parse_inst(link_str(j, "inst"), &p->peer_inst))
		return link_refusal(p, "bad challenge");
	strlcpy(p->peer_name, name, sizeof(p->peer_name));
	strlcpy(p->peer_nonce, nonce, sizeof(p->peer_nonce));
	if (!link_proof_ok(rd.cf->realm_secret, LABEL_ACCEPT, p->nonce,
	    p->peer_nonce, rd.cf->realm_name, p->peer_name, p->binding,
	    link_str(j, "proof")))
		return link_refusal(p, "the peer did not prove the realm secret");
	if (p->realm == 0 && names_known_peer(p))
		return link_closing(p, NULL);	/* unproven, it is nothing to the peer */
	link_proof(rd.cf->realm_secret, LABEL_DIAL, p->peer_nonce, p->nonce,
	    rd.cf->realm_name, p->peer_name, p->binding, proof);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "t", "proof");
	cJSON_AddStringToObject(o, "proof", proof);
	cJSON_AddStringToObject(o, "id", p->realm != 0 ?
	    rd.st->realms[p->realm].name : p->ask_id);	/* what we call it */
	send_frame(p, o);
	return LE_NONE;
}

/* check_instance - record the peer's instance; a new one starts afresh */
static int
check_instance(uint32_t realm, uint64_t inst)
{
	struct shm_realm *r = &rd.st->realms[realm];

	if (r->peer_inst == inst)
		return 0;
	if (r->peer_inst != 0)
		log_warn("realm %s has a new state; its message ids start over",
		    r->name);
	if (txn_log(rd.st, &r->peer_inst, sizeof(r->peer_inst)) == -1 ||
	    txn_log(rd.st, &r->recv_hwm, sizeof(r->recv_hwm)) == -1 ||
	    txn_log(rd.st, r->reject_id, sizeof(r->reject_id)) == -1)
		return -1;
	r->peer_inst = inst;
	r->recv_hwm = 0;
	memset(r->reject_id, 0, sizeof(r->reject_id));
	return 0;
}

/* link_up - p (PH_UP now) is link realm's connection; its outbox flows */
static void
link_up(struct peer *p, uint32_t realm)
{
	struct link_rt *l = &rd.links[realm];
	struct shm_realm *r = &rd.st->realms[realm];

	if (l->conn != NULL && l->conn != p) {
		struct peer *old = l->conn;
		old->realm = 0;		/* its close must not take the link down */
		l->conn = NULL;
		link_fail(old, "replaced by a new connection");
		waiters_fail_link(realm);
	}
	l->conn = p;
	l->created = r->created;
	l->backoff_ms = 0;
	p->realm = realm;
	p->sent_upto = 0;
	p->inflight = 0;
	set_link(realm, LINK_UP);
	log_notice("realm %s up (%s, %s)", r->name, r->peer,
	    p->dialer ? "we dialled" : "it dialled");
	pump(realm);
}

/* proof_store - the acceptor stores the dialer's link; its slot, or 0 with *why */
static uint32_t
proof_store(struct peer *p, const char **why)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[HOST_LEN + 1] = "?";
	uint32_t realm;

	if (getpeername(p->fd, (struct sockaddr *)&ss, &sl) == 0)
		getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), NULL,
		    0, NI_NUMERICHOST);
	*why = NULL;
	txn_begin(rd.st);
	realm = realm_find_peer_locked(rd.st, p->peer_name);
	if (realm == 0 && realm_insert(rd.st, p->peer_name, p->peer_name,
	    host, 0, 0, &realm) == -1)
		*why = errno == EEXIST ?
		    "a link of that name exists here for another realm" :
		    errno == ENOSPC ? "no room for another link here" :
		    "cannot store the link";
	if (*why == NULL && check_instance(realm, p->peer_inst) == -1)
		*why = "cannot store the link";
	if (*why != NULL) {
		txn_abort(rd.st);
		return 0;
	}
	txn_commit(rd.st);
	return realm;
}

/* proof_take - (LE_PROOF) the acceptor checks the dialer's proof */
enum link_event
proof_take(struct peer *p)
{
	const char *why;
	uint32_t realm;
	cJSON *o;

	if (!link_proof_ok(rd.cf->realm_secret, LABEL_DIAL, p->nonce,
	    p->peer_nonce, p->peer_name, rd.cf->realm_name, p->binding,
	    link_str(p->frame->json, "proof")))
		return link_refusal(p, "the peer did not prove the realm secret");
	if ((realm = proof_store(p, &why)) == 0)
		return link_refusal(p, why);
	names_peer_id(realm, link_str(p->frame->json, "id"));
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "t", "welcome");
	if (link_send(&p->text, o) == -1)	/* flushed by link_up */
		return link_closing(p, "out of memory");
	link_up(p, realm);
	return LE_NONE;
}

/* welcome_answer - the addrealm that made p, if any, hears it worked */
static void
welcome_answer(struct peer *p)
{
	cJSON *o;

	if (p->ask == NULL)
		return;
	o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "ok", true);
	cJSON_AddStringToObject(o, "message", "Connect realm berhasil");
	cJSON_AddStringToObject(o, "realm", p->ask_id);
	cJSON_AddStringToObject(o, "peer", p->peer_name);
	realmd_result(p->ask, p->ask_req, o);
	p->ask = NULL;
	log_notice("realm %s added (%s at %s:%u)", p->ask_id, p->peer_name,
	    p->host, p->port);
}

/* welcome_take - (LE_WELCOME) the dialer is in: a reconnect, or an addrealm */
enum link_event
welcome_take(struct peer *p)
{
	uint32_t realm = p->realm;
	const char *why = NULL;

	txn_begin(rd.st);
	if (realm == 0)
		why = names_new_link(p, &realm);
	else if (strcmp(rd.st->realms[realm].peer, p->peer_name) != 0) {
		log_warn("realm %s now answers as %s", rd.st->realms[realm].name,
		    p->peer_name);
		if (realm_set_peer(rd.st, realm, p->peer_name) == -1)
			why = errno == EEXIST ? "exists" : "full";
	}
	if (why == NULL && check_instance(realm, p->peer_inst) == -1)
		why = "full";
	if (why != NULL) {
		txn_abort(rd.st);
		if (p->ask != NULL)
			realmd_error(p->ask, p->ask_req, strcmp(why, "exists") == 0 ?
			    E_REALM_EXISTS : E_QUOTA, strcmp(why, "exists") == 0 ?
			    NULL : "No room for another realm link");
		p->ask = NULL;
		return link_closing(p, "not stored");
	}
	txn_commit(rd.st);
	welcome_answer(p);
	link_up(p, realm);
	return LE_NONE;
}
