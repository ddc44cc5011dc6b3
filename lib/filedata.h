/*
 * NAME
 *	filedata - file content and names as clients send them
 * DESCRIPTION
 *	Content travels as base64, which public Python clients often wrap in
 *	the repr of a bytes object: b'...'.  Names are reduced to a harmless
 *	base name; they are shown to recipients, never used as a path.
 */
#ifndef RC_FILEDATA_H
#define RC_FILEDATA_H

#include <stddef.h>
#include <sys/types.h>

void	b64_unwrap(const char **p, size_t *len);
size_t	b64_decoded_max(size_t len);
ssize_t	b64_decode(const char *in, size_t len, unsigned char *out);
size_t	b64_encoded_len(size_t len);
size_t	b64_encode(const unsigned char *in, size_t len, char *out);
size_t	file_name_clean(const char *in, size_t len, char *out, size_t outlen);

#endif
