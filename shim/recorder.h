/* SPDX-License-Identifier: MIT */
/* recorder.h -- the recorder's lifecycle, used by init.c (events: shim.h). */
#pragma once

#include <stdint.h>

/* Sets up the recorder and writes emit_start's event (agent_start) to the
 * trace at once. No writer thread yet: the process writes its events through
 * until it records often enough for a writer thread to pay off (see settle()
 * in recorder.c). emit_start must run its work only once however often it
 * is called: exit and fork paths call it too. `truncate`: the root empties
 * the trace file now. @return 0 or -ENOMEM. */
int rec_init(int truncate, void (*emit_start)(void));
/* Asks the writer thread to stop, without waiting for it (the process is
 * ending: the caller writes what is left itself). */
void rec_stop_writer(void);
/* Stops the writer thread and waits for it (a program about to call
 * unshare(CLONE_NEWUSER), which needs a single-threaded process), then
 * starts it again. */
void rec_writer_pause(void);
void rec_writer_resume(void);
/* Stops the writer and writes everything; later events flush at once. */
void rec_finish(void);
/* Fork protocol: stop the writer (if any), flush and take the locks; then
 * release them in the parent, or reset to a single thread in the child,
 * which writes its agent_start with rec_after_fork_child_start once its
 * state is set. Both go on writing through, without a writer thread. */
void rec_before_fork(void);
void rec_after_fork_parent(void);
void rec_after_fork_child(void);
void rec_after_fork_child_start(void);
/* Best effort from a fatal-signal handler: skips anything locked. */
void rec_flush_from_signal(void);
/* Wakes the writer thread for an early flush, if there is one (netcall.c:
 * its side queue grew, and what is left at exit is drained on the exiting
 * thread). Any thread may call it. */
void rec_kick_writer(void);
/* Wall clock through the real clock_gettime. */
int64_t rec_now_ns(void);

struct shim_thread;
struct buf;
/* ev_begin with an explicit seq and timestamp (agent_start's reserved seq). */
struct buf *ev_begin_at(struct shim_thread *t, const char *type, uint64_t seq, int64_t ts_ns);
/* ev_begin that gives up (NULL) instead of waiting for the thread's lock:
 * for a fatal-signal handler that may have interrupted the shim itself. */
struct buf *ev_try_begin(struct shim_thread *t, const char *type);
/* ev_end without the size-triggered flush. */
void ev_end_noflush(struct shim_thread *t);
/* After fork: the surviving thread's buffer takes its new logical tid. */
void rec_thread_retid(struct shim_thread *t);
