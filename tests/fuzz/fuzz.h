/*
 * NAME
 *	fuzz.h - what every fuzz harness shares
 * DESCRIPTION
 *	A harness defines LLVMFuzzerTestOneInput (and may define
 *	LLVMFuzzerInitialize).  It is linked either with libFuzzer
 *	(make fuzz, clang) or with replay.c, which feeds it the files of
 *	its seed corpus and of its regression directory (make test).
 *
 *	A broken invariant is a crash: fuzz_fail() prints why and aborts,
 *	so libFuzzer keeps the input as an artifact.
 */
#ifndef RC_FUZZ_H
#define RC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int	LLVMFuzzerInitialize(int *argc, char ***argv);

#define fuzz_fail(...) do {						\
	fprintf(stderr, "fuzz: %s:%d: ", __FILE__, __LINE__);		\
	fprintf(stderr, __VA_ARGS__);					\
	fputc('\n', stderr);						\
	abort();							\
} while (0)

#define fuzz_assert(cond) do {						\
	if (!(cond))							\
		fuzz_fail("invariant broken: %s", #cond);		\
} while (0)

#endif
