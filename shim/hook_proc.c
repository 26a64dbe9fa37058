/* SPDX-License-Identifier: MIT */
/* hook_proc.c -- processes: fork, exec*, posix_spawn*, system, popen, wait*, vfork children.
 *
 * Every new process gets its logical pid from its parent ("0.1", "0.1.2"),
 * assigned in the parent before the child exists, and learns it either from
 * the fork path (shim_after_fork_child) or from ATTRACE_CTX in the
 * environment that we hand to exec/posix_spawn (shim_child_env). The child
 * environment is rebuilt at every exec, so LD_PRELOAD and ATTRACE_* survive a
 * program that scrubs its environment (env -i).
 *
 * vfork is deliberately NOT hooked. A hook that calls the real vfork returns
 * in the child through the hook's own stack frame, the child then calls on
 * (exec) and overwrites that frame, and the parent later returns through
 * the clobbered frame. Implementing vfork as fork would be safe but changes
 * what programs may rely on (the parent suspended until exec, shared memory,
 * speed). Instead every exec hook checks whether it runs in a child that
 * shares the parent's memory (getpid() differs from the pid of this image):
 * then it allocates nothing and takes no lock (the parent may hold any of
 * them, frozen mid-way), takes the child's lpid from the atomic counter in
 * the shared memory (so the parent sees it spent), builds the environment in
 * arrays on its own stack, and execs. Because the child runs on the parent
 * thread's memory, including its TLS, it also leaves a note in a static slot
 * owned by that thread; the parent thread turns the note into the
 * process_spawn event the next time it passes through a process hook.
 *
 * A raw clone() without CLONE_VM that bypasses fork() is indistinguishable
 * here from a vfork child; its lpid comes from a counter the parent never
 * sees, so it may repeat one of the parent's later children. Nothing common
 * does that (glibc's posix_spawn uses CLONE_VM|CLONE_VFORK and execs through
 * an internal __execve, which is why posix_spawn passes the env itself).
 *
 * How a process ends (main, exit, _exit, _Exit, a fatal signal) is
 * hook_signal.c; proc.h holds what the two files share.
 */
#include <alloca.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/hot.h"
#include "common/json.h"
#include "shim/governance.h"
#include "shim/hooks.h"
#include "shim/hooks_proc.h"
#include "shim/proc.h"
#include "shim/real.h"
#include "shim/recorder.h"
#include "shim/replayer.h"
#include "shim/secrets.h"
#include "shim/shim.h"

extern char **environ;

/* glibc's execl builds its argv in a VLA with no limit; we bound it so a
 * runaway list fails with E2BIG (as the kernel would) instead of overflowing
 * the stack. 128K pointers = 1 MiB, still above what ARG_MAX lets through. */
#define EXEC_MAX_ARGS (128 * 1024)

static char *const empty_env[] = { NULL };

/* A leak found in a vfork child (Python's subprocess): the child shares
 * its parent's memory but cannot record, so it leaves the message here and
 * exits 86 without running the program; the parent reports it at its next
 * hooked call (its wait for the child, at the latest). */
static char vfork_leak[600];
static atomic_int vfork_leak_set;

/* Replay: running a program the live run never ran is a subprocess leak.
 * what is the path (exec, spawn) or "sh -c COMMAND" (system, popen). */
static void replay_check(const char *fn, const char *what)
{
	if (__builtin_expect(!shim_replaying, 1) || !what || rp_exec_known(what))
		return;
	/* A candidate that cannot run fails without running anything: Python
	 * tries execve on every PATH entry in turn. */
	if (fn[0] == 'e' && strchr(what, '/') && access(what, X_OK) != 0)
		return;
	if (shim_in_vfork_child()) {
		if (!gov_strict()) {
			gov_violation(GOV_LEAK, "subprocess leak: %s(\"%s\")", fn, what);
			return;
		}
		snprintf(vfork_leak, sizeof(vfork_leak), "subprocess leak: %s(\"%s\")", fn, what);
		atomic_store(&vfork_leak_set, 1);
		REAL(_exit)(86);
	}
	gov_violation(GOV_LEAK, "subprocess leak: %s(\"%s\")", fn, what);
}

static void replay_check_sh(const char *fn, const char *line)
{
	char key[600];

	if (__builtin_expect(!shim_replaying, 1) || !line)
		return;
	snprintf(key, sizeof(key), "sh -c %s", line);
	replay_check(fn, key);
}

