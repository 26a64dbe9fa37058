/* SPDX-License-Identifier: MIT */
/* hook_random.c -- entropy the program reads: getrandom, getentropy, arc4random*, syscall(SYS_getrandom), /dev/urandom.
 *
 * Each source is its own hook because libc never routes one through
 * another's symbol: OpenSSL 3 seeds through getentropy(), Python through
 * getrandom(), glibc's arc4random* through an internal getrandom, and some
 * programs issue syscall(SYS_getrandom) themselves. Bytes are always stored
 * as base64 (data_b64): they are random, so almost never valid UTF-8.
 *
 * Reads of /dev/urandom and /dev/random through read()/readv() are recorded
 * via rec_urandom_read(), called by the read hooks for fds that hook_fs.c
 * marked FD_URANDOM. Limitation: a FILE* from fopen("/dev/urandom") reads
 * through glibc's internal __read, which no LD_PRELOAD hook sees, so those
 * bytes are not recorded (and fopen'ed fds are not marked, because their
 * fclose is just as invisible and would leave a stale mark behind).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/hot.h"
#include "common/json.h"
#include "shim/fdtab.h"
#include "shim/governance.h"
#include "shim/hooks.h"
#include "shim/real.h"
#include "shim/replayer.h"
#include "shim/shim.h"

/* fdtab objects telling the two devices apart (their reads are the same
 * kind). Static and never released: they start with one reference of their
 * own, so the table's put never drops them to zero. */
static struct fd_obj dev_random_obj = { .refs = 1, .release = NULL };

/* One random event. n is the byte count or -1 (then err holds errno). */
struct rnd {
	const char *source;
	const void *data;
	ssize_t n;
	int err;
	int has_flags;
	unsigned flags;
	int has_bound;
	uint32_t bound;
};

AT_HOT static void emit(struct shim_thread *t, const struct rnd *r)
{
	struct buf *b = ev_begin(t, "random");

	json_kv_str(b, "source", r->source);
	json_kv_int(b, "n", r->n);
	if (r->has_flags)
		json_kv_int(b, "flags", r->flags);
	if (r->has_bound)
		json_kv_int(b, "bound", r->bound);
	if (r->n >= 0) {
		/* Always base64, never json_kv_bytes: the schema names data_b64. */
		json_key(b, "data_b64");
		buf_putc(b, '"');
		b64_encode(b, r->data, (size_t)r->n);
		buf_putc(b, '"');
	} else {
		json_kv_str(b, "errno", shim_errno_name(r->err));
	}
	ev_end(t);
}

/* Replay: the recorded bytes in place of the fresh ones. */
static __attribute__((noinline, cold)) void serve(struct shim_thread *t, const struct rnd *r)
{
	if (t->tid < 0)
		t->tid = shim_new_tid();
	if (rp_random(t, r->source, (void *)r->data, (size_t)r->n) < 0)
		gov_violation(GOV_LEAK, "entropy leak: %s(%zd) beyond the recorded bytes",
			      r->source, r->n);
}

/* Records r if this thread may record; preserves errno. In replay, first
 * overwrites the caller's bytes with the recorded ones. */
AT_HOT static void record(const struct rnd *r)
{
	int saved = errno;
	struct shim_thread *t = shim_enter();

	if (!t)
		return;
	/* a TLS library's handshake keys: see hook_tls.c */
	if (__builtin_expect(t->in_tls, 0)) {
		shim_leave(t);
		errno = saved;
		return;
	}
	if (__builtin_expect(shim_replaying, 0) && r->n > 0)
		serve(t, r);
	emit(t, r);
	shim_leave(t);
	errno = saved;
}

AT_HOT SHIM_EXPORT ssize_t getrandom(void *buf, size_t len, unsigned int flags)
{
	ssize_t r = REAL(getrandom)(buf, len, flags);

	record(&(struct rnd){ .source = "getrandom",
			      .data = buf,
			      .n = r < 0 ? -1 : r,
			      .err = errno,
			      .has_flags = 1,
			      .flags = flags });
	return r;
}

