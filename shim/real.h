/* SPDX-License-Identifier: MIT */
/* real.h -- the table of real libc functions behind every hook.
 *
 * REAL_FUNCS lists every hooked function once. Each hook resolves its own
 * symbol with dlsym(RTLD_NEXT) the first time it runs, through REAL() (see
 * the rules in real.c for why not all at start-up). For each NAME there is
 * a typedef NAME_fn and a pointer real_NAME.
 */
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* glibc declares these only under some feature macros or not at all. */
int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv, void (*init)(void),
		      void (*fini)(void), void (*rtld_fini)(void), void *stack_end);
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags, struct sockaddr *addr,
		       socklen_t *alen);
int close_range(unsigned int first, unsigned int last, int flags);
void closefrom(int lowfd);

/* X(name): every hooked libc function. Keep grouped by hook file. */
/* A hand-laid table: clang-format wraps it differently on every pass. */
/* clang-format off */
#define REAL_FUNCS(X) \
	/* hook_net.c, hook_netio.c */ \
	X(socket) X(__read_chk) X(connect) X(accept) X(accept4) X(send) X(sendto) \
	X(sendmsg) X(sendmmsg) X(recv) X(recvfrom) X(recvmsg) X(recvmmsg) X(read) X(write) \
	X(readv) X(writev) X(shutdown) X(close) X(close_range) X(closefrom) X(dup) X(dup2) \
	X(dup3) X(fcntl) X(fcntl64) X(__recv_chk) X(__recvfrom_chk) X(getsockopt) X(setsockopt) \
	X(getsockname) X(getpeername) X(socketpair) \
	/* hook_dns.c */ \
	X(getaddrinfo) X(gethostbyname) X(gethostbyname_r) X(gethostbyname2) \
	X(gethostbyname2_r) X(getnameinfo) \
	/* hook_time.c */ \
	X(clock_gettime) X(gettimeofday) X(time) X(timespec_get) \
	/* hook_random.c */ \
	X(getrandom) X(getentropy) X(arc4random) X(arc4random_buf) X(arc4random_uniform) \
	X(syscall) \
	/* hook_fs.c */ \
	X(open) X(open64) X(openat) X(openat64) X(creat) X(creat64) X(fopen) X(fopen64) \
	X(__open_2) X(__open64_2) X(__openat_2) X(__openat64_2) \
	/* hook_thread.c */ \
	X(pthread_create) \
	/* hook_proc.c, hook_signal.c */ \
	X(fork) X(posix_spawn) X(posix_spawnp) X(execve) X(execv) X(execvp) X(execvpe) \
	X(fexecve) X(system) X(exit) X(_exit) X(_Exit) X(__libc_start_main) X(sigaction) \
	X(signal) X(waitpid) X(wait) X(wait3) X(wait4) X(waitid) X(popen) X(unshare) \
	/* used by the shim itself, never hooked */ \
	X(nanosleep) X(getpid)
/* clang-format on */

#define REAL_DECLARE(name)                  \
	typedef __typeof__(name) name##_fn; \
	extern name##_fn *real_##name;
REAL_FUNCS(REAL_DECLARE)
#undef REAL_DECLARE

/* Resolves the async-signal-safe functions a signal handler may call. */
void real_init_early(void);
/* Resolves one symbol with dlsym(RTLD_NEXT); never returns our own hook. */
void *real_resolve(const char *name, void *self);

/* real_NAME, resolved on the first call (see rule 1 in real.c). */
#define REAL(name)                                                                    \
	(*({                                                                          \
		if (__builtin_expect(real_##name == NULL, 0))                         \
			real_##name = (name##_fn *)real_resolve(#name, (void *)name); \
		real_##name;                                                          \
	}))
