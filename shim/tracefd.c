/* SPDX-License-Identifier: MIT */
/* tracefd.c -- the trace descriptor: placed high, invisible to the program (see tracefd.h). */
/* fcntl must be the plain libc symbol (meson's _FILE_OFFSET_BITS=64 renames
 * it to fcntl64), as in hook_net.c. */
#undef _FILE_OFFSET_BITS

#include "shim/tracefd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/hot.h"
#include "common/log.h"
#include "shim/hooks_proc.h"
#include "shim/real.h"

#define TOP_MAX	    1024 /* stay below FD_SETSIZE: select() users keep their range */
#define PROBE_SLOTS 64 /* free numbers looked for below the top, at most */

atomic_int tracefd_num_ = -1;
atomic_int tracefd_lost_;
/* Taken around every use and change of the descriptor, so that the writer
 * never writes to a number the program is just taking over. Never held
 * across a program's own call. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static dev_t t_dev;
static ino_t t_ino;
/* 1 once the process writes transiently (open/write/close per flush). */
static int transient;
static const char *t_path; /* the trace file's, from tracefd_open */

/* @return 1 when fd still holds the file we opened. */
static int is_ours(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && st.st_dev == t_dev && st.st_ino == t_ino;
}

/* Lets the number go without closing it: it is no longer our file. */
static void forget(void)
{
	atomic_store_explicit(&tracefd_num_, -1, memory_order_relaxed);
	transient = 1;
	atomic_store_explicit(&tracefd_lost_, 1, memory_order_relaxed);
}

/* Copies fd to the highest free number below top, never to avoid.
 * @return the new fd (close-on-exec) or -errno. */
AT_HOT static int move_below(int fd, int avoid, int top)
{
	int n, r, tries = 0;

	for (n = top - 1; n > 2 && tries < PROBE_SLOTS; n--) {
		if (n == avoid || n == fd)
			continue;
		tries++;
		if (REAL(fcntl)(n, F_GETFD) >= 0 || errno != EBADF)
			continue;
		/* lowest free >= n: n itself unless a thread took it meanwhile */
		r = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, n);
		if (r < 0)
			return -errno;
		if (r == n)
			return r;
		REAL(close)(r);
	}
	return -EMFILE;
}

/* The soft RLIMIT_NOFILE. */
static int soft_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur > (rlim_t)INT_MAX)
		return INT_MAX;
	return (int)rl.rlim_cur;
}

/* Copies fd to the highest free number below min(RLIMIT_NOFILE, TOP_MAX);
 * with wide, when there is none, below RLIMIT_NOFILE (the program already
 * uses numbers past TOP_MAX). @return the new fd or -errno. */
AT_HOT static int move_high(int fd, int avoid, int wide)
{
	int lim = soft_limit();
	int r = move_below(fd, avoid, lim < TOP_MAX ? lim : TOP_MAX);

	if (r == -EMFILE && wide && lim > TOP_MAX)
		r = move_below(fd, avoid, lim);
	return r;
}

/* Empties the trace file that fd holds, through a descriptor of its own
 * that is closed at once, and only when there is something to empty (the
 * CLI created it empty; a new path is empty). Not O_TRUNC on the descriptor
 * kept: ext4 takes a truncation to zero for a file about to be rewritten
 * (auto_da_alloc) and flushes the file's data when that descriptor is
 * closed, which for the kept one is at exit: 50-100 us in every root
 * process, and the next run's truncation of that file then waited 0.4 to
 * 4 ms for the I/O. Closing the other descriptor ends that state while
 * nothing has been written yet. Data is as durable as in a file the
 * process created. */
