/*
 * NAME
 *	reply - JSON replies: {"status": ..., ...} followed by CRLF CRLF
 * DESCRIPTION
 *	Every reply is built with cJSON and appended to a buffer by
 *	reply_finish().  Strings that come from clients go through
 *	json_add_text(), which replaces malformed UTF-8 so that a reply is
 *	valid JSON whatever the input.
 */
#ifndef RC_REPLY_H
#define RC_REPLY_H

#include <stddef.h>
#include <stdint.h>
#include <cJSON.h>

#include "lib/buf.h"

enum rc_code {
	E_BAD_COMMAND, E_BAD_ARGS, E_NO_SESSION, E_NO_USER, E_BAD_PASSWORD,
	E_USER_EXISTS, E_BAD_NAME, E_GROUP_EXISTS, E_NO_GROUP, E_NOT_MEMBER,
	E_ALREADY_MEMBER, E_REALM_EXISTS, E_NO_REALM, E_REALM_UNREACHABLE,
	E_TOO_LARGE, E_QUOTA, E_BAD_FILE, E_INTERNAL, E_COUNT
};

#define REPLY_END	"\r\n\r\n"

void		 reply_use_arena(void);
void		 reply_count_errors(uint64_t *counters);
const char	*code_name(enum rc_code);
const char	*code_text(enum rc_code);
enum rc_code	 code_parse(const char *name);
cJSON		*reply_ok(const char *message);
void		 reply_listing(cJSON *o, cJSON *list);
int		 reply_finish(struct buf *, cJSON *);
int		 reply_error(struct buf *, enum rc_code, const char *message);
int		 reply_errorf(struct buf *, enum rc_code, const char *fmt, ...)
		     __attribute__((format(printf, 3, 4)));
cJSON		*json_add_uint(cJSON *, const char *key, uint64_t);
cJSON		*json_add_text(cJSON *, const char *key, const char *s, size_t len);

#endif
