/*
 * fdlimit.c - lowers its descriptor limit to 32 and opens /dev/null until
 * it is refused, allocating from a new call site between two opens (every
 * new stack makes an unwinder test addresses) and from new ones again once
 * every descriptor is taken, then prints how many it opened and checks
 * each is still /dev/null.  A tracer that takes a
 * descriptor of the program's range changes the count; one that closes or
 * reads a number the program now owns breaks the check.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define SITE(n)                                                                            \
	__attribute__((noinline)) static void *site##n(size_t k)                           \
	{                                                                                  \
		return malloc(k + n);                                                      \
	}
SITE(0) SITE(1) SITE(2) SITE(3) SITE(4) SITE(5) SITE(6) SITE(7)
SITE(8) SITE(9) SITE(10) SITE(11) SITE(12) SITE(13) SITE(14) SITE(15)
SITE(16) SITE(17) SITE(18) SITE(19) SITE(20) SITE(21) SITE(22) SITE(23)
static void *(*const sites[])(size_t) = {site0,  site1,  site2,  site3,  site4,  site5,
					 site6,  site7,  site8,  site9,  site10, site11,
					 site12, site13, site14, site15, site16, site17,
					 site18, site19, site20, site21, site22, site23};

/* The second batch, 8 frames of 8 KiB down: the unwinder reads stack
 * pages it has not tested yet. */
__attribute__((noinline)) static void deep(int level)
{
	volatile char pad[8192];
	pad[0] = (char)level;
	if (level < 8) {
		deep(level + 1);
	} else {
		for (int i = 16; i < 24; i++) {
			void *volatile p = sites[i]((size_t)i);
			free(p);
		}
	}
	pad[1] = pad[0];
}

int main(void)
{
	struct rlimit rl = {32, 32};
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = 32;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	struct stat null;
	if (stat("/dev/null", &null) < 0)
		return 1;
	int fds[64], n = 0;
	for (; n < 64; n++) {
		void *volatile p = sites[n % 16]((size_t)n);
		free(p);
		if ((fds[n] = open("/dev/null", O_RDONLY)) < 0)
			break;
	}
	int bad = errno != EMFILE;
	deep(0); /* new stacks while every descriptor is the program's */
	for (int i = 0; i < n; i++) {
		struct stat sb;
		bad |= fstat(fds[i], &sb) < 0 || sb.st_ino != null.st_ino || sb.st_dev != null.st_dev;
	}
	printf("opened %d descriptors%s\n", n, bad ? ", then something else went wrong" : "");
	return bad;
}