static void empty_trace(int fd, const char *path)
{
	struct stat st, tst;
	int tfd;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
		return;
	tfd = REAL(open)(path, O_WRONLY | O_CLOEXEC);
	/* the path may have been replaced since: then empty what fd holds */
	if (tfd < 0 || fstat(tfd, &tst) < 0 || tst.st_dev != st.st_dev || tst.st_ino != st.st_ino) {
		if (tfd >= 0)
			REAL(close)(tfd);
		tfd = fd;
	}
	if (ftruncate(tfd, 0) < 0)
		log_warn("cannot empty trace '%s': %s", path, strerror(errno));
	if (tfd != fd)
		REAL(close)(tfd);
}

AT_HOT int tracefd_open(const char *path, int truncate)
{
	int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC;
	struct stat st;
	int fd, hi, r = 0;

	t_path = path;
	fd = REAL(open)(path, flags, 0600);
	if (fd < 0)
		return -errno;
	if (truncate)
		empty_trace(fd, path);
	pthread_mutex_lock(&lock);
	hi = move_high(fd, -1, 0);
	if (hi < 0 || fstat(hi, &st) < 0) {
		/* no room up there: write transiently */
		if (hi >= 0)
			REAL(close)(hi);
		transient = 1;
		goto out;
	}
	t_dev = st.st_dev;
	t_ino = st.st_ino;
	transient = 0;
	atomic_store_explicit(&tracefd_num_, hi, memory_order_relaxed);
out:
	pthread_mutex_unlock(&lock);
	REAL(close)(fd);
	return r;
}

/* Writes every byte of iov[0..n), one writev(2) while nothing is short:
 * one O_APPEND write of a regular file is one append, so a frame written
 * whole never interleaves with another process's. iov is consumed. */
