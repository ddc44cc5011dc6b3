/*
 * NAME
 *	replay - run a fuzz harness over stored inputs, without libFuzzer
 * SYNOPSIS
 *	fuzz_NAME [file-or-directory ...]
 * DESCRIPTION
 *	Built with the ordinary compiler for make test: each file is given
 *	once to the harness's LLVMFuzzerTestOneInput, in an exact-size
 *	buffer, and reported as one TAP line.  Without arguments the seed
 *	corpus tests/fuzz/corpus/NAME and the crash regressions
 *	tests/fuzz/regress/NAME are replayed (from the repository root, or
 *	from $FUZZ_ROOT).  An input that breaks an invariant aborts the
 *	program, which tests/run counts as a failure.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"

#ifndef FUZZ_NAME
#error "FUZZ_NAME must name the harness"
#endif

__attribute__((weak)) int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

static char	**files;
static size_t	  nfiles;

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
add(const char *path)
{
	char **n = realloc(files, (nfiles + 1) * sizeof(*files));

	if (n == NULL || (n[nfiles] = strdup(path)) == NULL) {
		perror("replay");
		exit(2);
	}
	files = n;
	nfiles++;
}

/* collect - a file, or the regular files of a directory (sorted) */
static void
collect(const char *path, int must_exist)
{
	struct stat sb;
	struct dirent *de;
	size_t first = nfiles;
	DIR *d;

	if (stat(path, &sb) == -1) {
		if (must_exist) {
			fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
			exit(2);
		}
		return;
	}
	if (!S_ISDIR(sb.st_mode)) {
		add(path);
		return;
	}
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char p[4096];

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode))
			add(p);
	}
	closedir(d);
	qsort(files + first, nfiles - first, sizeof(*files), by_name);
}

static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *b = NULL;
	long n;

	if (fp == NULL || fseek(fp, 0, SEEK_END) == -1 || (n = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) == -1 ||
	    (b = malloc(n > 0 ? (size_t)n : 1)) == NULL ||
	    fread(b, 1, (size_t)n, fp) != (size_t)n) {
		fprintf(stderr, "replay: %s: cannot read\n", path);
		exit(2);
	}
	fclose(fp);
	*len = (size_t)n;
	return b;
}

int
main(int argc, char **argv)
{
	const char *root = getenv("FUZZ_ROOT");
	char dir[4096];

	setvbuf(stdout, NULL, _IONBF, 0);
	if (root == NULL)
		root = ".";
	if (argc > 1)
		for (int i = 1; i < argc; i++)
			collect(argv[i], 1);
	else {
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", root, FUZZ_NAME);
		collect(dir, 1);
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/regress/%s", root, FUZZ_NAME);
		collect(dir, 0);
	}
	LLVMFuzzerInitialize(&argc, &argv);
	printf("1..%zu\n", nfiles);
	for (size_t i = 0; i < nfiles; i++) {
		size_t len;
		unsigned char *b = slurp(files[i], &len);

		LLVMFuzzerTestOneInput(b, len);
		free(b);
		printf("ok %zu - %s %s\n", i + 1, FUZZ_NAME, files[i]);
	}
	return 0;
}
