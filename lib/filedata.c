/*
 * NAME
 *	filedata - file content and names as clients send them
 */
#include <string.h>
#include <openssl/evp.h>

#include "lib/filedata.h"
#include "lib/util.h"

/* b64_unwrap - strip a b'...' or b"..." wrapper, if there is one */
void
b64_unwrap(const char **p, size_t *len)
{
	const char *s = *p;
	size_t n = *len;

	if (n >= 3 && s[0] == 'b' && (s[1] == '\'' || s[1] == '"') &&
	    s[n - 1] == s[1]) {
		*p = s + 2;
		*len = n - 3;
	}
}

/* b64_decoded_max - room needed to decode len base64 characters */
size_t
b64_decoded_max(size_t len)
{
	return (len + 3) / 4 * 3;
}

static bool
b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/*
 * b64_decode - standard base64 (padding optional) to bytes; -1 if the
 * input is not base64.  out needs b64_decoded_max(len) bytes.
 */
ssize_t
b64_decode(const char *in, size_t len, unsigned char *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t pad = 0, body, done = 0;
	unsigned char last[4];
	int n;

	if (len > 0x7ffffff0)
		return -1;
	while (pad < 2 && len > 0 && s[len - 1] == '=') {
		len--;
		pad++;
	}
	for (size_t i = 0; i < len; i++)
		if (!b64_char(s[i]))
			return -1;
	if (len % 4 == 1 || (pad > 0 && (len + pad) % 4 != 0))
		return -1;
	body = len / 4 * 4;
	if (body > 0) {
		if ((n = EVP_DecodeBlock(out, s, (int)body)) < 0)
			return -1;
		done = (size_t)n;
	}
	if (len > body) {
		/* the last 2 or 3 characters, padded for the decoder */
		size_t rest = len - body;
		unsigned char tmp[3];

		memcpy(last, s + body, rest);
		memset(last + rest, '=', 4 - rest);
		if (EVP_DecodeBlock(tmp, last, 4) < 0)
			return -1;
		memcpy(out + done, tmp, rest - 1);
		done += rest - 1;
	}
	return (ssize_t)done;
}

/* b64_encoded_len - characters of the base64 form of len bytes */
size_t
b64_encoded_len(size_t len)
{
	return (len + 2) / 3 * 4;
}

/* b64_encode - bytes to padded base64, NUL-terminated; returns its length */
size_t
b64_encode(const unsigned char *in, size_t len, char *out)
{
	return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

/*
 * file_name_clean - the base name of a client's file name, made harmless:
 * no directory part, no control characters, no leading dots or blanks,
 * well-formed UTF-8, at most outlen - 1 bytes; "file" if nothing is left.
 */
size_t
file_name_clean(const char *in, size_t len, char *out, size_t outlen)
{
	char buf[3 * 256];
	size_t n = 0, start = 0;

	for (size_t i = 0; i < len; i++)
		if (in[i] == '/' || in[i] == '\\')
			start = i + 1;
	in += start;
	len -= start;
	if (len > 256)
		len = 256;
	len = utf8_sanitize(in, len, buf);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (n == 0 && (c == '.' || c == ' ' || c == '\t'))
			continue;
		out[n++] = (char)(c < 0x20 || c == 0x7f ? '_' : c);
		if (n == outlen - 1)
			break;
	}
	/* never end inside a multi-byte character */
	while (n > 0 && !utf8_valid(out, n))
		n--;
	if (n == 0) {
		memcpy(out, "file", 5);
		return 4;
	}
	out[n] = '\0';
	return n;
}
