/* SPDX-License-Identifier: MIT */
/* driver.c -- replays a fuzz corpus without libFuzzer, so `meson test --suite fuzz` runs under gcc.
 *
 * Like zstd's tests/fuzz/regression_driver.c: every regular file in the
 * directory given as argv[1] (or each file named on the command line) is
 * fed once to LLVMFuzzerTestOneInput. A crash or sanitizer report fails.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
	unsigned char *data = NULL, *p;
	size_t len = 0, cap = 0, n;
	FILE *f;

	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			p = realloc(data, cap);
			if (!p) {
				free(data);
				fclose(f);
				return -1;
			}
			data = p;
		}
		n = fread(data + len, 1, cap - len, f);
		if (n == 0)
			break;
		len += n;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	return 0;
}

static int run_path(const char *path, int *count)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return run_file(path);
	}
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char file[4096];

		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		if (stat(file, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		(*count)++;
		if (run_file(file) < 0)
			r = -1;
		else
			printf("ok %d - %s\n", *count, de->d_name);
	}
	closedir(d);
	return r;
}

int main(int argc, char **argv)
{
	int i, count = 0, r = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR|FILE...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++)
		if (run_path(argv[i], &count) < 0)
			r = 1;
	printf("1..%d\n", count);
	if (count == 0) {
		fprintf(stderr, "no corpus files\n");
		return 1;
	}
	return r;
}
