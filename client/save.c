/*
 * NAME
 *	save - store a received file in the download directory
 * DESCRIPTION
 *	The sender chose the name, so it is only a hint: it is reduced to a
 *	harmless base name (no directory part, no control characters, no
 *	leading dot) and the file is created with O_EXCL and O_NOFOLLOW, so
 *	that an existing file or a planted symbolic link is never written
 *	through.  A taken name gets "-1", "-2", ... before its extension.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/realmchat.h"
#include "lib/filedata.h"
#include "lib/util.h"

#define MAX_TRIES	10000	/* numbered names tried before giving up */

/* numbered - name with "-n" before its extension, into out */
static void
numbered(const char *name, int n, char *out, size_t outlen)
{
	const char *dot = strrchr(name, '.');
	int stem = dot != NULL && dot != name ? (int)(dot - name) :
	    (int)strlen(name);

	if (n == 0)
		snprintf(out, outlen, "%s", name);
	else
		snprintf(out, outlen, "%.*s-%d%s", stem, name, n,
		    name + stem);
}

/* create_unique - open a new file in dir named after name; -1 if none */
static int
create_unique(const char *dir, const char *name, char *path, size_t pathlen)
{
	char try[300];
	int fd;

	for (int n = 0; n < MAX_TRIES; n++) {
		numbered(name, n, try, sizeof(try));
		snprintf(path, pathlen, "%s/%s", dir, try);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0644);
		if (fd != -1 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

/*
 * save_file - decode b64 and write it to a new file in the download
 * directory; 0 with its path in path, -1 (reported) on failure.
 */
int
save_file(struct rc *rc, const char *name, const char *b64, char *path,
    size_t pathlen)
{
	char clean[256];
	size_t len = strlen(b64);
	unsigned char *data;
	ssize_t n;
	int fd, r;

	b64_unwrap(&b64, &len);
	if ((data = malloc(b64_decoded_max(len) + 1)) == NULL)
		return -1;
	if ((n = b64_decode(b64, len, data)) < 0) {
		show_error(rc, "file %s: content is not base64", name);
		free(data);
		return -1;
	}
	file_name_clean(name, strlen(name), clean, sizeof(clean));
	if (mkdir_p(rc->dldir, 0755) == -1 ||
	    (fd = create_unique(rc->dldir, clean, path, pathlen)) == -1) {
		show_error(rc, "cannot save %s in %s: %s", clean, rc->dldir,
		    strerror(errno));
		free(data);
		return -1;
	}
	r = write_full(fd, data, (size_t)n);
	if (close(fd) == -1)
		r = -1;
	free(data);
	if (r == -1) {
		show_error(rc, "cannot write %s: %s", path, strerror(errno));
		unlink(path);
	}
	return r;
}
