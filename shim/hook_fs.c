/* SPDX-License-Identifier: MIT */
/* hook_fs.c -- file opens: the open/openat/creat/fopen family, including the fortified __open*_2.
 *
 * Every entry point is its own hook: libc never calls one through another's
 * symbol (fopen and creat use internal opens), so hooking open alone would
 * miss most of them. open and open64 are the same function in glibc 2.36;
 * both symbols are defined, as thin wrappers, so the event names the one the
 * program called.
 *
 * Besides recording, every successful open keeps the fd table right: a
 * random device opened for reading becomes FD_URANDOM (its reads are then
 * recorded by the read hooks), and any other fd loses a stale kind left by a
 * close the shim never saw (fclose, closedir and friends close internally).
 */
/* The fortified inline wrappers of <fcntl.h> would clash with our
 * definitions, and with _FILE_OFFSET_BITS=64 (meson's default) the headers
 * rename open to open64 and so on: we define every symbol by its own name. */
#undef _FORTIFY_SOURCE
#undef _FILE_OFFSET_BITS

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/canon.h"
#include "common/hot.h"
#include "common/json.h"
#include "shim/fdtab.h"
#include "shim/governance.h"
#include "shim/hooks.h"
#include "shim/real.h"
#include "shim/replayer.h"
#include "shim/shim.h"
#include "shim/tracefd.h"

/* x86_64 glibc defines O_LARGEFILE as 0 (it is implied there); the kernel
 * bit still reaches us from programs that pass it by value. */
#define KERNEL_O_LARGEFILE 0100000

struct flag_name {
	int bits;
	const char *name;
};

/* Composite flags come before their parts: O_TMPFILE includes the
 * O_DIRECTORY bit and O_SYNC the O_DSYNC bit, and a flag is named only when
 * all its bits are set, after which they are removed. */
static const struct flag_name flag_names[] = {
	{ O_TMPFILE, "O_TMPFILE" },	{ O_SYNC, "O_SYNC" },
	{ O_CREAT, "O_CREAT" },		{ O_EXCL, "O_EXCL" },
	{ O_NOCTTY, "O_NOCTTY" },	{ O_TRUNC, "O_TRUNC" },
	{ O_APPEND, "O_APPEND" },	{ O_NONBLOCK, "O_NONBLOCK" },
	{ O_DSYNC, "O_DSYNC" },		{ O_ASYNC, "O_ASYNC" },
	{ O_DIRECT, "O_DIRECT" },	{ KERNEL_O_LARGEFILE, "O_LARGEFILE" },
	{ O_DIRECTORY, "O_DIRECTORY" }, { O_NOFOLLOW, "O_NOFOLLOW" },
	{ O_NOATIME, "O_NOATIME" },	{ O_CLOEXEC, "O_CLOEXEC" },
	{ O_PATH, "O_PATH" },
};

/* Bounded string builder: never overflows, always NUL-terminated. */
struct sb {
	char *p;
	size_t len, cap;
};

static void sb_puts(struct sb *s, const char *str)
{
	while (*str && s->len + 1 < s->cap)
		s->p[s->len++] = *str++;
	s->p[s->len] = '\0';
}

static void sb_uint(struct sb *s, unsigned v, unsigned base, int min_digits)
{
	char tmp[16];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v && n < (int)sizeof(tmp));
	while (n < min_digits && n < (int)sizeof(tmp))
		tmp[n++] = '0';
	while (n > 0 && s->len + 1 < s->cap)
		s->p[s->len++] = tmp[--n];
	s->p[s->len] = '\0';
}

/* "O_WRONLY|O_CREAT|O_CLOEXEC"; bits without a name end as "|0x...". */
static void format_flags(char *out, size_t n, int flags)
{
	static const char *const acc[] = { "O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE" };
	struct sb s = { .p = out, .len = 0, .cap = n };
	unsigned rest = (unsigned)flags & ~(unsigned)O_ACCMODE;

	sb_puts(&s, acc[flags & O_ACCMODE]);
	for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++) {
		unsigned bits = (unsigned)flag_names[i].bits;

		if ((rest & bits) != bits)
			continue;
		sb_puts(&s, "|");
		sb_puts(&s, flag_names[i].name);
		rest &= ~bits;
	}
	if (rest) {
		sb_puts(&s, "|0x");
		sb_uint(&s, rest, 16, 1);
	}
}