AT_HOT int shim_in_vfork_child(void)
{
	return proc_active() && REAL(getpid)() != shim_proc.real_pid;
}

/* ------------------------------------------------------------------ */
/* Notes left by vfork children for their parent thread.               */

#define VNOTE_N	   16
#define VNOTE_PATH 512
#define VNOTE_ARGV 2048

enum { VNOTE_FREE, VNOTE_FILLING, VNOTE_READY };

/* Written only by a vfork child while its parent thread is suspended in
 * vfork, read only by that thread afterwards: the kernel's vfork wait orders
 * the two, the atomics only keep other threads off a slot they do not own. */
struct vnote {
	atomic_int state;
	pthread_t owner; /* the parent thread (the child runs on its TLS) */
	pid_t child_pid;
	int err; /* errno of the last failed exec, 0 if none */
	int truncated; /* path or argv did not fit */
	int argc;
	char lpid[sizeof(shim_proc.lpid)];
	char path[VNOTE_PATH];
	char argv[VNOTE_ARGV]; /* argc NUL-terminated strings */
};

SHIM_LARGE static struct vnote vnotes[VNOTE_N];
static atomic_int vnotes_ready;

static void copy_trunc(char *dst, size_t n, const char *src, int *truncated)
{
	size_t len = src ? strnlen(src, n) : 0;

	if (len == n) {
		len = n - 1;
		*truncated = 1;
	}
	memcpy(dst, src ? src : "", len);
	dst[len] = '\0';
}

/* In a vfork child: the note for this child, created on its first exec
 * attempt (that is when the lpid is taken, so retries along PATH keep it).
 * NULL when every slot is in use; the caller then takes a fresh lpid. */
static struct vnote *vnote_for_child(pid_t pid, const char *path, char *const argv[])
{
	pthread_t self = pthread_self();
	struct vnote *v = NULL;

	for (int i = 0; i < VNOTE_N; i++) {
		struct vnote *c = &vnotes[i];

		if (atomic_load(&c->state) == VNOTE_READY && c->child_pid == pid &&
		    pthread_equal(c->owner, self)) {
			/* a retry (PATH search): the note tells the last try */
			copy_trunc(c->path, sizeof(c->path), path, &c->truncated);
			return c;
		}
	}
	for (int i = 0; i < VNOTE_N && !v; i++) {
		int expect = VNOTE_FREE;

		if (atomic_compare_exchange_strong(&vnotes[i].state, &expect, VNOTE_FILLING))
			v = &vnotes[i];
	}
	if (!v)
		return NULL;
	v->owner = self;
	v->child_pid = pid;
	v->err = 0;
	v->truncated = 0;
	v->argc = 0;
	shim_new_child_lpid(v->lpid, sizeof(v->lpid));
	copy_trunc(v->path, sizeof(v->path), path, &v->truncated);
	size_t off = 0;
	for (char *const *a = argv; a && *a; a++) {
		size_t len = strlen(*a) + 1;

		if (off + len > sizeof(v->argv)) {
			v->truncated = 1;
			break;
		}
		memcpy(v->argv + off, *a, len);
		off += len;
		v->argc++;
	}
	atomic_store(&v->state, VNOTE_READY);
	atomic_fetch_add(&vnotes_ready, 1);
	return v;
}

