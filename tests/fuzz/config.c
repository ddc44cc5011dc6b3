/*
 * NAME
 *	fuzz config - config_parse_line and config_load
 * DESCRIPTION
 *	The input is a realmchat.conf.  Each of its lines goes through
 *	config_parse_line() on its own NUL-terminated copy, and the whole
 *	input is written to a temporary file and read with config_load().
 *	Either way an error is a NUL-terminated message and a success leaves
 *	every string of the config NUL-terminated in its field and every
 *	number within its key's bounds.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/log.h"
#include "tests/fuzz/fuzz.h"

static char	path[64];

static void
cleanup(void)
{
	if (path[0] != '\0')
		unlink(path);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/rc-fuzz-config.XXXXXX");
	if ((fd = mkstemp(path)) == -1) {
		perror("mkstemp");
		exit(1);
	}
	close(fd);
	atexit(cleanup);
	return 0;
}

#define TERMINATED(f)	fuzz_assert(memchr(c->f, '\0', sizeof(c->f)) != NULL)

static void
check_config(const struct config *c)
{
	TERMINATED(path);
	TERMINATED(cwd);
	TERMINATED(listen_host);
	TERMINATED(state_dir);
	TERMINATED(realm_name);
	TERMINATED(realm_secret);
	TERMINATED(control);
	TERMINATED(control_ro);
	TERMINATED(seed_users);
	TERMINATED(pidfile);
	TERMINATED(user);
	fuzz_assert(name_valid(c->realm_name, strlen(c->realm_name)));
	fuzz_assert(c->workers <= 256);
	fuzz_assert(c->max_line >= 64 && c->max_line <= 1ULL << 30);
	fuzz_assert(c->password_cost >= 1 && c->password_cost <= 11);
	fuzz_assert(c->group_members >= 2);
	fuzz_assert(c->max_users >= 16 && c->max_sessions >= 16 &&
	    c->max_messages >= 16 && c->max_groups >= 16 &&
	    c->max_memberships >= 16 && c->max_files >= 16);
	fuzz_assert(c->realm_wait >= 1 && c->realm_wait <= 3600);
	fuzz_assert(c->inbox_batch >= 1 && c->inbox_batch <= 100000);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config c;
	char err[512];
	const uint8_t *p = data, *end = data + size;
	int fd;

	/* line by line */
	config_defaults(&c);
	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		char *line = malloc(n + 1);

		if (line == NULL)
			abort();
		memcpy(line, p, n);
		line[n] = '\0';
		memset(err, 0x5a, sizeof(err));
		if (config_parse_line(&c, line, err, sizeof(err)) == -1)
			fuzz_assert(memchr(err, '\0', sizeof(err)) != NULL &&
			    err[0] != '\0');
		free(line);
		p = nl != NULL ? nl + 1 : end;
	}
	check_config(&c);

	/* as a file */
	if ((fd = open(path, O_WRONLY | O_TRUNC)) == -1 ||
	    write(fd, data, size) != (ssize_t)size || close(fd) == -1) {
		perror(path);
		abort();
	}
	memset(err, 0x5a, sizeof(err));
	if (config_load(&c, path, err, sizeof(err)) == 0) {
		check_config(&c);
		fuzz_assert(c.state_dir[0] == '/' && c.pidfile[0] == '/');
	} else
		fuzz_assert(memchr(err, '\0', sizeof(err)) != NULL &&
		    err[0] != '\0');
	return 0;
}
