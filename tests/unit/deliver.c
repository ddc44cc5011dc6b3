/*
 * NAME
 *	unit_deliver - the delivery layer (shm/deliver.c, shm/render.c), the
 *	logged FIFOs under it, and the names of the per-command counters
 * DESCRIPTION
 *	Each test opens a fresh small state file in its own mkdtemp()
 *	directory and delivers into it as a worker or realmd would, inside
 *	transactions, then reads the inboxes back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config.h"
#include "shm/deliver.h"
#include "worker/worker.h"

#define PW	"$y$j9T$notarealhash$0123456789abcdefghijklmnopqrstuvwxyzABCDEF"

struct fx {
	char		dir[64];
	struct config	cf;
	struct state	st;
	uint32_t	alice, bob, carol;
};

/* add_user - a local user named name, committed; its slot */
static uint32_t
add_user(struct state *st, const char *name)
{
	struct user_fields uf = { name, name, "Indonesia", PW };
	uint32_t u = 0;

	txn_begin(st);
	assert_int_equal(user_insert(st, &uf, &u), 0);
	txn_commit(st);
	return u;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[1024];

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/rc-unit-deliver.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	config_defaults(&f->cf);
	snprintf(f->cf.state_dir, sizeof(f->cf.state_dir), "%s", f->dir);
	f->cf.max_users = 16;
	f->cf.realm_users = 16;
	f->cf.max_sessions = 16;
	f->cf.max_messages = 64;
	f->cf.message_store = 64 << 10;
	f->cf.inbox_quota = 2;
	if (state_open(&f->st, &f->cf, err, sizeof(err)) == -1) {
		fprintf(stderr, "state_open: %s\n", err);
		return -1;
	}
	if (state_proc_claim(&f->st, PROC_MASTER) != 0)
		return -1;
	state_set_proc(&f->st, 0);
	f->alice = add_user(&f->st, "alice");
	f->bob = add_user(&f->st, "bob");
	f->carol = add_user(&f->st, "carol");
	*state = f;
	return 0;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	state_close(&f->st);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* word - a word over a C string */
static struct word
word(const char *s)
{
	struct word w = { s, strlen(s) };
	return w;
}

/* text_msg - a text message from user from */
static struct msg_new
text_msg(uint32_t from, const char *text)
{
	struct msg_new m = { .from = from, .text = text, .len = strlen(text),
	    .kind = MSG_TEXT, .time = 1000 };
	return m;
}

/* send_private - alice's text to the user named to, as cmd_send does */
static enum rc_code
send_private(struct fx *f, const char *to, const char *text,
    struct delivery *d)
{
	struct sender s = { &f->st, &f->cf, f->alice, false };
	struct msg_new m = text_msg(f->alice, text);
	struct word w = word(to);
	struct target t;
	enum rc_code why;

	memset(d, 0, sizeof(*d));
	txn_begin(&f->st);
	if ((why = target_user_locked(&s, &w, &t)) == E_COUNT)
		why = target_deliver(&s, &t, &m, d);
	if (why == E_COUNT)
		txn_commit(&f->st);
	else
		txn_abort(&f->st);
	return why;
}

/* inbox_texts - user u's waiting texts, oldest first, as "a|b|c" */
static const char *
inbox_texts(struct state *st, uint32_t u, char *buf, size_t size)
{
	size_t at = 0;

	buf[0] = '\0';
	for (uint32_t i = st->users[u].inbox_head; i != 0; i = st->msgs[i].next)
		at += (size_t)snprintf(buf + at, size - at, "%s%.*s",
		    at ? "|" : "", (int)st->msgs[i].len,
		    heap_ptr(st, st->msgs[i].text));
	return buf;
}

static void
test_command_names_agree(void **state)
{
	for (size_t i = 0; i < STAT_COMMANDS; i++) {
		const char *counted = counted_command_name(i);
		const char *table = command_name(i);

		if (counted == NULL || table == NULL) {
			assert_null(counted);
			assert_null(table);
			assert_int_equal(i, COUNTED_COMMANDS);
			return;
		}
		assert_string_equal(counted, table);
	}
	fail_msg("no end of the command names");
}

static void
test_private_target(void **state)
{
	struct fx *f = *state;
	struct sender s = { &f->st, &f->cf, f->alice, false };
	struct word w;
	struct target t;

	w = word("bob");
	assert_int_equal(target_user_locked(&s, &w, &t), E_COUNT);
	assert_int_equal(t.user, f->bob);
	assert_int_equal(t.group, 0);
	w = word("nobody");
	assert_int_equal(target_user_locked(&s, &w, &t), E_NO_USER);
	w = word("bob,carol");		/* a list is no private target */
	assert_int_equal(target_user_locked(&s, &w, &t), E_NO_USER);
	w = word("bob@far");
	assert_int_equal(target_user_locked(&s, &w, &t), E_NO_USER);
	w = word("");
	assert_int_equal(target_user_locked(&s, &w, &t), E_NO_USER);
}

static void
test_private_delivery_and_full_inbox(void **state)
{
	struct fx *f = *state;
	struct delivery d;
	char buf[256];

	assert_int_equal(send_private(f, "bob", "one", &d), E_COUNT);
	assert_int_equal(d.delivered, 1);
	assert_int_not_equal(d.id, 0);
	assert_null(d.full);
	assert_int_equal(send_private(f, "bob", "two", &d), E_COUNT);
	/* inbox_quota is 2: the third finds a full inbox, and stores nothing */
	assert_int_equal(send_private(f, "bob", "three", &d), E_QUOTA);
	assert_int_equal(d.delivered, 0);
	assert_non_null(d.full);
	assert_string_equal(cJSON_GetArrayItem(d.full, 0)->valuestring, "bob");
	cJSON_Delete(d.full);
	assert_string_equal(inbox_texts(&f->st, f->bob, buf, sizeof(buf)),
	    "one|two");
	assert_int_equal(f->st.users[f->bob].inbox_count, 2);
	assert_int_equal(send_private(f, "nobody", "x", &d), E_NO_USER);
	assert_int_equal(state_check(&f->st, buf, sizeof(buf)), 0);
}

static void
test_list_target_counts_and_notes(void **state)
{
	struct fx *f = *state;
	struct sender s = { &f->st, &f->cf, f->alice, false };
	struct msg_new m = text_msg(f->alice, "hi all");
	struct word w = word("bob,ghost,carol,bob");
	struct delivery d = { 0 };
	struct target t;
	char buf[256];

	txn_begin(&f->st);
	assert_int_equal(target_resolve_locked(&s, &w, &t), E_COUNT);
	assert_int_equal(t.user, 0);
	assert_int_equal(target_deliver(&s, &t, &m, &d), E_COUNT);
	txn_commit(&f->st);
	assert_int_equal(d.delivered, 2);	/* bob once, carol */
	assert_int_equal(cJSON_GetArraySize(d.unknown), 1);
	assert_string_equal(cJSON_GetArrayItem(d.unknown, 0)->valuestring,
	    "ghost");
	cJSON_Delete(d.unknown);
	assert_string_equal(inbox_texts(&f->st, f->bob, buf, sizeof(buf)),
	    "hi all");
	assert_string_equal(inbox_texts(&f->st, f->carol, buf, sizeof(buf)),
	    "hi all");
}

/* The logged FIFO: an aborted append leaves head, tail and count as they were. */
static void
test_fifo_append_rolls_back(void **state)
{
	struct fx *f = *state;
	struct shm_user *bob = &f->st.users[f->bob];
	struct msg_new m = text_msg(f->alice, "kept");
	uint32_t head, tail;
	uint64_t id;
	char buf[256];

	txn_begin(&f->st);
	m.to = f->bob;
	assert_int_equal(msg_enqueue(&f->st, &m, 10, &id), 0);
	txn_commit(&f->st);
	head = bob->inbox_head;
	tail = bob->inbox_tail;
	assert_int_equal(head, tail);
	txn_begin(&f->st);
	m.text = "gone";
	assert_int_equal(msg_enqueue(&f->st, &m, 10, &id), 0);
	assert_int_not_equal(bob->inbox_tail, tail);
	assert_int_equal(bob->inbox_count, 2);
	txn_abort(&f->st);
	assert_int_equal(bob->inbox_head, head);
	assert_int_equal(bob->inbox_tail, tail);
	assert_int_equal(bob->inbox_count, 1);
	assert_int_equal(f->st.msgs[tail].next, 0);
	assert_string_equal(inbox_texts(&f->st, f->bob, buf, sizeof(buf)),
	    "kept");
	assert_int_equal(state_check(&f->st, buf, sizeof(buf)), 0);
}

static void
test_message_json_renders_entry(void **state)
{
	struct fx *f = *state;
	struct delivery d;
	const struct shm_msg *m;
	char id[24];
	cJSON *e;

	assert_int_equal(send_private(f, "bob", "hello bob", &d), E_COUNT);
	m = &f->st.msgs[f->st.users[f->bob].inbox_head];
	e = message_json(&f->st, m, true);
	assert_non_null(e);
	assert_string_equal(cJSON_GetObjectItem(e, "msg")->valuestring,
	    "hello bob");
	assert_string_equal(cJSON_GetObjectItem(e, "from")->valuestring,
	    "alice");
	assert_string_equal(cJSON_GetObjectItem(e, "msg_from")->valuestring,
	    "alice");
	assert_string_equal(cJSON_GetObjectItem(e, "msg_to")->valuestring,
	    "bob");
	snprintf(id, sizeof(id), "%llu", (unsigned long long)d.id);
	assert_string_equal(cJSON_GetObjectItem(e, "id")->valuestring, id);
	assert_null(cJSON_GetObjectItem(e, "realm"));
	assert_null(cJSON_GetObjectItem(e, "group"));
	cJSON_Delete(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command_names_agree),
#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_private_target),
		T(test_private_delivery_and_full_inbox),
		T(test_list_target_counts_and_notes),
		T(test_fifo_append_rolls_back),
		T(test_message_json_renders_entry),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