AT_HOT void shim_proc_pending(void)
{
	pthread_t self;
	struct shim_thread *t;

	if (__builtin_expect(atomic_load_explicit(&vfork_leak_set, memory_order_relaxed), 0) &&
	    REAL(getpid)() == shim_proc.real_pid && atomic_exchange(&vfork_leak_set, 0))
		gov_violation(GOV_LEAK, "%s", vfork_leak);

	if (__builtin_expect(atomic_load_explicit(&vnotes_ready, memory_order_relaxed) == 0, 1))
		return;
	/* The vfork child itself passes here too (it runs this thread's
	 * code on this thread's memory): only the real parent may emit. */
	if (!proc_active() || REAL(getpid)() != shim_proc.real_pid)
		return;
	self = pthread_self();
	for (int i = 0; i < VNOTE_N; i++) {
		struct vnote *v = &vnotes[i];
		struct buf *b;
		const char *a;

		if (atomic_load(&v->state) != VNOTE_READY || !pthread_equal(v->owner, self))
			continue;
		t = shim_enter();
		if (t) {
			b = ev_begin(t, "process_spawn");
			json_kv_str(b, "op", "vfork");
			json_kv_str(b, "child", v->lpid);
			json_kv_str(b, "path", v->path);
			json_key(b, "argv");
			json_arr_open(b);
			a = v->argv;
			for (int k = 0; k < v->argc; k++, a += strlen(a) + 1)
				secrets_json_strn(b, a, strlen(a));
			json_arr_close(b);
			if (v->truncated)
				json_kv_bool(b, "truncated", 1);
			json_kv_int(b, "real_pid", v->child_pid);
			if (v->err)
				json_kv_str(b, "errno", shim_errno_name(v->err));
			ev_end(t);
			if (__builtin_expect(shim_replaying, 0))
				rp_consume_simple("process_spawn", "vfork");
			shim_leave(t);
		} else if (shim_tls.busy) {
			return; /* keep the note for a later hook */
		}
		atomic_fetch_sub(&vnotes_ready, 1);
		atomic_store(&v->state, VNOTE_FREE);
	}
}

/* After fork the child has copies of the parent's notes, and the forking
 * thread's notes look like its own: drop them, they are the parent's. */
static void vnotes_forget(void)
{
	for (int i = 0; i < VNOTE_N; i++)
		atomic_store(&vnotes[i].state, VNOTE_FREE);
	atomic_store(&vnotes_ready, 0);
}

/* ------------------------------------------------------------------ */
/* Events                                                              */

static void kv_argv(struct buf *b, const char *key, char *const argv[])
{
	json_key(b, key);
	json_arr_open(b);
	for (char *const *a = argv; a && *a; a++)
		secrets_json_strn(b, *a, strlen(*a));
	json_arr_close(b);
}

/* process_spawn; child/path/argv may be NULL (left out), real_pid <= 0 and
 * err == 0 are left out. Preserves errno. */
static void emit_spawn(const char *op, const char *child, const char *path, char *const argv[],
		       pid_t real_pid, int err)
{
	int saved = errno;
	struct shim_thread *t = shim_enter();
	struct buf *b;

	if (!t)
		return;
	b = ev_begin(t, "process_spawn");
	json_kv_str(b, "op", op);
	if (child)
		json_kv_str(b, "child", child);
	if (path)
		json_kv_str(b, "path", path);
	if (argv)
		kv_argv(b, "argv", argv);
	if (real_pid > 0)
		json_kv_int(b, "real_pid", real_pid);
	if (err)
		json_kv_str(b, "errno", shim_errno_name(err));
	ev_end(t);
	if (__builtin_expect(shim_replaying, 0))
		rp_consume_simple("process_spawn", op);
	shim_leave(t);
	errno = saved;
}

/* ------------------------------------------------------------------ */
/* fork                                                                */

/* One fork at a time through the recorder's fork protocol: it stops the
 * writer thread, which two threads forking at once would do over each
 * other (one joining a writer the other just started). */
static pthread_mutex_t fork_lock = PTHREAD_MUTEX_INITIALIZER;

SHIM_EXPORT pid_t fork(void)
{
	struct shim_thread *t = &shim_tls;
	char lpid[sizeof(shim_proc.lpid)];
	pid_t r;
	int saved;

	if (!proc_active() || t->busy || shim_in_vfork_child())
		return REAL(fork)();
	shim_proc_pending();
	pthread_mutex_lock(&fork_lock);
	shim_new_child_lpid(lpid, sizeof(lpid));
	shim_before_fork();
	/* The recorder's locks are held from here until after_fork: the
	 * program's pthread_atfork handlers, which run inside fork(), must not
	 * record (they would wait on those locks), so they run as the shim. */
	t->busy = 1;
	r = REAL(fork)();
	saved = errno;
	if (r == 0) {
		pthread_mutex_init(&fork_lock, NULL);
		vnotes_forget();
		shim_after_fork_child(lpid);
		t->busy = 0;
		errno = saved;
		return 0;
	}
	shim_after_fork_parent();
	pthread_mutex_unlock(&fork_lock);
	t->busy = 0;
	if (r < 0)
		emit_spawn("fork", NULL, NULL, NULL, 0, saved);
	else
		emit_spawn("fork", lpid, NULL, NULL, r, 0);
	errno = saved;
	return r;
}

/* ------------------------------------------------------------------ */
/* exec                                                                */