/* "0644": octal with at least four digits, as chmod(1) writes it. */
static void format_mode(char *out, size_t n, mode_t mode)
{
	struct sb s = { .p = out, .len = 0, .cap = n };

	sb_uint(&s, (unsigned)mode, 8, 4);
}

/* Keeps the fd table right after a successful open (see the file comment). */
static void classify(int fd, const char *path, int flags)
{
	if (random_note_open(fd, path, flags))
		return;
	if (__builtin_expect(fdtab_kind(fd) != FD_NONE, 0))
		fdtab_clear(fd);
}

/* The trace file itself is never an event: the core opens it with the guard
 * set anyway, this is belt and braces. */
static int is_trace_file(const char *path)
{
	return path[0] == '/' && strcmp(path, shim_proc.trace_path) == 0;
}

struct open_call {
	const char *fn;
	int dirfd; /* AT_FDCWD when the call has none */
	const char *path;
	const char *fmode; /* fopen's mode string, else NULL */
	int flags;
	int has_mode;
	mode_t mode;
};

/* @return 1 when path starts with one of ATTRACE_ALLOW's colon-separated
 * prefixes (a prefix matches whole components: "/data" allows "/data/x",
 * not "/database"). */
static int allowed(const char *path)
{
	const char *a = shim_config.allow;

	while (a && *a) {
		const char *e = strchr(a, ':');
		size_t n = e ? (size_t)(e - a) : strlen(a);

		while (n > 1 && a[n - 1] == '/')
			n--;
		if (n && strncmp(path, a, n) == 0 &&
		    (path[n] == '\0' || path[n] == '/' || a[n - 1] == '/'))
			return 1;
		a = e ? e + 1 : NULL;
	}
	return 0;
}

/* Replay: an open the live run never made is a filesystem leak, unless the
 * path is a system location or language cache (the fingerprint ignores
 * those too) or ATTRACE_ALLOW lets it. */
static __attribute__((noinline, cold)) void replay_check(const struct open_call *c)
{
	if (rp_path_known(c->path)) {
		rp_consume_simple("file_open", c->path);
		return;
	}
	if (canon_path_ignored(c->path) || allowed(c->path) || is_trace_file(c->path) ||
	    (shim_config.trace && strcmp(c->path, shim_config.trace) == 0))
		return;
	gov_violation(GOV_LEAK, "filesystem leak: %s(\"%s\")", c->fn, c->path);
}

/* Finishes any open-family hook: classifies fd, records the event, and
 * preserves errno. @return fd unchanged. */
AT_HOT static int open_done(const struct open_call *c, int fd)
{
	int saved = errno;
	struct shim_thread *t;
	struct buf *b;
	char tmp[256];

	/* A bad path pointer made the call fail with EFAULT: never read it. */
	if (fd < 0 && saved == EFAULT)
		return fd;
	if (fd >= 0 && !c->fmode)
		classify(fd, c->path, c->flags);
	t = shim_enter();
	if (!t)
		goto out;
	if (is_trace_file(c->path))
		goto leave;
	if (__builtin_expect(shim_replaying, 0))
		replay_check(c);
	b = ev_begin(t, "file_open");
	json_kv_str(b, "fn", c->fn);
	json_kv_str(b, "path", c->path);
	if (c->dirfd != AT_FDCWD)
		json_kv_int(b, "dirfd", c->dirfd);
	if (c->fmode) {
		json_kv_str(b, "flags", c->fmode);
	} else {
		format_flags(tmp, sizeof(tmp), c->flags);
		json_kv_str(b, "flags", tmp);
	}
	if (c->has_mode) {
		format_mode(tmp, sizeof(tmp), c->mode);
		json_kv_str(b, "mode", tmp);
	}
	if (fd >= 0)
		json_kv_int(b, "fd", fd);
	else
		json_kv_str(b, "errno", shim_errno_name(saved));
	ev_end(t);
leave:
	shim_leave(t);
out:
	errno = saved;
	return fd;
}

