/*
 * NAME
 *	output - show a reply: aligned text by request type, or JSON (-j)
 * DESCRIPTION
 *	One printer per request type, in a table indexed by the type.  The
 *	printers read the reply with defaults for anything missing, so an
 *	older or newer daemon never makes realmctl fail after the fact.
 */
#include <stdio.h>
#include <string.h>

#include "realmctl/realmctl.h"

typedef void printer(const cJSON *);
static printer show_status, show_users, show_sessions, show_groups;
static printer show_realms, show_stats, show_kick, show_reload, show_stop;
static printer show_add_realm, show_del_realm;

static printer *const printers[CTL_COUNT] = {
	[CTL_STATUS] = show_status,
	[CTL_SHOW_USERS] = show_users,
	[CTL_SHOW_SESSIONS] = show_sessions,
	[CTL_SHOW_GROUPS] = show_groups,
	[CTL_SHOW_REALMS] = show_realms,
	[CTL_STATS] = show_stats,
	[CTL_KICK] = show_kick,
	[CTL_RELOAD] = show_reload,
	[CTL_STOP] = show_stop,
	[CTL_ADD_REALM] = show_add_realm,
	[CTL_DEL_REALM] = show_del_realm,
};

/* Tables of status whose use is counted in bytes. */
static const char *const byte_tables[] = { "message_store", "spool", "undo_log" };

static const char *
str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : "-";
}

