/*
 * NAME
 *	it_disk - a disk too small for the state file, and a spool reserve
 * DESCRIPTION
 *	The state file is mapped: a page the disk cannot back would kill its
 *	process with SIGBUS.  So its blocks are reserved when it is made, and
 *	a disk that cannot hold it is refused at start, with a message.
 *	Uploads stop, with QUOTA, before the spool's disk keeps less than
 *	spool_reserve free.  (A real full disk is not needed: a state file
 *	larger than any test machine's disk, and a reserve larger than its
 *	free space, stand in for it.)
 */
#include "harness.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

/* spool_entries - files in the daemon's spool directory */
static int spool_entries(struct daemon *d)
{
	char path[4096];
	struct dirent *de;
	DIR *dp;
	int n = 0;

	snprintf(path, sizeof path, "%s/state/spool", daemon_dir(d));
	if ((dp = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(dp)) != NULL)
		n += de->d_name[0] != '.';
	closedir(dp);
	return n;
}

/*
 * A state file of a TiB of message text cannot be held: the daemon says
 * so and exits, instead of starting on a sparse file it would die on.
 */
static void test_state_file_too_large_for_disk(void **state)
{
	struct daemon *d;
	struct statvfs sv;
	char *log;
	int st;

	(void)state;
	d = daemon_prepare("message_store = 1024G\n");
	assert_int_equal(statvfs(daemon_dir(d), &sv), 0);
	if ((unsigned long long)sv.f_bavail * sv.f_frsize >= (1ULL << 40)) {
		daemon_destroy(d);
		print_message("# SKIP: the test directory's disk has a TiB free\n");
		skip();
	}
	assert_int_equal(daemon_try_launch(d, &st), -1);
	assert_true(WIFEXITED(st));
	assert_int_not_equal(WEXITSTATUS(st), 0);
	log = daemon_log_text(d);
	if (strstr(log, "the disk cannot hold the state file") == NULL)
		fail_msg("no clear refusal in the log: %s", log);
	print_message("# a 1 TiB state file: refused at start\n");
	free(log);
	daemon_destroy(d);
}

/* A new state file takes its blocks at once: it is not sparse. */
static void test_state_file_not_sparse(void **state)
{
	char path[4096];
	struct stat sb;

	snprintf(path, sizeof path, "%s/state/realmchat.state",
	    daemon_dir(*state));
	assert_int_equal(stat(path, &sb), 0);
	print_message("# state file: %lld bytes long, %lld bytes of blocks\n",
	    (long long)sb.st_size, (long long)sb.st_blocks * 512);
	assert_true((long long)sb.st_blocks * 512 >= (long long)sb.st_size);
}

static int setup_reserve(void **state)
{
	/* more than any test machine has free: every upload would cross it */
	*state = daemon_start("spool_reserve = 1048576G\n");
	return 0;
}

/*
 * With less than spool_reserve free, an upload is told QUOTA and nothing
 * is left in the spool; text messages still go.
 */
static void test_upload_refused_past_spool_reserve(void **state)
{
	struct client *c = client_connect(*state);
	char *enc = b64((const unsigned char *)"a file body", 11);
	cJSON *r;

	client_auth(c, "messi", SEED_PASSWORD);
	r = client_cmd(c, "sendfile henderson notes.txt %s", enc);
	assert_reply_error(r, "QUOTA");
	assert_non_null(strstr(json_string(r, "message"), "disk"));
	cJSON_Delete(r);
	r = client_cmd(c, "sendgroupfile henderson,lineker notes.txt %s", enc);
	assert_reply_error(r, "QUOTA");
	cJSON_Delete(r);
	assert_int_equal(spool_entries(*state), 0);
	assert_reply_ok(client_cmd(c, "send henderson still talking"));
	free(enc);
}

/* The default reserve leaves room for an ordinary upload. */
static void test_upload_within_reserve(void **state)
{
	struct client *c = client_connect(*state);
	char *enc = b64((const unsigned char *)"a file body", 11);

	client_auth(c, "messi", SEED_PASSWORD);
	assert_reply_ok(client_cmd(c, "sendfile henderson notes.txt %s", enc));
	assert_int_equal(spool_entries(*state), 1);
	free(enc);
}

#define T(f) cmocka_unit_test_setup_teardown(f, it_setup, it_teardown)
#define TS(f, s) cmocka_unit_test_setup_teardown(f, s, it_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_file_too_large_for_disk),
		T(test_state_file_not_sparse),
		TS(test_upload_refused_past_spool_reserve, setup_reserve),
		T(test_upload_within_reserve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
