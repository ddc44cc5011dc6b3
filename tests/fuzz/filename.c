/*
 * NAME
 *	fuzz filename - file_name_clean
 * DESCRIPTION
 *	The first byte picks the room for the result (5 to 256 bytes, 256 as
 *	the server uses it); the rest is the name a client sent.  The result
 *	is a harmless base name: not empty, NUL-terminated within the room,
 *	no '/' or '\', no control byte, no leading dot or blank, not ".."
 *	or ".", and well-formed UTF-8.
 */
#include <string.h>

#include "lib/filedata.h"
#include "lib/util.h"
#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t room, n;
	char *out;

	if (size == 0)
		return 0;
	room = data[0] >= 0x80 ? 256 : 5 + (size_t)data[0] * 2;
	data++;
	size--;
	if ((out = malloc(room)) == NULL)
		abort();
	memset(out, 0x5a, room);
	n = file_name_clean((const char *)data, size, out, room);
	fuzz_assert(n > 0 && n < room);
	fuzz_assert(out[n] == '\0' && strlen(out) == n);
	fuzz_assert(strchr(out, '/') == NULL && strchr(out, '\\') == NULL);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)out[i];
		fuzz_assert(c >= 0x20 && c != 0x7f);
	}
	fuzz_assert(out[0] != '.' && out[0] != ' ' && out[0] != '\t');
	fuzz_assert(strcmp(out, "..") != 0 && strcmp(out, ".") != 0);
	fuzz_assert(utf8_valid(out, n));
	free(out);
	return 0;
}
