/*
 * NAME
 *	spool - file bodies in state_dir/spool, and the file table
 * DESCRIPTION
 *	A body is written by the worker to spool/tmp.<id>, then renamed to
 *	spool/<id>, and only then is a file slot naming it committed.  A body
 *	is unlinked only after the transaction that dropped its last
 *	reference committed.  So a crash can leave a body nobody references
 *	(removed at the next start, by spool_open), but never a reference to
 *	a missing or half-written body.  Names in the spool come from random
 *	ids, never from client input.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "lib/log.h"
#include "shm/table.h"

/* file_at - the file in slot i, or NULL if i is not a used slot */
struct shm_file *
file_at(struct state *st, uint32_t i)
{
	struct slot_table tb = files_table(st);

	return slot_used(&tb, i);
}

/* spool_path - path of the body of file id (tmp: its temporary name) */
void
spool_path(const struct state *st, uint64_t id, bool tmp, char *out, size_t len)
{
	snprintf(out, len, "%s/%s%016llx", st->spool, tmp ? "tmp." : "",
	    (unsigned long long)id);
}

/* spool_unlink - remove a body whose last reference is committed away */
void
spool_unlink(const struct state *st, uint64_t id)
{
	char path[PATH_MAX + 32];

	if (id == 0)
		return;
	spool_path(st, id, false, path, sizeof(path));
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("%s: %m", path);
}

static bool
id_in_use(struct state *st, uint64_t id)
{
	for (uint32_t i = 1; i <= st->hdr->files.hwm; i++)
		if (st->files[i].state == SLOT_USED && st->files[i].id == id)
			return true;
	return false;
}

/*
 * spool_open - make the spool directory and clear what a crash left:
 * temporary bodies and bodies no file slot names.  Every file slot must
 * have its body, or the state is refused.
 */
int
spool_open(struct state *st, const char *state_dir, char *err, size_t errlen)
{
	char path[PATH_MAX + 300];
	struct dirent *de;
	struct stat sb;
	DIR *d;

	snprintf(st->spool, sizeof(st->spool), "%s/spool", state_dir);
	if (mkdir(st->spool, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", st->spool, strerror(errno));
		return -1;
	}
	if ((d = opendir(st->spool)) == NULL) {
		snprintf(err, errlen, "%s: %s", st->spool, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long long id;

		if (de->d_name[0] == '.')
			continue;
		id = strtoull(de->d_name, &end, 16);
		if (strlen(de->d_name) == FILE_ID_LEN && *end == '\0' &&
		    id_in_use(st, id))
			continue;
		snprintf(path, sizeof(path), "%s/%s", st->spool, de->d_name);
		if (unlink(path) == 0)
			log_notice("spool: removed %s, left by a crash", de->d_name);
	}
	closedir(d);
	for (uint32_t i = 1; i <= st->hdr->files.hwm; i++) {
		struct shm_file *f = file_at(st, i);
		if (f == NULL)
			continue;
		spool_path(st, f->id, false, path, sizeof(path));
		if (stat(path, &sb) == -1 || (uint64_t)sb.st_size != f->size) {
			snprintf(err, errlen, "%s: missing or wrong size", path);
			return -1;
		}
	}
	return 0;
}

/*
 * file_create - a file slot for a body already in the spool, with no
 * references yet.  EDQUOT: the spool would pass max bytes.
 */
int
file_create(struct state *st, uint64_t id, uint64_t size, const char *name,
    uint32_t group, uint64_t max, uint32_t *idx)
{
	struct slot_table tb = files_table(st);
	struct shm_header *h = st->hdr;
	struct shm_file *f;
	uint32_t i;

	if (h->spool_bytes + size > max) {
		errno = EDQUOT;
		return -1;
	}
	if (slot_alloc(st, &tb, &i) == -1 ||
	    txn_log(st, &h->spool_bytes, sizeof(h->spool_bytes)) == -1)
		return -1;
	f = &st->files[i];
	f->id = id;
	f->size = size;
	f->created = now_sec();
	f->group = group;
	strlcpy(f->name, name, sizeof(f->name));
	h->spool_bytes += size;
	*idx = i;
	return 0;
}

/*
 * file_create_room - file_create, but when the spool is too full for the
 * body, the oldest kept files make room first; their bodies go to ev, to
 * unlink once the transaction committed.
 */
int
file_create_room(struct state *st, uint64_t id, uint64_t size,
    const char *name, uint32_t group, uint64_t max, uint32_t *idx,
    struct evicted *ev)
{
	if (file_create(st, id, size, name, group, max, idx) == 0)
		return 0;
	if (errno != EDQUOT || kept_make_room(st, size, max, ev) == -1)
		return -1;
	return file_create(st, id, size, name, group, max, idx);
}

/* evicted_unlink - remove the bodies kept_make_room freed (committed) */
void
evicted_unlink(const struct state *st, struct evicted *ev)
{
	for (size_t i = 0; i < ev->n; i++)
		spool_unlink(st, ev->gone[i]);
	ev->n = 0;
}

/* file_ref - one more message points at file i */
int
file_ref(struct state *st, uint32_t i)
{
	struct shm_file *f = file_at(st, i);

	if (f == NULL) {
		errno = ENOENT;
		return -1;
	}
	if (txn_log(st, &f->refs, sizeof(f->refs)) == -1)
		return -1;
	f->refs++;
	return 0;
}

/*
 * file_unref - one message less points at file i; at none the slot goes
 * and *gone names the body to unlink once committed (else 0).
 */
int
file_unref(struct state *st, uint32_t i, uint64_t *gone)
{
	struct slot_table tb = files_table(st);
	struct shm_file *f = file_at(st, i);

	*gone = 0;
	if (f == NULL) {
		errno = ENOENT;
		return -1;
	}
	if (txn_log(st, &f->refs, sizeof(f->refs)) == -1)
		return -1;
	if (f->refs > 1) {
		f->refs--;
		return 0;
	}
	if (txn_log(st, &st->hdr->spool_bytes, sizeof(uint64_t)) == -1)
		return -1;
	st->hdr->spool_bytes -= f->size;
	*gone = f->id;
	return slot_free(st, &tb, i);
}

/*
 * disk_room - would size more bytes leave st->spool_reserve free on the
 * spool's file system?  The reserve keeps the disk (which also holds the
 * state file's journal and the logs) from filling up with uploads.
 */
static bool
disk_room(const struct state *st, size_t size)
{
	struct statvfs sv;
	uint64_t avail;

	if (st->spool_reserve == 0 || statvfs(st->spool, &sv) == -1)
		return true;
	avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	return avail >= st->spool_reserve && avail - st->spool_reserve >= size;
}

/*
 * spool_store - write a body under a temporary name, then rename it to a
 * fresh random id (*id), so that a crash never leaves half a body named.
 * EDQUOT: the disk would keep less than spool_reserve free.
 */
int
spool_store(struct state *st, const void *body, size_t size, uint64_t *id)
{
	char tmp[PATH_MAX + 32], path[PATH_MAX + 32];
	int fd, saved;

	if (!disk_room(st, size)) {
		errno = EDQUOT;
		return -1;
	}

	do
		arc4random_buf(id, sizeof(*id));
	while (*id == 0);
	spool_path(st, *id, true, tmp, sizeof(tmp));
	spool_path(st, *id, false, path, sizeof(path));
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1)
		return -1;
	if (write_full(fd, body, size) == -1) {
		saved = errno;
		close(fd);
	} else if (close(fd) == -1 || rename(tmp, path) == -1)
		saved = errno;
	else
		return 0;
	unlink(tmp);
	errno = saved;
	return -1;
}
