/* SPDX-License-Identifier: MIT */
/* real.c -- the one table of real libc functions, and the rules of the shim.
 *
 * Rules of every file in shim/ (after rr's syscallbuf.c):
 *
 * 1. Every real function is resolved with dlsym(RTLD_NEXT) the first time
 *    its hook runs (REAL()), not all at start-up: resolving the whole table
 *    cost 1.1 ms of CPU per process in curl, which loads 40 libraries for
 *    dlsym to search (12% of benchmark W2), even when done on the writer
 *    thread (the two cores are busy with the program). The exception:
 *    dlsym is not async-signal-safe and a hook's first call may come from
 *    a signal handler, so real_init_early() resolves, in the constructor,
 *    the async-signal-safe functions handlers use. A pointer that
 *    resolves to our own hook is a fatal setup error: it would recurse.
 * 2. A hook calls the real function first, then records, then restores errno
 *    and returns the real result: the program sees exactly what it would see
 *    without us.
 * 3. Recording happens only between shim_enter() and shim_leave(): the
 *    per-thread guard makes every libc call the shim itself makes (trace
 *    writes, zstd, DNS inside getaddrinfo) pass straight through.
 * 4. No lock is held across a real call. Per-thread buffers are handed to
 *    the writer under a per-thread spinlock held only while copying.
 * 5. The shim never aborts the host. Recording that fails drops events,
 *    counts them and warns once.
 */
#include "shim/real.h"

#include <dlfcn.h>
#include <string.h>
#include <unistd.h>

#include "common/hot.h"

#define REAL_DEFINE(name) name##_fn *real_##name;
REAL_FUNCS(REAL_DEFINE)
#undef REAL_DEFINE

/* _dl_find_object, not dladdr: dladdr also looks for the nearest symbol,
 * which in libc scans its whole symbol table (26 us cold, for getpid in
 * every process). */
AT_HOT static int in_this_library(void *p)
{
	struct dl_find_object found, mine;

	return _dl_find_object(p, &found) == 0 &&
	       _dl_find_object((void *)real_resolve, &mine) == 0 &&
	       found.dlfo_link_map == mine.dlfo_link_map;
}

AT_HOT void *real_resolve(const char *name, void *self)
{
	void *p = dlsym(RTLD_NEXT, name);

	/* p == self is normal for a symbol we do not hook (getpid: libc's on
	 * both sides); only a pointer into this very library would recurse. */
	if (p && p == self && in_this_library(p)) {
		/* Cannot happen with a sane link map; nothing else is safe yet. */
		static const char msg[] =
			"attrace: fatal: dlsym(RTLD_NEXT) returned the hook itself\n";
		ssize_t w = REAL(write)(2, msg, sizeof(msg) - 1);
		(void)w;
		_exit(127);
	}
	return p;
}

AT_HOT void real_init_early(void)
{
#define REAL_RESOLVE(name) \
	if (!real_##name)  \
		real_##name = (name##_fn *)real_resolve(#name, (void *)name);
	/* async-signal-safe functions a signal handler may call */
	REAL_RESOLVE(write)
	REAL_RESOLVE(read)
	REAL_RESOLVE(close)
	REAL_RESOLVE(send)
	REAL_RESOLVE(recv)
	REAL_RESOLVE(_exit)
	REAL_RESOLVE(_Exit)
	REAL_RESOLVE(clock_gettime)
	REAL_RESOLVE(time)
	REAL_RESOLVE(sigaction)
	REAL_RESOLVE(signal)
	REAL_RESOLVE(waitpid)
	REAL_RESOLVE(fork)
	REAL_RESOLVE(execve)
	REAL_RESOLVE(open)
	REAL_RESOLVE(openat)
	REAL_RESOLVE(getpid)
	REAL_RESOLVE(writev)
	REAL_RESOLVE(sendto)
	REAL_RESOLVE(sendmsg)
	REAL_RESOLVE(recvfrom)
	REAL_RESOLVE(recvmsg)
	REAL_RESOLVE(dup)
	REAL_RESOLVE(dup2)
	REAL_RESOLVE(fcntl)
#undef REAL_RESOLVE
}
