/* SPDX-License-Identifier: MIT */
/* prog-tracefd.c -- descriptor games a program may play, for t0014: the shim's own fd must not show.
 *
 * usage: prog-tracefd DIR
 * Prints what each step sees; the output must be the same with and without
 * the shim. After each step it creates DIR/mark-STEP (a recorded open), so
 * the trace shows that recording went on. The steps that must find the
 * shim's descriptor where it starts come first. Steps:
 *   lowest     the first open() gets 3;
 *   threads    8 threads open and close a file 2000 times each while the
 *              main thread reads the clock (the shim's writer flushes
 *              meanwhile): every open gets one of the 8 lowest free numbers;
 *   dupfrom    dup2/dup/fcntl from every number 3..1023 that is not open
 *              fail with EBADF;
 *   closeall   close() of every fd 3..1023: which succeed;
 *   closerange close_range(3, ~0U, 0) after opening a few;
 *   closefrom  closefrom(3) after opening a few;
 *   dup2high   dup2 and dup3 onto the top numbers, and back closed;
 *   dupfd      fcntl(F_DUPFD, F_DUPFD_CLOEXEC) from 0, the top two numbers
 *              below the fd limit, 1023 and 5 give the lowest free >= the
 *              floor;
 *   emfile     opens until EMFILE: how many (the shim must not take one),
 *              then closes them;
 *   last       the first open() gets 3 again.
 * After closeall, closerange and closefrom it lists on stderr the fds that
 * hold a file named *.trace (none bare; the shim's own, under the shim).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define NTHREADS 8
#define NLOOPS	 2000

static const char *dir;
static int top; /* min(RLIMIT_NOFILE, 1024) */
static int max_seen[NTHREADS];

static void mark(const char *step)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/mark-%s", dir, step);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		printf("%s: cannot create mark: %s\n", step, strerror(errno));
		return;
	}
	close(fd);
	fflush(stdout);
}

/* On stderr (it differs with and without the shim, on purpose): the fd
 * numbers that hold a file named *.trace, the shim's descriptor. */
static void show_trace_fds(const char *step)
{
	char link[300], target[4096];
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	ssize_t n;

	fprintf(stderr, "%s: trace fds:", step);
	while (d && (e = readdir(d))) {
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n > 6 && memcmp(target + n - 6, ".trace", 6) == 0)
			fprintf(stderr, " %s", e->d_name);
	}
	fprintf(stderr, "\n");
	if (d)
		closedir(d);
}

static const char *err(int r)
{
	return r < 0 ? strerrorname_np(errno) : "ok";
}