enum exec_kind {
	EXEC_VE, /* execve semantics: path as given */
	EXEC_VPE, /* execvpe semantics: PATH search, ENOEXEC -> /bin/sh */
	EXEC_F, /* fexecve: an fd */
};

static int exec_real(enum exec_kind kind, const char *path, int fd, char *const argv[],
		     char *const envp[])
{
	switch (kind) {
	case EXEC_VPE:
		return REAL(execvpe)(path, argv, envp);
	case EXEC_F:
		return REAL(fexecve)(fd, argv, envp);
	case EXEC_VE:
	default:
		return REAL(execve)(path, argv, envp);
	}
}

/* Second try for a vfork child whose environment did not fit the first
 * arrays; a separate frame so the common case keeps a small stack. */
__attribute__((noinline)) static int exec_vfork_big(enum exec_kind kind, const char *path, int fd,
						    char *const argv[], char *const envp[],
						    const char *lpid)
{
	char *arr[8192];
	char strs[65536];
	char **env = shim_child_env(envp, lpid, 0, arr, sizeof(arr) / sizeof(arr[0]), strs,
				    sizeof(strs));

	return exec_real(kind, path, fd, argv, env ? env : (char **)envp);
}

/* exec in a child that shares the parent's memory: no malloc, no locks, no
 * events, no writes to shim state other than the atomic child counter and
 * this child's note. */
static int exec_vfork_child(enum exec_kind kind, const char *path, int fd, char *const argv[],
			    char *const envp[])
{
	char *arr[1024];
	char strs[16384];
	char own_lpid[sizeof(shim_proc.lpid)];
	const char *lpid = own_lpid;
	struct vnote *v = NULL;
	char **env;
	int r;

	if (shim_recording)
		v = vnote_for_child(REAL(getpid)(), path, argv);
	if (v)
		lpid = v->lpid;
	else
		shim_new_child_lpid(own_lpid, sizeof(own_lpid));
	env = shim_child_env(envp ? envp : empty_env, lpid, 0, arr, sizeof(arr) / sizeof(arr[0]),
			     strs, sizeof(strs));
	if (v)
		v->err = 0; /* stays 0 if this exec succeeds */
	if (env)
		r = exec_real(kind, path, fd, argv, env);
	else
		r = exec_vfork_big(kind, path, fd, argv, envp ? envp : empty_env, lpid);
	if (v)
		v->err = errno;
	return r;
}

static void fd_path(int fd, char *out, size_t n)
{
	char link[64] = "/proc/self/fd/";
	size_t len = strlen(link);
	char digits[16];
	int nd = 0;
	ssize_t got;

	if (fd < 0) {
		out[0] = '\0';
		return;
	}
	for (unsigned u = (unsigned)fd; nd == 0 || u; u /= 10)
		digits[nd++] = (char)('0' + u % 10);
	while (nd)
		link[len++] = digits[--nd];
	link[len] = '\0';
	got = readlink(link, out, n - 1);
	out[got > 0 ? got : 0] = '\0';
}

static int exec_common(enum exec_kind kind, const char *path, int fd, char *const argv[],
		       char *const envp[])
{
	char fdpath[4096];
	char **env;
	int r, saved;

	if (!proc_active() || shim_tls.busy)
		return exec_real(kind, path, fd, argv, envp);
	if (kind != EXEC_F)
		replay_check("execve", path);
	if (REAL(getpid)() != shim_proc.real_pid)
		return exec_vfork_child(kind, path, fd, argv, envp);

	shim_proc_pending();
	if (kind == EXEC_F) {
		fd_path(fd, fdpath, sizeof(fdpath));
		path = fdpath;
	}
	emit_spawn("exec", NULL, path, argv, 0, 0);
	/* The image is about to vanish: write out everything, then hand the
	 * next seq to the new image so its stream continues without a gap. */
	shim_before_exec();
	env = shim_child_env(envp ? envp : empty_env, shim_proc.lpid, atomic_load(&shim_proc.seq),
			     NULL, 0, NULL, 0);
	r = exec_real(kind, path, fd, argv, env ? env : (char **)envp);
	saved = errno;
	shim_env_free(env);
	/* Still here: the exec failed and this image records on. */
	emit_spawn("exec", NULL, path, NULL, 0, saved);
	errno = saved;
	return r;
}