SHIM_EXPORT int getentropy(void *buf, size_t len)
{
	int r = REAL(getentropy)(buf, len);

	/* getentropy fills all len bytes or fails (len > 256 gives EIO). */
	record(&(struct rnd){ .source = "getentropy",
			      .data = buf,
			      .n = r == 0 ? (ssize_t)len : -1,
			      .err = errno });
	return r;
}

SHIM_EXPORT uint32_t arc4random(void)
{
	uint32_t v = REAL(arc4random)();

	/* The value's bytes in memory order (little-endian on every target we build). */
	record(&(struct rnd){ .source = "arc4random", .data = &v, .n = sizeof(v) });
	return v;
}

SHIM_EXPORT void arc4random_buf(void *buf, size_t len)
{
	REAL(arc4random_buf)(buf, len);
	record(&(struct rnd){ .source = "arc4random_buf", .data = buf, .n = (ssize_t)len });
}

SHIM_EXPORT uint32_t arc4random_uniform(uint32_t bound)
{
	uint32_t v = REAL(arc4random_uniform)(bound);

	/* The result (< bound), not the raw entropy behind it: that is what
	 * replay must hand back. */
	record(&(struct rnd){ .source = "arc4random_uniform",
			      .data = &v,
			      .n = sizeof(v),
			      .has_bound = 1,
			      .bound = bound });
	return v;
}

/* syscall() is variadic and takes up to six register arguments. We cannot
 * know how many the caller passed, so read six longs (extra ones are
 * whatever sits in the argument registers, which the kernel ignores) and
 * pass them all on. Only SYS_getrandom is recorded; every other number is
 * passed through untouched, errno included. AT_HOT (common/hot.h): the
 * shim's own start calls it too (shim_signals_init's restore, the
 * recorder's membarrier). */
AT_HOT SHIM_EXPORT long syscall(long number, ...)
{
	va_list ap;
	long a1, a2, a3, a4, a5, a6, r;

	va_start(ap, number);
	a1 = va_arg(ap, long);
	a2 = va_arg(ap, long);
	a3 = va_arg(ap, long);
	a4 = va_arg(ap, long);
	a5 = va_arg(ap, long);
	a6 = va_arg(ap, long);
	va_end(ap);
	r = REAL(syscall)(number, a1, a2, a3, a4, a5, a6);
	if (__builtin_expect(number != SYS_getrandom, 1))
		return r;
	record(&(struct rnd){ .source = "syscall_getrandom",
			      .data = (const void *)a1,
			      .n = r < 0 ? -1 : r,
			      .err = errno,
			      .has_flags = 1,
			      .flags = (unsigned)a3 });
	return r;
}

void rec_urandom_read(int fd, const void *buf, ssize_t n)
{
	int saved = errno;
	struct shim_thread *t = shim_enter();
	struct fd_obj *o;

	if (!t)
		return;
	/* Takes the fdtab lock, but only on random-device reads, which are rare. */
	o = fdtab_get(fd);
	struct rnd r = { .source = o == &dev_random_obj ? "/dev/random" : "/dev/urandom",
			 .data = buf,
			 .n = n < 0 ? -1 : n,
			 .err = saved };
	if (__builtin_expect(shim_replaying, 0) && r.n > 0)
		serve(t, &r);
	emit(t, &r);
	fdtab_put(o);
	shim_leave(t);
	errno = saved;
}

AT_HOT int random_note_open(int fd, const char *path, int flags)
{
	if ((flags & O_ACCMODE) == O_WRONLY || (flags & O_PATH) || strncmp(path, "/dev/", 5) != 0)
		return 0;
	if (strcmp(path + 5, "urandom") == 0)
		fdtab_set(fd, FD_URANDOM, NULL);
	else if (strcmp(path + 5, "random") == 0)
		fdtab_set(fd, FD_URANDOM, &dev_random_obj);
	else
		return 0;
	return 1;
}