AT_HOT static int write_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = REAL(writev)(fd, iov, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		for (; n > 0 && (size_t)w >= iov->iov_len; iov++, n--)
			w -= (ssize_t)iov->iov_len;
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

AT_HOT int tracefd_writev(const char *path, struct iovec *iov, int n, int try)
{
	int fd, r;

	if (try ? pthread_mutex_trylock(&lock) : pthread_mutex_lock(&lock))
		return -EAGAIN;
	fd = tracefd_peek();
	if (fd >= 0 && !is_ours(fd)) {
		/* Replaced behind our back (a raw dup2 or close): not ours to
		 * close. A vfork child changes nothing the parent relies on. */
		if (!shim_in_vfork_child())
			forget();
		fd = -1;
	}
	if (fd >= 0) {
		r = write_all(fd, iov, n);
		goto out;
	}
	fd = REAL(open)(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = write_all(fd, iov, n);
	REAL(close)(fd);
out:
	pthread_mutex_unlock(&lock);
	return r;
}

/* Moves the trace descriptor off its number (which the program is about to
 * take); lets it go if there is no room. Caller holds the lock; not in a
 * vfork child. */
static void vacate(int t)
{
	int hi = move_high(t, t, 1);

	if (hi < 0) {
		transient = 1;
		atomic_store_explicit(&tracefd_num_, -1, memory_order_relaxed);
		atomic_store_explicit(&tracefd_lost_, 1, memory_order_relaxed);
	} else {
		atomic_store_explicit(&tracefd_num_, hi, memory_order_relaxed);
	}
	REAL(close)(t);
}

int tracefd_guard(int oldfd, int newfd)
{
	int saved = errno, t, r = 0;

	if (tracefd_peek() < 0)
		return 0;
	pthread_mutex_lock(&lock);
	t = tracefd_peek();
	if (t < 0 || (t != oldfd && t != newfd))
		goto out;
	if (!is_ours(t)) {
		/* the program's own file now sits there */
		if (!shim_in_vfork_child())
			forget();
		goto out;
	}
	if (t == oldfd) {
		r = -EBADF;
		goto out;
	}
	/* t == newfd: the program takes the number. A vfork child leaves it
	 * to the real call, and writes transiently once fstat tells. */
	if (!shim_in_vfork_child())
		vacate(t);
out:
	pthread_mutex_unlock(&lock);
	errno = saved;
	return r;
}

int tracefd_close_range(unsigned int first, unsigned int last, int flags,
			int (*real)(unsigned int, unsigned int, int))
{
	int t = tracefd_peek();
	int r = 0;

	if (t < 0 || first > last || (unsigned int)t < first || (unsigned int)t > last)
		return real(first, last, flags);
	/* The kernel would have closed nothing on an unopened number. */
	if ((unsigned int)t > first)
		r = real(first, (unsigned int)t - 1, flags);
	if (r == 0 && (unsigned int)t < last)
		r = real((unsigned int)t + 1, last, flags);
	return r;
}

int tracefd_fixup_slow(int r, int minfd)
{
	int saved = errno, t, fdfl, hi;

	if (r < 0)
		return r;
	pthread_mutex_lock(&lock);
	t = tracefd_peek();
	if (t < 0 || r <= t || minfd > t || shim_in_vfork_child())
		goto out;
	if (!is_ours(t)) {
		forget();
		goto out;
	}
	/* Every number from minfd to t is taken, t by us: without the shim
	 * the program gets t. Ours moves up past TOP_MAX if it can (the
	 * program is there already), then dup3 replaces the old copy in one
	 * step, so no other thread can slip into t. */
	fdfl = REAL(fcntl)(r, F_GETFD);
	if (fdfl < 0)
		goto out;
	hi = move_high(t, r, 1);
	if (REAL(dup3)(r, t, (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
		if (hi >= 0)
			REAL(close)(hi);
		goto out;
	}
	REAL(close)(r);
	if (hi < 0) {
		/* given up, like tracefd_yield: a later close takes it back */
		transient = 1;
		atomic_store_explicit(&tracefd_lost_, 1, memory_order_relaxed);
	}
	atomic_store_explicit(&tracefd_num_, hi < 0 ? -1 : hi, memory_order_relaxed);
	r = t;
out:
	pthread_mutex_unlock(&lock);
	errno = saved;
	return r;
}

int tracefd_yield(void)
{
	int saved = errno, t, r = 0;

	if (tracefd_peek() < 0 || shim_in_vfork_child())
		return 0;
	pthread_mutex_lock(&lock);
	t = tracefd_peek();
	if (t >= 0) {
		if (is_ours(t))
			REAL(close)(t);
		forget();
		r = 1;
	}
	pthread_mutex_unlock(&lock);
	errno = saved;
	return r;
}

void tracefd_reclaim_slow(void)
{
	int saved = errno, lim, top, fd, hi;
	struct stat st;

	if (!t_path || shim_in_vfork_child() || pthread_mutex_trylock(&lock))
		return;
	if (!atomic_load_explicit(&tracefd_lost_, memory_order_relaxed) || tracefd_peek() >= 0)
		goto out;
	/* Only with the top number free: while the program holds the numbers
	 * up there, a close costs one fcntl, not an open of the trace. */
	lim = soft_limit();
	top = (lim < TOP_MAX ? lim : TOP_MAX) - 1;
	if (top <= 2 || REAL(fcntl)(top, F_GETFD) >= 0 || errno != EBADF)
		goto out;
	/* on the number the program has just freed, for a moment */
	fd = REAL(open)(t_path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		goto out;
	hi = move_high(fd, -1, 0);
	if (hi >= 0 && fstat(hi, &st) == 0) {
		t_dev = st.st_dev;
		t_ino = st.st_ino;
		transient = 0;
		atomic_store_explicit(&tracefd_lost_, 0, memory_order_relaxed);
		atomic_store_explicit(&tracefd_num_, hi, memory_order_relaxed);
	} else if (hi >= 0) {
		REAL(close)(hi);
	}
	REAL(close)(fd);
out:
	pthread_mutex_unlock(&lock);
	errno = saved;
}

void tracefd_after_fork_child(void)
{
	pthread_mutex_init(&lock, NULL);
}