SHIM_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	return exec_common(EXEC_VE, path, -1, argv, envp);
}

SHIM_EXPORT int execv(const char *path, char *const argv[])
{
	return exec_common(EXEC_VE, path, -1, argv, environ);
}

SHIM_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	return exec_common(EXEC_VPE, file, -1, argv, envp);
}

SHIM_EXPORT int execvp(const char *file, char *const argv[])
{
	return exec_common(EXEC_VPE, file, -1, argv, environ);
}

SHIM_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	return exec_common(EXEC_F, NULL, fd, argv, envp);
}

/* The execl family: collect the list like glibc does (arg plus everything
 * up to the first NULL after it, even when arg itself is NULL), on the stack
 * because these may run in a vfork child. A macro, since alloca'd memory
 * must belong to the hook's own frame. */
#define COLLECT_ARGS(argv, arg, want_env, envp)                    \
	do {                                                       \
		va_list ap_;                                       \
		size_t n_ = 1;                                     \
		va_start(ap_, arg);                                \
		while (n_ <= EXEC_MAX_ARGS && va_arg(ap_, char *)) \
			n_++;                                      \
		va_end(ap_);                                       \
		if (n_ > EXEC_MAX_ARGS) {                          \
			errno = E2BIG;                             \
			return -1;                                 \
		}                                                  \
		argv = alloca((n_ + 1) * sizeof(char *));          \
		va_start(ap_, arg);                                \
		argv[0] = (char *)arg;                             \
		for (size_t i_ = 1; i_ <= n_; i_++)                \
			argv[i_] = va_arg(ap_, char *);            \
		if (want_env)                                      \
			envp = va_arg(ap_, char **);               \
		va_end(ap_);                                       \
	} while (0)

SHIM_EXPORT int execl(const char *path, const char *arg, ...)
{
	char **envp = environ;
	char **argv;

	COLLECT_ARGS(argv, arg, 0, envp);
	return exec_common(EXEC_VE, path, -1, argv, envp);
}

SHIM_EXPORT int execlp(const char *file, const char *arg, ...)
{
	char **envp = environ;
	char **argv;

	COLLECT_ARGS(argv, arg, 0, envp);
	return exec_common(EXEC_VPE, file, -1, argv, envp);
}

SHIM_EXPORT int execle(const char *path, const char *arg, ...)
{
	char **argv;
	char **envp = NULL;

	COLLECT_ARGS(argv, arg, 1, envp);
	return exec_common(EXEC_VE, path, -1, argv, envp);
}

/* ------------------------------------------------------------------ */
/* posix_spawn                                                         */

/* glibc's posix_spawn execs through an internal __execve that no hook
 * sees, so the child's lpid and environment are settled here. */
static int spawn_common(int search, pid_t *pid, const char *path,
			const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
			char *const argv[], char *const envp[])
{
	const char *op = search ? "posix_spawnp" : "posix_spawn";
	char lpid[sizeof(shim_proc.lpid)];
	pid_t child = -1;
	char **env;
	int r, saved;

	if (!proc_active() || shim_tls.busy || shim_in_vfork_child())
		return search ? REAL(posix_spawnp)(pid, path, fa, attr, argv, envp)
			      : REAL(posix_spawn)(pid, path, fa, attr, argv, envp);
	replay_check(op, path);
	shim_proc_pending();
	shim_new_child_lpid(lpid, sizeof(lpid));
	env = shim_child_env(envp ? envp : empty_env, lpid, 0, NULL, 0, NULL, 0);
	if (search)
		r = REAL(posix_spawnp)(&child, path, fa, attr, argv, env ? env : (char **)envp);
	else
		r = REAL(posix_spawn)(&child, path, fa, attr, argv, env ? env : (char **)envp);
	saved = errno;
	shim_env_free(env);
	if (r == 0 && pid)
		*pid = child;
	emit_spawn(op, r == 0 ? lpid : NULL, path, argv, r == 0 ? child : 0, r);
	errno = saved;
	return r;
}

SHIM_EXPORT int posix_spawn(pid_t *restrict pid, const char *restrict path,
			    const posix_spawn_file_actions_t *fa,
			    const posix_spawnattr_t *restrict attr, char *const argv[restrict],
			    char *const envp[restrict])
{
	return spawn_common(0, pid, path, fa, attr, argv, envp);
}

