/*
 * standalone.c - runs a libFuzzer entry point over files and directories
 * of files, so the seed corpus (and any crash file) replays under gcc,
 * ASan and UBSan without clang.  One TAP line per input.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int n_inputs, n_failed;

static void run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 1 << 16, n = 0, k;
	uint8_t *buf = f ? malloc(cap) : NULL;
	while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0) {
		n += k;
		if (n == cap) {
			uint8_t *p = realloc(buf, cap *= 2);
			if (!p)
				free(buf);
			buf = p;
		}
	}
	if (f)
		fclose(f);
	n_inputs++;
	if (!buf) {
		n_failed++;
		printf("not ok %d - %s: cannot read\n", n_inputs, path);
		return;
	}
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	printf("ok %d - fuzz input %s\n", n_inputs, path);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		if (!d) {
			run_file(argv[i]);
			continue;
		}
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			run_file(path);
		}
		closedir(d);
	}
	printf("1..%d\n", n_inputs);
	return n_failed != 0;
}