static void *worker(void *arg)
{
	int id = (int)(long)arg;

	for (int i = 0; i < NLOOPS; i++) {
		struct timespec ts;
		int fd = open("/dev/null", O_RDONLY);

		if (fd > max_seen[id])
			max_seen[id] = fd;
		clock_gettime(CLOCK_REALTIME, &ts);
		close(fd);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[NTHREADS];
	struct rlimit rl;
	struct timespec ts;
	int fd, r, n, bound, fds[4096], floors[5];

	if (argc != 2) {
		fprintf(stderr, "usage: prog-tracefd DIR\n");
		return 2;
	}
	dir = argv[1];
	getrlimit(RLIMIT_NOFILE, &rl);
	top = rl.rlim_cur < 1024 ? (int)rl.rlim_cur : 1024;

	fd = open("/dev/null", O_RDONLY);
	printf("lowest: %d\n", fd);
	close(fd);
	mark("lowest");

	/* Enough events to start the shim's writer thread before the
	 * workers exist (see the man page on libzstd's dlopen). */
	for (int i = 0; i < 1000; i++) {
		fd = open("/dev/null", O_RDONLY);
		close(fd);
	}
	for (long i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	for (int i = 0; i < 200000; i++)
		clock_gettime(CLOCK_REALTIME, &ts);
	n = 0;
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		n = max_seen[i] > n ? max_seen[i] : n;
	}
	/* each thread holds one fd at a time: the NTHREADS lowest free */
	bound = 3;
	for (int k = 0; k < NTHREADS; bound++)
		k += fcntl(bound, F_GETFD) < 0;
	printf("threads: every open got one of the %d lowest free numbers: %s\n", NTHREADS,
	       n < bound ? "yes" : "no");
	mark("threads");

	n = 0;
	for (int i = 3; i < 1024; i++) {
		int bad = 0;

		r = dup2(i, top - 5);
		bad += r < 0 && errno == EBADF;
		if (r >= 0 && r != i)
			close(r);
		r = dup(i);
		bad += r < 0 && errno == EBADF;
		if (r >= 0)
			close(r);
		r = fcntl(i, F_DUPFD, 0);
		bad += r < 0 && errno == EBADF;
		if (r >= 0)
			close(r);
		r = dup2(i, i);
		bad += r < 0 && errno == EBADF;
		r = dup3(i, i, 0);
		bad += r < 0 && errno == EINVAL;
		n += bad == 5;
	}
	printf("dupfrom: %d numbers not open\n", n);
	mark("dupfrom");

	printf("closeall: closed");
	for (int i = 3; i < 1024; i++)
		if (close(i) == 0)
			printf(" %d", i);
	printf("\n");
	mark("closeall");
	show_trace_fds("closeall");

	for (int i = 0; i < 4; i++)
		fds[i] = open("/dev/null", O_RDONLY);
	printf("closerange: %d %d %d %d\n", fds[0], fds[1], fds[2], fds[3]);
	r = close_range(3, ~0U, 0);
	printf("closerange: %s, then open gives %d\n", err(r), fd = open("/dev/null", O_RDONLY));
	close(fd);
	mark("closerange");
	show_trace_fds("closerange");

	for (int i = 0; i < 4; i++)
		fds[i] = open("/dev/null", O_RDONLY);
	dup2(0, 20);
	closefrom(3);
	printf("closefrom: close(20) %s, then open gives %d\n", err(close(20)),
	       fd = open("/dev/null", O_RDONLY));
	close(fd);
	mark("closefrom");
	show_trace_fds("closefrom");

	for (int k = 1; k <= 3; k++) {
		int nfd = top - k;

		r = dup2(1, nfd);
		printf("dup2high: dup2(1, top-%d) %s", k, err(r));
		r = write(nfd, "", 0);
		printf(" write %s", err(r));
		r = close(nfd);
		printf(" close %s", err(r));
		r = close(nfd);
		printf(" again %s\n", err(r));
		r = dup3(1, nfd, O_CLOEXEC);
		printf("dup2high: dup3(1, top-%d) %s cloexec=%d", k, err(r), fcntl(nfd, F_GETFD));
		r = close(nfd);
		printf(" close %s\n", err(r));
	}
	r = dup2(1, 1023);
	printf("dup2high: dup2(1, 1023) %s\n", err(r));
	if (r >= 0)
		close(1023);
	mark("dup2high");

	floors[0] = 0;
	floors[1] = top - 2;
	floors[2] = top - 1;
	floors[3] = 1023;
	floors[4] = 5;
	for (int i = 0; i < 5; i++) {
		r = fcntl(0, F_DUPFD, floors[i]);
		printf("dupfd: F_DUPFD top%+d -> %s %s\n", floors[i] - top,
		       r < 0		? "-1"
		       : r == floors[i] ? "floor"
					: "other",
		       err(r));
		if (r >= 0)
			close(r);
		r = fcntl(0, F_DUPFD_CLOEXEC, floors[i]);
		printf("dupfd: F_DUPFD_CLOEXEC top%+d -> %s %s cloexec=%d\n", floors[i] - top,
		       r < 0		? "-1"
		       : r == floors[i] ? "floor"
					: "other",
		       err(r), r < 0 ? -1 : fcntl(r, F_GETFD));
		if (r >= 0)
			close(r);
	}
	mark("dupfd");

	n = 0;
	while (n < (int)(sizeof(fds) / sizeof(fds[0]))) {
		fds[n] = open("/dev/null", O_RDONLY);
		if (fds[n] < 0)
			break;
		n++;
	}
	printf("emfile: %d opens, then %s\n", n, fds[n < 4096 ? n : 0] < 0 ? err(-1) : "stopped");
	for (int i = 0; i < n; i++)
		close(fds[i]);
	mark("emfile");

	fd = open("/dev/null", O_RDONLY);
	printf("last: %d\n", fd);
	close(fd);
	/* the shim gave its descriptor up at EMFILE; the closes took it back */
	show_trace_fds("last");
	mark("last");
	return 0;
}