SHIM_EXPORT int posix_spawnp(pid_t *restrict pid, const char *restrict file,
			     const posix_spawn_file_actions_t *fa,
			     const posix_spawnattr_t *restrict attr, char *const argv[restrict],
			     char *const envp[restrict])
{
	return spawn_common(1, pid, file, fa, attr, argv, envp);
}

/* ------------------------------------------------------------------ */
/* system                                                              */

/* glibc's system() spawns /bin/sh through internal calls with __environ,
 * out of our reach. Swapping environ around the real call would expose the
 * child's environment to every other thread for as long as the command
 * runs (and lose their setenv calls), so this is glibc 2.36's do_system,
 * step for step, with the child's environment passed to posix_spawn:
 * SIGINT and SIGQUIT ignored while any system() runs (reference-counted),
 * SIGCHLD blocked, the child started with the caller's mask and with
 * SIGINT/SIGQUIT reset unless they were ignored, and on cancellation the
 * child killed and reaped. Even glibc's quirks are kept: the caller's mask
 * is restored only by the last of concurrent calls, errno is the spawn
 * error, and spawn failure reads as "exited 127". */
static pthread_mutex_t sys_lock = PTHREAD_MUTEX_INITIALIZER;
static int sys_refs;
static struct sigaction sys_intr, sys_quit;

static void sys_cancel(void *arg)
{
	pid_t pid = *(pid_t *)arg;
	int saved = errno;
	int state;

	kill(pid, SIGKILL);
	errno = saved;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &state);
	while (REAL(waitpid)(pid, NULL, 0) < 0 && errno == EINTR)
		;
	pthread_setcancelstate(state, NULL);
	pthread_mutex_lock(&sys_lock);
	if (--sys_refs == 0) {
		REAL(sigaction)(SIGQUIT, &sys_quit, NULL);
		REAL(sigaction)(SIGINT, &sys_intr, NULL);
	}
	pthread_mutex_unlock(&sys_lock);
}

static int do_system(const char *line)
{
	char *argv[] = { "sh", "-c", (char *)line, NULL };
	char lpid[sizeof(shim_proc.lpid)];
	struct sigaction sa = { .sa_handler = SIG_IGN };
	posix_spawnattr_t attr;
	sigset_t omask, reset;
	int status = -1;
	pid_t pid = -1;
	char **env;
	int ret;

	sigemptyset(&sa.sa_mask);
	pthread_mutex_lock(&sys_lock);
	if (sys_refs++ == 0) {
		REAL(sigaction)(SIGINT, &sa, &sys_intr);
		REAL(sigaction)(SIGQUIT, &sa, &sys_quit);
	}
	pthread_mutex_unlock(&sys_lock);

	sigaddset(&sa.sa_mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &sa.sa_mask, &omask);
	sigemptyset(&reset);
	if (sys_intr.sa_handler != SIG_IGN)
		sigaddset(&reset, SIGINT);
	if (sys_quit.sa_handler != SIG_IGN)
		sigaddset(&reset, SIGQUIT);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &omask);
	posix_spawnattr_setsigdefault(&attr, &reset);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

	shim_new_child_lpid(lpid, sizeof(lpid));
	env = shim_child_env(environ ? environ : empty_env, lpid, 0, NULL, 0, NULL, 0);
	ret = REAL(posix_spawn)(&pid, "/bin/sh", NULL, &attr, argv, env ? env : environ);
	shim_env_free(env);
	posix_spawnattr_destroy(&attr);
	emit_spawn("system", ret == 0 ? lpid : NULL, "/bin/sh", argv, ret == 0 ? pid : 0, ret);

	if (ret == 0) {
		pthread_cleanup_push(sys_cancel, &pid);
		/* system() is a cancellation point through waitpid() */
		while (1) {
			pid_t w = REAL(waitpid)(pid, &status, 0);

			if (w == pid)
				break;
			if (w < 0 && errno == EINTR)
				continue;
			status = -1;
			break;
		}
		pthread_cleanup_pop(0);
	} else {
		/* POSIX: failing to run the shell reads as the shell's _exit(127) */
		status = W_EXITCODE(127, 0);
	}

	pthread_mutex_lock(&sys_lock);
	if (--sys_refs == 0) {
		REAL(sigaction)(SIGINT, &sys_intr, NULL);
		REAL(sigaction)(SIGQUIT, &sys_quit, NULL);
		sigprocmask(SIG_SETMASK, &omask, NULL);
	}
	pthread_mutex_unlock(&sys_lock);
	if (ret != 0)
		errno = ret;
	return status;
}