static double
num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static bool
flag(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static const cJSON *
list(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* duration - 93784 as "1d 2h 3m 4s" */
static const char *
duration(double secs, char *buf, size_t len)
{
	unsigned long s = (unsigned long)secs;

	if (s >= 86400)
		snprintf(buf, len, "%lud %luh %lum %lus", s / 86400,
		    s / 3600 % 24, s / 60 % 60, s % 60);
	else if (s >= 3600)
		snprintf(buf, len, "%luh %lum %lus", s / 3600, s / 60 % 60,
		    s % 60);
	else if (s >= 60)
		snprintf(buf, len, "%lum %lus", s / 60, s % 60);
	else
		snprintf(buf, len, "%lus", s);
	return buf;
}

/* bytes - 1536 as "1.5 KiB" */
static const char *
bytes(double n, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (n >= 1024 && u < 4) {
		n /= 1024;
		u++;
	}
	snprintf(buf, len, u == 0 ? "%.0f %s" : "%.1f %s", n, unit[u]);
	return buf;
}

/* truncated - say so when a list holds only the first entries */
static void
truncated(const cJSON *r, const char *key)
{
	if (flag(r, "truncated"))
		printf("(showing %d of %.0f)\n", cJSON_GetArraySize(list(r, key)),
		    num(r, "total"));
}

static void
show_workers(const cJSON *r)
{
	const cJSON *w;

	printf("\n%-8s %-21s %11s %10s\n", "WORKER", "STARTED", "CONNECTIONS",
	    "REQUESTS");
	cJSON_ArrayForEach(w, list(r, "workers"))
		printf("%-8.0f %-21s %11.0f %10.0f%s\n", num(w, "pid"),
		    str(w, "started"), num(w, "connections"), num(w, "requests"),
		    flag(w, "retiring") ? "  (retiring)" : "");
}

static bool
in_bytes(const char *table)
{
	for (size_t i = 0; i < ARRAY_LEN(byte_tables); i++)
		if (strcmp(table, byte_tables[i]) == 0)
			return true;
	return false;
}

static void
show_tables(const cJSON *r)
{
	const cJSON *t;
	char used[32], cap[32];

	printf("\n%-14s %12s %12s %6s\n", "TABLE", "USED", "CAPACITY", "USE");
	cJSON_ArrayForEach(t, list(r, "tables")) {
		double u = num(t, "used"), c = num(t, "capacity");
		if (in_bytes(t->string)) {
			bytes(u, used, sizeof(used));
			bytes(c, cap, sizeof(cap));
		} else {
			snprintf(used, sizeof(used), "%.0f", u);
			snprintf(cap, sizeof(cap), "%.0f", c);
		}
		printf("%-14s %12s %12s %5.1f%%\n", t->string, used, cap,
		    c > 0 ? 100 * u / c : 0);
	}
}

static void
show_status(const cJSON *r)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(r, "realmd");
	char up[64];

	printf("realmchatd %s, realm %s, pid %.0f%s\n", str(r, "version"),
	    str(r, "realm"), num(r, "pid"), flag(r, "stopping") ?
	    ", stopping" : "");
	printf("%-13s%s (up %s)\n", "started", str(r, "started"),
	    duration(num(r, "uptime"), up, sizeof(up)));
	printf("%-13s%s\n", "listen", str(r, "listen"));
	printf("%-13s%s\n", "config", str(r, "config"));
	printf("%-13s%s\n", "state", str(r, "state_dir"));
	printf("%-13s%d\n", "workers", cJSON_GetArraySize(list(r, "workers")));
	if (cJSON_IsObject(d))
		printf("%-13spid %.0f, since %s\n", "realmd", num(d, "pid"),
		    str(d, "started"));
	else
		printf("%-13snot running\n", "realmd");
	printf("%-13s%.0f\n", "connections", num(r, "connections"));
	printf("%-13s%.0f\n", "sessions", num(r, "sessions"));
	show_workers(r);
	show_tables(r);
}

static void
show_users(const cJSON *r)
{
	const cJSON *u;

	printf("%-32s %-24s %-16s %8s %6s  %s\n", "USER", "NAME", "COUNTRY",
	    "SESSIONS", "INBOX", "CREATED");
	cJSON_ArrayForEach(u, list(r, "users"))
		printf("%-32s %-24s %-16s %8.0f %6.0f  %s\n", str(u, "user"),
		    str(u, "name"), str(u, "country"), num(u, "sessions"),
		    num(u, "inbox"), str(u, "created"));
	truncated(r, "users");
}

static void
show_sessions(const cJSON *r)
{
	const cJSON *s;
	char idle[64];

	printf("%-32s %-8s %-14s %-21s  %s\n", "USER", "TOKEN", "IDLE",
	    "CREATED", "LAST SEEN");
	cJSON_ArrayForEach(s, list(r, "sessions"))
		printf("%-32s %-8s %-14s %-21s  %s%s\n", str(s, "user"),
		    str(s, "token"), duration(num(s, "idle"), idle, sizeof(idle)),
		    str(s, "created"), str(s, "last_seen"),
		    flag(s, "expired") ? "  (expired)" : "");
	truncated(r, "sessions");
}

static void
show_groups(const cJSON *r)
{
	const cJSON *g;

	printf("%-32s %-32s %7s %7s %-8s  %s\n", "GROUP", "CREATOR", "MEMBERS",
	    "HISTORY", "PASSWORD", "CREATED");
	cJSON_ArrayForEach(g, list(r, "groups"))
		printf("%-32s %-32s %7.0f %7.0f %-8s  %s\n", str(g, "group"),
		    str(g, "creator"), num(g, "members"), num(g, "history"),
		    flag(g, "password") ? "yes" : "no", str(g, "created"));
	truncated(r, "groups");
}

/* print_names - the names of a link, comma-separated ("-" if none) */
static void
print_names(const cJSON *names)
{
	const cJSON *n;
	int k = 0;

	cJSON_ArrayForEach(n, names)
		if (cJSON_IsString(n))
			printf("%s%s", k++ ? "," : "", n->valuestring);
	printf("%s\n", k ? "" : "-");
}

static void
show_realms(const cJSON *r)
{
	const cJSON *l;

	printf("%-32s %-32s %-24s %5s %-6s %-14s %7s %9s %9s %s\n", "REALM",
	    "PEER", "HOST", "PORT", "DIALER", "STATE", "QUEUED", "SENT",
	    "RECEIVED", "NAMES");
	cJSON_ArrayForEach(l, list(r, "realms")) {
		printf("%-32s %-32s %-24s %5.0f %-6s %-14s %7.0f %9.0f %9.0f ",
		    str(l, "id"), str(l, "peer"), str(l, "host"),
		    num(l, "port"), flag(l, "dialer") ? "yes" : "no",
		    str(l, "state"), num(l, "queued"), num(l, "sent"),
		    num(l, "received"));
		print_names(list(l, "names"));
	}
	truncated(r, "realms");
}

/* show_counts - "NAME COUNT" lines of an object of counters */
static void
show_counts(const char *title, const cJSON *counts)
{
	const cJSON *c;

	printf("\n%-20s %12s\n", title, "COUNT");
	cJSON_ArrayForEach(c, counts)
		printf("%-20s %12.0f\n", c->string, cJSON_IsNumber(c) ?
		    c->valuedouble : 0);
}

static void
show_stats(const cJSON *r)
{
	printf("%-13s%s\n", "since", str(r, "since"));
	printf("%-13s%.0f open, %.0f accepted\n", "connections",
	    num(r, "connections"), num(r, "accepted"));
	printf("%-13s%.0f\n", "requests", num(r, "requests"));
	printf("%-13s%.0f in, %.0f out\n", "bytes", num(r, "bytes_in"),
	    num(r, "bytes_out"));
	printf("%-13s%.0f stored, %.0f delivered\n", "messages",
	    num(r, "stored"), num(r, "delivered"));
	show_counts("COMMAND", list(r, "commands"));
	show_counts("ERROR", list(r, "errors"));
}

static void
show_kick(const cJSON *r)
{
	printf("kicked %s: %.0f sessions ended\n", str(r, "user"),
	    num(r, "sessions"));
}

static void
show_add_realm(const cJSON *r)
{
	printf("added realm %s: linked to %s\n", str(r, "realm"),
	    str(r, "peer"));
}

static void
show_del_realm(const cJSON *r)
{
	printf("deleted realm %s: %.0f queued messages dropped, %.0f moved to "
	    "personal inboxes\n", str(r, "realm"), num(r, "dropped"),
	    num(r, "moved"));
}

static void
show_reload(const cJSON *r)
{
	const cJSON *k;

	printf("reloaded: %.0f workers\n", num(r, "workers"));
	cJSON_ArrayForEach(k, list(r, "restart_needed"))
		if (cJSON_IsString(k))
			printf("%s changed: it needs a restart; the old value "
			    "stays\n", k->valuestring);
	if (flag(r, "capacities_changed"))
		printf("capacities changed: they apply to a new state file "
		    "only\n");
}

static void
show_stop(const cJSON *r)
{
	printf("realmchatd stopped\n");
}

/* output_text - the reply to a request of type t, as aligned text */
void
output_text(enum ctl_type t, const cJSON *reply)
{
	printers[t](reply);
}

/* output_json - the reply, pretty, without its "status" */
void
output_json(const cJSON *reply)
{
	cJSON *copy = cJSON_Duplicate(reply, 1);
	char *text;

	cJSON_DeleteItemFromObjectCaseSensitive(copy, "status");
	if ((text = cJSON_Print(copy)) != NULL)
		printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(copy);
}
