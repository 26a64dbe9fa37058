/* SPDX-License-Identifier: MIT */
/* shim.h -- state shared by the hook files, and the event API they use.
 *
 * Every hook follows one pattern (see shim/real.c for the rules):
 *
 *	ssize_t send(int fd, const void *p, size_t n, int flags)
 *	{
 *		ssize_t r = REAL(send)(fd, p, n, flags);
 *		struct shim_thread *t;
 *		int saved = errno;
 *
 *		if (!fdtab_is_sock(fd) || !(t = shim_enter()))   <- style: no
 *			return r;                                    assignment in if;
 *		struct buf *b = ev_begin(t, "socket_call");          split it.
 *		json_kv_str(b, "op", "send");
 *		...
 *		ev_end(t);
 *		shim_leave(t);
 *		errno = saved;
 *		return r;
 *	}
 *
 * shim_enter() returns NULL when the shim is not recording, not ready yet, or
 * the thread is already inside the shim (the reentrancy guard): then the hook
 * must behave exactly like the real call. Between shim_enter() and
 * shim_leave() every libc call the shim makes passes straight through.
 */
#pragma once

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/config.h"

#define SHIM_EXPORT __attribute__((visibility("default")))
/* For large zero-initialised arrays: .lbss is laid out after .bss, so the
 * small variables every process touches at start share a few pages instead
 * of sitting between these (a page's first touch is a fault, about 10 us
 * on the machines we measure on). */
#define SHIM_LARGE __attribute__((section(".lbss")))

struct tbuf;
struct step_frame;

/* Per-thread state. Lives in static TLS (initial-exec: the shim is only ever
 * preloaded), so it must stay small; buffers hang off `tb` on the heap. */
struct shim_thread {
	int busy; /* reentrancy guard */
	int tid; /* logical tid; -1 until the thread first enters */
	unsigned next_conn; /* per-thread connection counter: conn ids "tid.k" */
	const char *step; /* active step name (interned, never freed) */
	struct step_frame *steps; /* steps.c: the stack of open steps */
	struct tbuf *tb; /* pending events; registered with the writer */
	int in_tls; /* inside a real TLS library call (hook_tls.c): its socket I/O is ciphertext */
	int tls_fd; /* the socket that call used, or -1 */
	int last_connect; /* replay: 1 + the socket this thread last connected, 0 for none */
};

extern __thread struct shim_thread shim_tls __attribute__((tls_model("initial-exec")));

/* Process state, set by init.c; reset in a fork child by shim_after_fork(). */
struct shim_proc {
	char lpid[96]; /* logical pid: "0", "0.1", "0.1.2" */
	pid_t real_pid; /* getpid() of this process image */
	atomic_uint_fast64_t seq; /* next event seq */
	atomic_int next_tid; /* next logical tid to hand out */
	atomic_int next_child; /* children spawned so far (the k in "lpid.k") */
	char trace_id[33]; /* 32 hex digits, shared by every process of a trace */
	char trace_path[4096]; /* absolute */
	/* path of libattrace.so, for LD_PRELOAD in children: the loader's
	 * string (the library is never unloaded) */
	const char *self_path;
	char parent[96]; /* parent's logical pid, "" for the root */
	int64_t start_ns; /* wall clock at process start */
	atomic_int completed; /* agent_complete emitted */
	int image; /* execs of this logical process before this image (replay) */
};

extern struct shim_proc shim_proc;
/* Replay mode: the absolute path of the trace being replayed. */
extern char shim_replay_in[4096];
extern struct at_config shim_config;
/* 1 once init finished and the mode records events. Hooks read it relaxed. */
extern int shim_recording;
extern int shim_ready;

/* Enter the shim from a hook. @return the thread state with the guard set,
 * or NULL when the hook must just pass through. */
static inline struct shim_thread *shim_enter(void)
{
	struct shim_thread *t = &shim_tls;

	if (__builtin_expect(!shim_recording || t->busy, 0))
		return NULL;
	t->busy = 1;
	return t;
}

static inline void shim_leave(struct shim_thread *t)
{
	t->busy = 0;
}

/* Starts an event of `type` on thread t (which must hold the guard): takes
 * the thread's buffer lock, writes the envelope (seq, pid, tid, ts, step)
 * and opens the payload. Returns the buffer to append payload fields to with
 * the json_kv_* writers. Never NULL. */
struct buf *ev_begin(struct shim_thread *t, const char *type);
/* Closes the payload and the line, releases the lock, and flushes if the
 * thread's pending data passed the size threshold. */
void ev_end(struct shim_thread *t);

/* Wall-clock reads, stored compactly: consecutive reads of one clock on one
 * thread become a single `time` event holding the first value and varint
 * deltas (attrace-trace(5)). Fast path; t must hold the guard. */
enum shim_clock {
	SHIM_CLOCK_REALTIME = 0, /* clock_gettime(CLOCK_REALTIME) */
	SHIM_CLOCK_REALTIME_COARSE,
	SHIM_CLOCK_TAI,
	SHIM_CLOCK_GETTIMEOFDAY,
	SHIM_CLOCK_TIME, /* time() */
	SHIM_CLOCK_TIMESPEC_GET,
	SHIM_CLOCK_COUNT,
};
void rec_time(struct shim_thread *t, enum shim_clock clk, int64_t ns);

/* Writes every pending event to the trace as one frame. Safe from any thread
 * holding the guard. */
void shim_flush(void);
/* Emits agent_complete once: exit status (signal 0) or fatal signal. Then
 * flushes synchronously. */
void shim_complete(int status, int sig);
/* The same, naming how the process ended: "main", "exit", "_exit", "signal". */
void shim_complete_how(int status, int sig, const char *how);
/* ship.c: with ATTRACE_COLLECTOR set, uploads the trace (root process or
 * orphan) within a bounded wait, else spools it. Called once the process's
 * last frame is written; from_signal: spool only. */
void shim_ship(int from_signal);

/* Fork support (hook_proc.c): stop the writer thread before fork(2) so the
 * child starts with no other threads and the parent looks single-threaded;
 * in the child, become process `lpid` with fresh buffers; in the parent,
 * carry on. */
void shim_before_fork(void);
void shim_after_fork_parent(void);
void shim_after_fork_child(const char *lpid);
/* Before exec: flush everything (the image is about to vanish). */
void shim_before_exec(void);

/* Builds the environment for a child image: a copy of envp with LD_PRELOAD
 * holding libattrace.so, every ATTRACE_* setting of this process, and
 * ATTRACE_CTX=<lpid>;<trace_id>;<next_seq>;<next_child> describing who the
 * child is. The result is malloc'd (free with shim_env_free), or, when
 * `stack` is non-NULL, built in the caller's array of `stack_n` pointers plus
 * `strbuf` of `strbuf_n` bytes (no allocation: for a vfork child). Returns
 * NULL if it does not fit or on OOM; then pass envp through unchanged. */
char **shim_child_env(char *const *envp, const char *ctx_lpid, uint64_t ctx_seq, char **stack,
		      size_t stack_n, char *strbuf, size_t strbuf_n);
void shim_env_free(char **env);

/* Logical id helpers. */
int shim_new_tid(void);
/* Writes "<lpid>.<k>" for the next child into out. */
void shim_new_child_lpid(char *out, size_t n);

/* Step API (attrace.h) state. */
const char *shim_intern(const char *s);

/* Symbolic name of an errno value ("ECONNREFUSED") for event payloads;
 * never NULL ("EUNKNOWN" for values libc cannot name). hook_net.c. */
const char *shim_errno_name(int e);