/* Reads open's optional mode argument exactly when glibc's own open does. */
#define OPEN_MODE(flags, last, ret_mode)                        \
	do {                                                    \
		if (__OPEN_NEEDS_MODE(flags)) {                 \
			va_list ap_;                            \
			va_start(ap_, last);                    \
			*(ret_mode) = (mode_t)va_arg(ap_, int); \
			va_end(ap_);                            \
		}                                               \
	} while (0)

AT_HOT SHIM_EXPORT int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	int fd;

	OPEN_MODE(flags, flags, &mode);
	fd = REAL(open)(path, flags, mode);
	if (__builtin_expect(fd < 0 && errno == EMFILE, 0) && tracefd_yield())
		fd = REAL(open)(path, flags, mode);
	fd = tracefd_fixup(fd, 0);
	return open_done(&(struct open_call){ .fn = "open",
					      .dirfd = AT_FDCWD,
					      .path = path,
					      .flags = flags,
					      .has_mode = __OPEN_NEEDS_MODE(flags),
					      .mode = mode },
			 fd);
}

AT_HOT SHIM_EXPORT int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;
	int fd;

	OPEN_MODE(flags, flags, &mode);
	fd = REAL(open64)(path, flags, mode);
	if (__builtin_expect(fd < 0 && errno == EMFILE, 0) && tracefd_yield())
		fd = REAL(open64)(path, flags, mode);
	fd = tracefd_fixup(fd, 0);
	return open_done(&(struct open_call){ .fn = "open64",
					      .dirfd = AT_FDCWD,
					      .path = path,
					      .flags = flags,
					      .has_mode = __OPEN_NEEDS_MODE(flags),
					      .mode = mode },
			 fd);
}

AT_HOT SHIM_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	int fd;

	OPEN_MODE(flags, flags, &mode);
	fd = REAL(openat)(dirfd, path, flags, mode);
	if (__builtin_expect(fd < 0 && errno == EMFILE, 0) && tracefd_yield())
		fd = REAL(openat)(dirfd, path, flags, mode);
	fd = tracefd_fixup(fd, 0);
	return open_done(&(struct open_call){ .fn = "openat",
					      .dirfd = dirfd,
					      .path = path,
					      .flags = flags,
					      .has_mode = __OPEN_NEEDS_MODE(flags),
					      .mode = mode },
			 fd);
}

AT_HOT SHIM_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	int fd;

	OPEN_MODE(flags, flags, &mode);
	fd = REAL(openat64)(dirfd, path, flags, mode);
	if (__builtin_expect(fd < 0 && errno == EMFILE, 0) && tracefd_yield())
		fd = REAL(openat64)(dirfd, path, flags, mode);
	fd = tracefd_fixup(fd, 0);
	return open_done(&(struct open_call){ .fn = "openat64",
					      .dirfd = dirfd,
					      .path = path,
					      .flags = flags,
					      .has_mode = __OPEN_NEEDS_MODE(flags),
					      .mode = mode },
			 fd);
}

/* creat(p, m) is open(p, O_CREAT|O_WRONLY|O_TRUNC, m): record those flags. */
SHIM_EXPORT int creat(const char *path, mode_t mode)
{
	int fd = REAL(creat)(path, mode);

	if (__builtin_expect(fd < 0 && errno == EMFILE, 0) && tracefd_yield())
		fd = REAL(creat)(path, mode);
	fd = tracefd_fixup(fd, 0);
	return open_done(&(struct open_call){ .fn = "creat",
					      .dirfd = AT_FDCWD,
					      .path = path,
					      .flags = O_CREAT | O_WRONLY | O_TRUNC,
					      .has_mode = 1,
					      .mode = mode },
			 fd);
}