SHIM_EXPORT int system(const char *line)
{
	if (!proc_active() || shim_tls.busy || shim_in_vfork_child())
		return REAL(system)(line);
	replay_check_sh("system", line ? line : "exit 0");
	shim_proc_pending();
	if (!line)
		/* "is there a shell?": glibc answers by running one */
		return do_system("exit 0") == 0;
	return do_system(line);
}

/* ------------------------------------------------------------------ */
/* popen                                                               */

/* glibc's popen spawns /bin/sh through its internal posix_spawn with
 * __environ, like system(). Unlike system() it returns as soon as the child
 * exists, and pclose() must find the child in glibc's own list, so here the
 * real popen runs with environ pointing at the child's environment for just
 * that moment. Other threads' getenv() meanwhile see the same values plus
 * LD_PRELOAD/ATTRACE_*. If another thread's setenv() replaced environ in
 * that window, its new array holds pointers into ours: we then keep theirs
 * and leak ours, rather than undo their change or free strings they use. */
static pthread_mutex_t environ_lock = PTHREAD_MUTEX_INITIALIZER;

SHIM_EXPORT FILE *popen(const char *cmd, const char *mode)
{
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	char lpid[sizeof(shim_proc.lpid)];
	char **saved_env, **env;
	FILE *f;
	int err;

	if (!proc_active() || shim_tls.busy || shim_in_vfork_child())
		return REAL(popen)(cmd, mode);
	replay_check_sh("popen", cmd);
	shim_proc_pending();
	shim_new_child_lpid(lpid, sizeof(lpid));
	pthread_mutex_lock(&environ_lock);
	saved_env = environ;
	env = shim_child_env(saved_env ? saved_env : empty_env, lpid, 0, NULL, 0, NULL, 0);
	if (env)
		environ = env;
	f = REAL(popen)(cmd, mode);
	err = errno;
	if (env && environ == env) {
		environ = saved_env;
		shim_env_free(env);
	}
	pthread_mutex_unlock(&environ_lock);
	emit_spawn("popen", f ? lpid : NULL, "/bin/sh", argv, 0, f ? 0 : err);
	errno = err;
	return f;
}

/* ------------------------------------------------------------------ */
/* wait: where a parent thread usually turns up after a vfork child    */

SHIM_EXPORT pid_t waitpid(pid_t pid, int *status, int options)
{
	shim_proc_pending();
	return REAL(waitpid)(pid, status, options);
}

SHIM_EXPORT pid_t wait(int *status)
{
	shim_proc_pending();
	return REAL(wait)(status);
}

/* dash waits for its children with wait3 */
SHIM_EXPORT pid_t wait3(int *status, int options, struct rusage *ru)
{
	shim_proc_pending();
	return REAL(wait3)(status, options, ru);
}

SHIM_EXPORT pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
	shim_proc_pending();
	return REAL(wait4)(pid, status, options, ru);
}

SHIM_EXPORT int waitid(idtype_t idtype, id_t id, siginfo_t *info, int options)
{
	shim_proc_pending();
	return REAL(waitid)(idtype, id, info, options);
}

/* ------------------------------------------------------------------ */
/* unshare                                                             */

/* unshare(CLONE_NEWUSER) fails with EINVAL in a multithreaded process, and
 * the writer thread would make every traced program one (`unshare -r` under
 * attrace record). Stop the writer around the call; the kernel may take a
 * moment to reap the thread, hence the short retry. */
SHIM_EXPORT int unshare(int flags)
{
	struct timespec ms = { 0, 1000000 };
	int r, saved, paused = 0;

	if ((flags & CLONE_NEWUSER) && shim_recording && !shim_tls.busy) {
		shim_tls.busy = 1;
		rec_writer_pause();
		shim_tls.busy = 0;
		paused = 1;
	}
	r = REAL(unshare)(flags);
	for (int i = 0; r < 0 && errno == EINVAL && paused && i < 50; i++) {
		REAL(nanosleep)(&ms, NULL);
		r = REAL(unshare)(flags);
	}
	saved = errno;
	if (paused) {
		shim_tls.busy = 1;
		rec_writer_resume();
		shim_tls.busy = 0;
	}
	errno = saved;
	return r;
}
