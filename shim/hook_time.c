/* SPDX-License-Identifier: MIT */
/* hook_time.c -- wall-clock reads: clock_gettime, gettimeofday, time, timespec_get.
 *
 * This is the hottest path of the shim: Python's time.time() is one
 * clock_gettime(CLOCK_REALTIME), and programs call it millions of times. So
 * each hook is the real call, one branch that decides "record or not", the
 * guard, and rec_time(), which appends a varint delta to a per-thread buffer
 * (recorder.c). Nothing else: no errno save/restore, no event envelope.
 *
 * errno: the real call succeeded before we record (a failed read is never
 * recorded), so errno still holds the program's value; rec_time() is
 * required not to touch it (its slow path, which emits an event, saves and
 * restores errno itself). That is what lets the hook skip the two
 * __errno_location() calls on every read.
 *
 * Every entry point is a separate hook because glibc's time() and
 * timespec_get() do not go through the clock_gettime symbol (time() even has
 * its own vDSO entry). Monotonic, boot-time and CPU-time clocks are not
 * recorded: replay serves the real ones, so timeouts keep working.
 */
#include <stdint.h>
#include <sys/time.h>
#include <time.h>

#include "common/hot.h"
#include "shim/real.h"
#include "shim/replayer.h"
#include "shim/shim.h"

#define NS_PER_SEC 1000000000LL

/* Clock ids 0..31 in two bits each: 0 = not recorded, else SHIM_CLOCK_* + 1.
 * One shift and mask turn a clockid into "record as what", so the common
 * clocks cost one predictable branch. Negative ids (per-process and
 * per-thread CPU clocks) become large when cast to unsigned and fall out. */
#define CLK_SLOT(id, shim) ((uint64_t)((shim) + 1) << (2 * (id)))
#define WALL_MAP                                                       \
	(CLK_SLOT(CLOCK_REALTIME, SHIM_CLOCK_REALTIME) |               \
	 CLK_SLOT(CLOCK_REALTIME_COARSE, SHIM_CLOCK_REALTIME_COARSE) | \
	 CLK_SLOT(CLOCK_TAI, SHIM_CLOCK_TAI))

_Static_assert(CLOCK_TAI < 32 && CLOCK_REALTIME_COARSE < 32, "clock ids fit the map");
_Static_assert(SHIM_CLOCK_TAI + 1 <= 3, "shim clocks fit two bits");

/* @return SHIM_CLOCK_* + 1 to record the read, 0 to pass it through. Written
 * without branches (gcc turns "u < 32 ? ... : 0" and "&& r == 0" into
 * separate jumps), so the hook decides with the single test that follows. */
static inline unsigned wall_slot(clockid_t clk, int r)
{
	unsigned u = (unsigned)clk;
	unsigned ok = (u < 32) & (r == 0);

	return (unsigned)(WALL_MAP >> ((2 * u) & 63)) & 3 & -ok;
}

static inline void record(enum shim_clock clk, int64_t ns)
{
	struct shim_thread *t = shim_enter();

	if (__builtin_expect(t == NULL, 0))
		return;
	/* a TLS library's own reads (certificate checks): see hook_tls.c */
	if (__builtin_expect(t->in_tls, 0)) {
		shim_leave(t);
		return;
	}
	rec_time(t, clk, ns);
	shim_leave(t);
}

/* Replay: the recorded value for this read (replayer.h: rp_time), recorded
 * again so the replay's own trace shows what the program saw. */
static __attribute__((noinline, cold)) int64_t replay(enum shim_clock clk, int64_t ns)
{
	struct shim_thread *t = shim_enter();

	if (!t)
		return ns;
	if (t->in_tls) {
		shim_leave(t);
		return ns;
	}
	if (t->tid < 0)
		t->tid = shim_new_tid();
	ns = rp_time(t, clk, ns);
	rec_time(t, clk, ns);
	shim_leave(t);
	return ns;
}

AT_HOT SHIM_EXPORT int clock_gettime(clockid_t clk, struct timespec *ts)
{
	int r = REAL(clock_gettime)(clk, ts);
	unsigned slot = wall_slot(clk, r);

	/* One test covers "not a wall clock" and "the call failed". */
	if (__builtin_expect(slot == 0, 0))
		return r;
	if (__builtin_expect(shim_replaying, 0)) {
		int64_t v = replay((enum shim_clock)(slot - 1),
				   (int64_t)ts->tv_sec * NS_PER_SEC + ts->tv_nsec);

		ts->tv_sec = (time_t)(v / NS_PER_SEC);
		ts->tv_nsec = (long)(v % NS_PER_SEC);
		return r;
	}
	record((enum shim_clock)(slot - 1), (int64_t)ts->tv_sec * NS_PER_SEC + ts->tv_nsec);
	return r;
}

AT_HOT SHIM_EXPORT int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	int r = REAL(gettimeofday)(tv, tz);
	const void *seen = tv;

	/* tv may be NULL when only the (obsolete) timezone is asked for; glibc
	 * declares it nonnull, so test a copy hidden from the compiler, or the
	 * test would be folded away (gcc) or refused (clang's nonnull check). */
	__asm__("" : "+r"(seen));
	if (__builtin_expect(r != 0 || seen == NULL, 0))
		return r;
	if (__builtin_expect(shim_replaying, 0)) {
		int64_t v = replay(SHIM_CLOCK_GETTIMEOFDAY,
				   (int64_t)tv->tv_sec * NS_PER_SEC + tv->tv_usec * 1000LL);

		tv->tv_sec = (time_t)(v / NS_PER_SEC);
		tv->tv_usec = (suseconds_t)(v % NS_PER_SEC / 1000);
		return r;
	}
	record(SHIM_CLOCK_GETTIMEOFDAY, (int64_t)tv->tv_sec * NS_PER_SEC + tv->tv_usec * 1000LL);
	return r;
}

AT_HOT SHIM_EXPORT time_t time(time_t *tloc)
{
	time_t r = REAL(time)(tloc);

	if (__builtin_expect(r == (time_t)-1, 0))
		return r;
	if (__builtin_expect(shim_replaying, 0)) {
		r = (time_t)(replay(SHIM_CLOCK_TIME, (int64_t)r * NS_PER_SEC) / NS_PER_SEC);
		if (tloc)
			*tloc = r;
		return r;
	}
	record(SHIM_CLOCK_TIME, (int64_t)r * NS_PER_SEC);
	return r;
}

SHIM_EXPORT int timespec_get(struct timespec *ts, int base)
{
	int r = REAL(timespec_get)(ts, base);

	/* Returns base on success, 0 on failure; TIME_UTC is the only wall base. */
	if (__builtin_expect(r != TIME_UTC, 0))
		return r;
	if (__builtin_expect(shim_replaying, 0)) {
		int64_t v = replay(SHIM_CLOCK_TIMESPEC_GET,
				   (int64_t)ts->tv_sec * NS_PER_SEC + ts->tv_nsec);

		ts->tv_sec = (time_t)(v / NS_PER_SEC);
		ts->tv_nsec = (long)(v % NS_PER_SEC);
		return r;
	}
	record(SHIM_CLOCK_TIMESPEC_GET, (int64_t)ts->tv_sec * NS_PER_SEC + ts->tv_nsec);
	return r;
}