SHIM_EXPORT int creat64(const char *path, mode_t mode)
{
	int fd = REAL(creat64)(path, mode);

	if (__builtin_expect(fd < 0 && errno == EMFILE, 0) && tracefd_yield())
		fd = REAL(creat64)(path, mode);
	fd = tracefd_fixup(fd, 0);
	return open_done(&(struct open_call){ .fn = "creat64",
					      .dirfd = AT_FDCWD,
					      .path = path,
					      .flags = O_CREAT | O_WRONLY | O_TRUNC,
					      .has_mode = 1,
					      .mode = mode },
			 fd);
}

/* The _FORTIFY_SOURCE entry points: called for opens without a mode (glibc
 * aborts the program in them if O_CREAT or O_TMPFILE is set). */
SHIM_EXPORT int __open_2(const char *path, int flags)
{
	int fd = REAL(__open_2)(path, flags);

	if (__builtin_expect(fd < 0 && errno == EMFILE, 0) && tracefd_yield())
		fd = REAL(__open_2)(path, flags);
	fd = tracefd_fixup(fd, 0);
	return open_done(
		&(struct open_call){
			.fn = "__open_2", .dirfd = AT_FDCWD, .path = path, .flags = flags },
		fd);
}

SHIM_EXPORT int __open64_2(const char *path, int flags)
{
	int fd = REAL(__open64_2)(path, flags);

	if (__builtin_expect(fd < 0 && errno == EMFILE, 0) && tracefd_yield())
		fd = REAL(__open64_2)(path, flags);
	fd = tracefd_fixup(fd, 0);
	return open_done(
		&(struct open_call){
			.fn = "__open64_2", .dirfd = AT_FDCWD, .path = path, .flags = flags },
		fd);
}

SHIM_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	int fd = REAL(__openat_2)(dirfd, path, flags);

	if (__builtin_expect(fd < 0 && errno == EMFILE, 0) && tracefd_yield())
		fd = REAL(__openat_2)(dirfd, path, flags);
	fd = tracefd_fixup(fd, 0);
	return open_done(
		&(struct open_call){
			.fn = "__openat_2", .dirfd = dirfd, .path = path, .flags = flags },
		fd);
}

SHIM_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	int fd = REAL(__openat64_2)(dirfd, path, flags);

	if (__builtin_expect(fd < 0 && errno == EMFILE, 0) && tracefd_yield())
		fd = REAL(__openat64_2)(dirfd, path, flags);
	fd = tracefd_fixup(fd, 0);
	return open_done(
		&(struct open_call){
			.fn = "__openat64_2", .dirfd = dirfd, .path = path, .flags = flags },
		fd);
}

/* fopen's fd is not classified: see hook_random.c on FILE* reads. A stale
 * kind on it is still cleared, since the kernel just handed the number out. */
AT_HOT static FILE *fopen_done(const char *fn, const char *path, const char *fmode, FILE *f)
{
	int saved = errno;
	int fd = -1;

	if (f) {
		fd = fileno(f);
		if (__builtin_expect(fdtab_kind(fd) != FD_NONE, 0))
			fdtab_clear(fd);
	}
	errno = saved;
	open_done(&(struct open_call){ .fn = fn,
				       .dirfd = AT_FDCWD,
				       .path = path,
				       .fmode = fmode ? fmode : "",
				       .flags = 0 },
		  f ? fd : -1);
	return f;
}

AT_HOT SHIM_EXPORT FILE *fopen(const char *path, const char *mode)
{
	FILE *f = REAL(fopen)(path, mode);

	/* No tracefd_fixup: the FILE holds its number. */
	if (__builtin_expect(!f && errno == EMFILE, 0) && tracefd_yield())
		f = REAL(fopen)(path, mode);
	return fopen_done("fopen", path, mode, f);
}

AT_HOT SHIM_EXPORT FILE *fopen64(const char *path, const char *mode)
{
	FILE *f = REAL(fopen64)(path, mode);

	/* No tracefd_fixup: the FILE holds its number. */
	if (__builtin_expect(!f && errno == EMFILE, 0) && tracefd_yield())
		f = REAL(fopen64)(path, mode);
	return fopen_done("fopen64", path, mode, f);
}
