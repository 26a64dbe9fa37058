/* SPDX-License-Identifier: MIT */
/* prog-flush.c -- records N wall-clock reads and one file open, then never calls libc again.
 *
 * usage: prog-flush N spin|pause READY [IDLE_MS]
 * After N clock_gettime(CLOCK_REALTIME) reads (and IDLE_MS of sleep in
 * nanosleep(2), which records nothing) it writes its pid to READY.tmp
 * (a recorded open) and renames that to READY, then either spins in a loop that
 * makes no calls at all, or blocks in pause(2), until it is killed. t0013
 * kills it with SIGKILL and checks that the trace holds every read and the
 * open: the shim's "at most the last 100 ms lost" must hold even when the
 * program never returns to a hooked function.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char tmp[4096], pid[32];
	struct timespec ts;
	long n;
	int fd, len;

	if ((argc != 4 && argc != 5) || (strcmp(argv[2], "spin") && strcmp(argv[2], "pause"))) {
		fprintf(stderr, "usage: prog-flush N spin|pause READY [IDLE_MS]\n");
		return 2;
	}
	n = strtol(argv[1], NULL, 10);
	for (long i = 0; i < n; i++)
		clock_gettime(CLOCK_REALTIME, &ts);
	if (argc == 5) {
		long ms = strtol(argv[4], NULL, 10);
		struct timespec idle = { ms / 1000, ms % 1000 * 1000000 };

		while (nanosleep(&idle, &idle) < 0)
			;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[3]);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return 1;
	len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (write(fd, pid, (size_t)len) != len)
		return 1;
	close(fd);
	if (rename(tmp, argv[3]) < 0)
		return 1;
	if (strcmp(argv[2], "pause") == 0) {
		for (;;)
			pause();
	}
	for (volatile unsigned long spin = 0;; spin++)
		;
}
