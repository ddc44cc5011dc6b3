/*
 * NAME
 *	priv - run as the configured user when started as root
 * DESCRIPTION
 *	The master binds, opens the state and the control socket as root,
 *	gives what it made to the user of the "user" key, and then drops to
 *	that user for good before it serves anyone: supplementary groups,
 *	then the group, then the user, then a check that root cannot be had
 *	back.  Started by anyone else it changes nothing.
 *
 *	"user = root" keeps root, with a warning: a choice some containers
 *	make, never a default.
 */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bsd/string.h>

#include "lib/log.h"
#include "master/master.h"

/* priv_lookup - the account to run as; refuses one that does not exist */
int
priv_lookup(const struct config *cf, struct priv *p, char *err, size_t errlen)
{
	struct passwd *pw;

	memset(p, 0, sizeof(*p));
	if (geteuid() != 0)
		return 0;
	errno = 0;
	if ((pw = getpwnam(cf->user)) == NULL) {
		snprintf(err, errlen, "user %.64s does not exist (%s): create it "
		    "or set \"user\" in %.900s", cf->user,
		    errno ? strerror(errno) : "no such user", cf->path);
		return -1;
	}
	if (pw->pw_uid == 0)
		return 0;
	p->drop = true;
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	strlcpy(p->name, pw->pw_name, sizeof(p->name));
	return 0;
}

/* priv_own - give path to the user we will run as */
int
priv_own(const struct priv *p, const char *path, char *err, size_t errlen)
{
	if (!p->drop || lchown(path, p->uid, p->gid) == 0)
		return 0;
	snprintf(err, errlen, "chown %.900s: %s", path, strerror(errno));
	return -1;
}

/*
 * priv_mkdir_parent - create the missing directory that will hold path
 * (a pid file, a socket), owned by the user so that it can remove its
 * files at exit.  A directory that exists is left as it is.
 */
int
priv_mkdir_parent(const struct priv *p, const char *path, char *err,
    size_t errlen)
{
	char dir[PATH_MAX];
	char *slash;

	if (strlcpy(dir, path, sizeof(dir)) >= sizeof(dir) ||
	    (slash = strrchr(dir, '/')) == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (access(dir, F_OK) == 0)
		return 0;
	if (mkdir_p(dir, 0755) == -1) {
		snprintf(err, errlen, "%.900s: %s", dir, strerror(errno));
		return -1;
	}
	return priv_own(p, dir, err, errlen);
}

/* own_dir_entries - give every entry of dir to the user */
static int
own_dir_entries(const struct priv *p, const char *dir, char *err,
    size_t errlen)
{
	char path[PATH_MAX + 256];
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if ((d = opendir(dir)) == NULL) {
		snprintf(err, errlen, "%.900s: %s", dir, strerror(errno));
		return -1;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		rc = priv_own(p, path, err, errlen);
	}
	closedir(d);
	return rc;
}

/* priv_own_state - the state directory, its file and the spool */
int
priv_own_state(const struct priv *p, const struct config *cf,
    const struct state *st, char *err, size_t errlen)
{
	char path[PATH_MAX + 32];

	if (!p->drop)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", cf->state_dir, SHM_FILE);
	if (priv_own(p, cf->state_dir, err, errlen) == -1 ||
	    priv_own(p, path, err, errlen) == -1 ||
	    priv_own(p, st->spool, err, errlen) == -1)
		return -1;
	return own_dir_entries(p, st->spool, err, errlen);
}

/* dropped - are we the user now, with no way back to root? */
static bool
dropped(const struct priv *p)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1)
		return false;
	if (ru != p->uid || eu != p->uid || su != p->uid ||
	    rg != p->gid || eg != p->gid || sg != p->gid)
		return false;
	return setuid(0) == -1;
}

/* priv_drop - become the user for good */
int
priv_drop(const struct priv *p, char *err, size_t errlen)
{
	if (!p->drop) {
		if (geteuid() == 0)
			log_warn("running as root: \"user\" names root");
		return 0;
	}
	if (initgroups(p->name, p->gid) == -1 ||
	    setresgid(p->gid, p->gid, p->gid) == -1 ||
	    setresuid(p->uid, p->uid, p->uid) == -1) {
		snprintf(err, errlen, "cannot become user %s: %s", p->name,
		    strerror(errno));
		return -1;
	}
	if (!dropped(p)) {
		snprintf(err, errlen, "still privileged after becoming %s",
		    p->name);
		return -1;
	}
	log_info("running as %s (uid %d, gid %d)", p->name, (int)p->uid,
	    (int)p->gid);
	return 0;
}
