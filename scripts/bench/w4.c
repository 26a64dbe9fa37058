/* SPDX-License-Identifier: MIT */
/* w4.c -- benchmark W4: 1,000,000 clock_gettime(CLOCK_REALTIME) calls in a tight loop.
 *
 * The values are folded into a checksum that is printed, so the compiler
 * cannot drop the calls. Argument: iteration count (default 1000000).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
	unsigned long sum = 0;
	struct timespec ts;

	for (long i = 0; i < n; i++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		sum += (unsigned long)ts.tv_nsec;
	}
	printf("%lu\n", sum);
	return 0;
}
