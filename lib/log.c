/*
 * NAME
 *	log - one line per notable event, to stderr or syslog
 * DESCRIPTION
 *	Foreground mode (-d) writes "ident[pid]: level: text" to stderr;
 *	daemon mode hands the same text to syslog(3).  %m works in both,
 *	since glibc's printf family expands it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/log.h"

static char	 log_ident[32] = "realmchatd";
static bool	 log_stderr = true;
static int	 log_max = LOG_INFO;

static const struct {
	const char	*name;
	int		 prio;
} levels[] = {
	{ "debug", LOG_DEBUG }, { "info", LOG_INFO }, { "notice", LOG_NOTICE },
	{ "warning", LOG_WARNING }, { "error", LOG_ERR },
};

/* log_init - choose the destination and the lowest level logged */
void
log_init(const char *ident, bool to_stderr, int level)
{
	snprintf(log_ident, sizeof(log_ident), "%s", ident);
	log_stderr = to_stderr;
	log_max = level;
	if (!to_stderr)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

/* log_set_ident - name used in stderr lines (e.g. after fork) */
void
log_set_ident(const char *ident)
{
	snprintf(log_ident, sizeof(log_ident), "%s", ident);
}

/* log_set_level - change the lowest level logged (reload) */
void
log_set_level(int level)
{
	log_max = level;
}

/* log_level_parse - level name to syslog priority, -1 if unknown */
int
log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcasecmp(name, levels[i].name) == 0)
			return levels[i].prio;
	return -1;
}

static const char *
level_name(int prio)
{
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (levels[i].prio == prio)
			return levels[i].name;
	return "crit";
}

/* log_msg - log one line at priority prio */
void
log_msg(int prio, const char *fmt, ...)
{
	int saved = errno;
	char line[1024];
	va_list ap;

	if (prio > log_max)
		return;
	va_start(ap, fmt);
	errno = saved;
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_stderr)
		fprintf(stderr, "%s[%d]: %s: %s\n", log_ident, (int)getpid(),
		    level_name(prio), line);
	else
		syslog(prio, "%s", line);
	errno = saved;
}
