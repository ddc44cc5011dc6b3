/*
 * NAME
 *	fuzz base64 - b64_unwrap, b64_decode and b64_encode
 * DESCRIPTION
 *	Every input is used twice.  As text a client sent: unwrapped, then
 *	decoded into a buffer of exactly b64_decoded_max() bytes (ASan sees
 *	any byte past it); what decodes must encode and decode back to the
 *	same bytes.  As bytes: encode(x) has b64_encoded_len() characters,
 *	and decode(encode(x)) == x, with and without padding, with and
 *	without the b'...' wrapper.
 */
#include <string.h>

#include "lib/filedata.h"
#include "tests/fuzz/fuzz.h"

/* decode - decode in[0, len) into a fresh exact-size buffer */
static unsigned char *
decode(const char *in, size_t len, ssize_t *n)
{
	size_t max = b64_decoded_max(len);
	unsigned char *out = malloc(max > 0 ? max : 1);

	if (out == NULL)
		abort();
	*n = b64_decode(in, len, out);
	if (*n != -1)
		fuzz_assert(*n >= 0 && (size_t)*n <= max);
	return out;
}

/* round_trip - encode x; every way of sending it decodes to x */
static void
round_trip(const unsigned char *x, size_t len)
{
	size_t elen = b64_encoded_len(len), m;
	char *enc = malloc(elen + 1), *wrapped = malloc(elen + 3);
	const char *p;
	unsigned char *dec;
	ssize_t n;

	if (enc == NULL || wrapped == NULL)
		abort();
	m = b64_encode(x, len, enc);
	fuzz_assert(m == elen && enc[m] == '\0');

	dec = decode(enc, m, &n);
	fuzz_assert(n == (ssize_t)len && memcmp(dec, x, len) == 0);
	free(dec);

	/* without its padding */
	while (m > 0 && enc[m - 1] == '=')
		m--;
	dec = decode(enc, m, &n);
	fuzz_assert(n == (ssize_t)len && memcmp(dec, x, len) == 0);
	free(dec);

	/* inside b'...', as Python clients send it */
	wrapped[0] = 'b';
	wrapped[1] = '\'';
	memcpy(wrapped + 2, enc, elen);
	wrapped[elen + 2] = '\'';
	p = wrapped;
	m = elen + 3;
	b64_unwrap(&p, &m);
	fuzz_assert(p == wrapped + 2 && m == elen);
	dec = decode(p, m, &n);
	fuzz_assert(n == (ssize_t)len && memcmp(dec, x, len) == 0);
	free(dec);
	free(wrapped);
	free(enc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t len = size;
	unsigned char *dec;
	ssize_t n;

	b64_unwrap(&p, &len);
	fuzz_assert(p >= (const char *)data && len <= size &&
	    p + len <= (const char *)data + size);
	if (len < size)
		fuzz_assert(len == size - 3 && p == (const char *)data + 2);
	dec = decode(p, len, &n);
	if (n >= 0)
		round_trip(dec, (size_t)n);
	free(dec);

	round_trip(data, size);
	return 0;
}
