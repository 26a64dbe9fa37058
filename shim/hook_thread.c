/* SPDX-License-Identifier: MIT */
/* hook_thread.c -- pthread_create: deterministic logical tids and thread_start events.
 *
 * The logical tid of a new thread is taken in the *parent*, at the moment
 * the program calls pthread_create, so tids follow the program's creation
 * order and not the scheduler's (a child that first runs late must not get
 * a later number). The child learns its tid, and inherits the creating
 * thread's active step, through a trampoline that sets shim_tls before the
 * program's start routine runs.
 *
 * Which creations take a tid:
 *  - shim not ready yet (a library constructor that runs before ours):
 *    pass through; the thread gets a tid lazily when it first records.
 *  - creating thread inside the shim (busy): the thread is the shim's own
 *    (our writer uses REAL(pthread_create) and never gets here, but a
 *    library linked into the shim, e.g. a zstd worker pool, calls the
 *    exported symbol). It takes no tid -- otherwise the program's tids would
 *    depend on how often the shim compresses -- and runs with the guard set
 *    for its whole life, so nothing it does is recorded.
 *  - otherwise a tid is taken whether or not this process records: this is
 *    the case that matters, because a replay (which does not record) must
 *    hand out exactly the tids the recording did, and the recorded events of
 *    a process that stops recording mid-way (agent_complete emitted, atexit
 *    handlers still running) keep their numbering. Only the event is
 *    conditional on recording.
 *
 * thread_start is emitted after the real call (rule 2 of real.c: no lock or
 * half-written event across a real call), so the child's first events may
 * carry a lower seq than the parent's thread_start; readers relate them by
 * child_tid, and the fingerprint groups by (pid, tid) anyway.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "common/json.h"
#include "shim/governance.h"
#include "shim/hooks.h"
#include "shim/real.h"
#include "shim/replayer.h"
#include "shim/shim.h"

/* Handed from the creating thread to the new one; freed by the child. */
struct tramp {
	void *(*fn)(void *);
	void *arg;
	int tid; /* -1: a thread of the shim's own */
	const char *step; /* creator's active step, interned: never freed */
};

static void *trampoline(void *p)
{
	struct tramp tr = *(struct tramp *)p;
	struct shim_thread *t = &shim_tls;

	free(p);
	if (tr.tid < 0) {
		t->busy = 1;
	} else {
		t->tid = tr.tid;
		t->step = tr.step;
	}
	return tr.fn(tr.arg);
}

SHIM_EXPORT int pthread_create(pthread_t *restrict th, const pthread_attr_t *restrict attr,
			       void *(*fn)(void *), void *restrict arg)
{
	struct shim_thread *t = &shim_tls;
	struct tramp *tr;
	int saved = errno;
	int tid;
	int r;

	if (!shim_ready)
		return REAL(pthread_create)(th, attr, fn, arg);
	/* malloc is not hooked; if it fails the thread still starts, unnumbered. */
	tr = malloc(sizeof(*tr));
	errno = saved;
	if (!tr)
		return REAL(pthread_create)(th, attr, fn, arg);
	tr->fn = fn;
	tr->arg = arg;
	tr->step = t->step;
	tr->tid = tid = t->busy ? -1 : shim_new_tid();

	r = REAL(pthread_create)(th, attr, trampoline, tr);
	saved = errno;
	/* On failure the tid stays spent: a retry gets the next one, which is
	 * the same in every run of a deterministic program. */
	if (r != 0)
		free(tr);
	t = shim_enter();
	if (t) {
		struct buf *b = ev_begin(t, "thread_start");

		json_kv_int(b, "child_tid", tid);
		if (r != 0)
			json_kv_str(b, "errno", shim_errno_name(r));
		ev_end(t);
		if (__builtin_expect(shim_replaying, 0) && tid >= 0) {
			char key[16];

			snprintf(key, sizeof(key), "%d", tid);
			rp_consume_simple("thread_start", key);
			if (!rp_tid_known(tid))
				gov_violation(
					GOV_THREAD,
					"%s/%d started thread %d, which the trace does not hold",
					shim_proc.lpid, t->tid, tid);
		}
		shim_leave(t);
	}
	errno = saved;
	return r;
}
