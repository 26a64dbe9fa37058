/* SPDX-License-Identifier: MIT */
/* tracefd.h -- the one descriptor a recording process holds on its trace file.
 *
 * The trace file is opened once per process image (O_WRONLY|O_APPEND|
 * O_CLOEXEC), in rec_init, which runs in the constructor before the program
 * has threads, and moved at once to the highest free number below
 * min(RLIMIT_NOFILE, 1024), so that it never takes a number the program
 * would get from open, socket or dup. A fork child keeps using the inherited
 * descriptor (O_APPEND keeps every process's frames whole); exec closes it
 * (O_CLOEXEC) and the new image opens its own.
 *
 * The descriptor is the shim's, not the program's: the hooks ask
 * tracefd_guard() before close, dup2, dup3 and fcntl(F_DUPFD*) so that the
 * program sees that number as not open (close gives EBADF) and may take it
 * (dup2 onto it moves ours first), tracefd_split() keeps close_range and
 * closefrom off it, tracefd_fixup() gives the program the number the kernel
 * skipped because ours sat on it, and tracefd_yield() gives the slot back
 * when the program hits EMFILE. After a yield, or when no free number is
 * left, the process writes "transiently": open, write, close per flush (the
 * behaviour before this module). Every write first checks with fstat that
 * the number still holds the file we opened (a raw syscall may have replaced
 * it); if not, it is forgotten, never closed.
 *
 * A vfork child shares our memory but not our descriptor table: there the
 * module changes no state, and only writes (through the inherited
 * descriptor if fstat still finds it, else transiently).
 *
 * All state is the module's own; no function allocates.
 */
#pragma once

#include <stdatomic.h>
#include <stddef.h>

/* The trace descriptor's number, or -1. Read with tracefd_peek(). */
extern atomic_int tracefd_num_;

static inline int tracefd_peek(void)
{
	return atomic_load_explicit(&tracefd_num_, memory_order_relaxed);
}

/* Opens path (emptying it when truncate) and places the descriptor.
 * Call once per image, before the program runs. @return 0 or -errno (then
 * the process writes transiently; -errno from open is worth a warning). */
int tracefd_open(const char *path, int truncate);

/* Appends the bytes of iov[0..n) (whole frames, possibly in pieces) to
 * path through the trace descriptor (or a transient one), with one
 * writev(2) unless it comes up short; iov is consumed. try: give up rather
 * than wait for the lock (signal path). @return 0, -EAGAIN (lock taken,
 * nothing written), -EMFILE/-ENFILE (no descriptor to be had: nothing
 * written, keep the bytes for later), or another -errno (some bytes may
 * have been written). */
struct iovec;
int tracefd_writev(const char *path, struct iovec *iov, int n, int try);

/* Before the program's dup2/dup3(oldfd, newfd) (newfd >= 0) or close/
 * fcntl(F_DUPFD*) of oldfd (newfd == -1). @return 0: make the real call;
 * -EBADF: fail it with EBADF without calling (oldfd is ours). When newfd is
 * ours, it is moved elsewhere first (or let go). */
int tracefd_guard(int oldfd, int newfd);

/* Runs the program's close_range(first, last, flags) with the trace
 * descriptor left out (split in two calls when it lies inside).
 * @return the real call's result (errno set on -1). */
int tracefd_close_range(unsigned int first, unsigned int last, int flags,
			int (*real)(unsigned int, unsigned int, int));

/* After the program got fd r from a call that returns the lowest free
 * number >= minfd: when the kernel skipped the trace descriptor to give r,
 * the program would have got the trace descriptor's number without us:
 * moves r there and lets ours go. @return the fd the program gets. Keeps
 * errno. */
int tracefd_fixup_slow(int r, int minfd);
static inline int tracefd_fixup(int r, int minfd)
{
	int t = tracefd_peek();

	if (__builtin_expect(t < 0 || r <= t, 1))
		return r;
	return tracefd_fixup_slow(r, minfd);
}

/* The program's call failed with EMFILE: lets the trace descriptor go when
 * we hold one (from then on the process writes transiently). @return 1
 * when the call is worth retrying. Keeps errno. */
int tracefd_yield(void);

/* 1 after the trace descriptor was given up (tracefd_yield, or its number
 * taken): the process writes transiently, opening the trace file at the
 * lowest free number for a moment at each flush, until a close of the
 * program's frees the top number and tracefd_reclaim() takes it back. */
extern atomic_int tracefd_lost_;

void tracefd_reclaim_slow(void);
/* After the program's successful close(2): takes a trace descriptor again
 * when it was given up and there is room. Keeps errno. */
static inline void tracefd_reclaim(void)
{
	if (__builtin_expect(atomic_load_explicit(&tracefd_lost_, memory_order_relaxed), 0))
		tracefd_reclaim_slow();
}

/* In the fork child (only thread): the lock is reset; the descriptor is
 * inherited and kept. */
void tracefd_after_fork_child(void);
