/* SPDX-License-Identifier: MIT */
/* hook_signal.c -- how a process ends: main's return, exit, _exit, _Exit, fatal signals.
 *
 * Process ends: main's return (through a wrapper installed by the
 * __libc_start_main hook), exit, _exit, _Exit, and a fatal signal each call
 * shim_complete_how once; the core emits agent_complete only the first time.
 *
 * The fatal-signal handlers, and the sigaction()/signal() hooks that keep
 * them invisible, are described in hooks_proc.h. Processes are created in
 * hook_proc.c; proc.h holds what the two files share.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/hot.h"
#include "shim/hooks_proc.h"
#include "shim/proc.h"
#include "shim/real.h"
#include "shim/shim.h"

/* ------------------------------------------------------------------ */
/* How the process ends                                                */

/* Ends this process's stream, unless we are a vfork child (whose exit is
 * not ours to report: it would end the parent's stream) or inside the shim
 * (a signal handler that interrupted the shim mid-event would wait on a
 * lock its own thread holds). */
AT_HOT static void complete(int status, const char *how)
{
	int saved = errno;

	if (!proc_active() || shim_tls.busy || REAL(getpid)() != shim_proc.real_pid)
		return;
	shim_proc_pending();
	shim_complete_how(status & 0xff, 0, how);
	errno = saved;
}

/* DT_FINI (meson.build: -Wl,-fini=shim_dt_fini). The loader calls DT_FINI
 * at exit; by default it is crt's empty _fini, alone on the last page of
 * .text, which cost every traced process a page fault (about 12 us here)
 * to run two instructions. This one sits with the exit path's code. Our
 * destructor is in .fini_array, as before. */
void shim_dt_fini(void);
AT_HOT void shim_dt_fini(void)
{
}

static int (*program_main)(int, char **, char **);

AT_HOT static int main_wrapper(int argc, char **argv, char **envp)
{
	int status = program_main(argc, argv, envp);

	complete(status, "main");
	return status;
}

/* Wraps main so that its return value is seen: glibc then calls exit()
 * internally, which no hook sees. Everything else passes unchanged. */
AT_HOT SHIM_EXPORT int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv,
					 void (*init)(void), void (*fini)(void),
					 void (*rtld_fini)(void), void *stack_end)
{
	program_main = main;
	return REAL(__libc_start_main)(main_wrapper, argc, argv, init, fini, rtld_fini, stack_end);
}

SHIM_EXPORT void exit(int status)
{
	complete(status, "exit");
	REAL(exit)(status);
	__builtin_unreachable();
}

SHIM_EXPORT void _exit(int status)
{
	complete(status, "_exit");
	REAL(_exit)(status);
	__builtin_unreachable();
}

SHIM_EXPORT void _Exit(int status)
{
	complete(status, "_exit");
	REAL(_Exit)(status);
	__builtin_unreachable();
}

/* ------------------------------------------------------------------ */
/* Fatal signals                                                       */

/* Signals whose default action ends the process (term or core). */
#define SIGBIT(s) (1u << (s))
#define FATAL_MASK                                                                                 \
	(SIGBIT(SIGHUP) | SIGBIT(SIGINT) | SIGBIT(SIGQUIT) | SIGBIT(SIGILL) | SIGBIT(SIGTRAP) |    \
	 SIGBIT(SIGABRT) | SIGBIT(SIGBUS) | SIGBIT(SIGFPE) | SIGBIT(SIGSEGV) | SIGBIT(SIGUSR1) |   \
	 SIGBIT(SIGUSR2) | SIGBIT(SIGPIPE) | SIGBIT(SIGALRM) | SIGBIT(SIGTERM) | SIGBIT(SIGXCPU) | \
	 SIGBIT(SIGXFSZ) | SIGBIT(SIGSYS))

static int signals_on;

static inline int watched(int sig)
{
	return signals_on && (unsigned)sig < 32 && (FATAL_MASK & SIGBIT(sig));
}

/* A fault raised by the instruction itself: returning from the handler
 * runs the instruction again, which faults again under SIG_DFL, so the
 * process dies exactly where and how it would have (core dump included).
 * SIGTRAP and SIGSYS do not re-trigger on return, and a signal sent by
 * kill() or raise() (si_code <= 0) must be sent again. */
static int refaults(int sig, const siginfo_t *si)
{
	switch (sig) {
	case SIGSEGV:
	case SIGBUS:
	case SIGILL:
	case SIGFPE:
		return si && si->si_code > 0;
	default:
		return 0;
	}
}

static void on_fatal(int sig, siginfo_t *si, void *uc)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	int saved = errno;

	(void)uc;
	/* SA_RESETHAND already made it SIG_DFL; say so again in case a
	 * concurrent sigaction(SIG_DFL) put ours back in between. */
	REAL(sigaction)(sig, &dfl, NULL);
	/* Not in a vfork child (its death is not the parent's), and not
	 * when the signal interrupted the shim itself on this thread. The core
	 * takes only locks it can get without waiting on this path. */
	if (proc_active() && !shim_tls.busy && REAL(getpid)() == shim_proc.real_pid)
		shim_complete_how(0, sig, "signal");
	/* The signal is blocked until we return (no SA_NODEFER): raised now,
	 * it is delivered, under SIG_DFL, the moment the handler returns and
	 * the interrupted mask is back -- the process dies by it. */
	if (!refaults(sig, si))
		raise(sig);
	errno = saved;
}

static void ours(struct sigaction *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sa_sigaction = on_fatal;
	/* SA_RESETHAND: one shot, then the default does the killing. A full
	 * mask: a second fatal signal waits until the first has been
	 * reported. No SA_ONSTACK: reporting needs more stack than a typical
	 * alternate stack has; on a stack overflow the kernel kills us with
	 * SIGSEGV anyway. */
	sa->sa_flags = SA_SIGINFO | SA_RESETHAND | SA_RESTART;
	sigfillset(&sa->sa_mask);
}

static int is_ours(const struct sigaction *sa)
{
	return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == on_fatal;
}

/* What the program would see without us: SIG_DFL, no flags, empty mask. */
static void as_default(struct sigaction *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sa_handler = SIG_DFL;
	sigemptyset(&sa->sa_mask);
}

/* Puts back an action exactly as the kernel reported it: through glibc's
 * sigaction an inherited SIG_IGN (flags 0 after exec) would come back with
 * SA_RESTORER set, which the program could see. */
static void restore(int sig, const struct sigaction *old)
{
	struct {
		void *handler;
		unsigned long flags;
		void *restorer;
		uint64_t mask;
	} k = { .flags = (unsigned long)old->sa_flags };

	k.handler =
		(old->sa_flags & SA_SIGINFO) ? (void *)old->sa_sigaction : (void *)old->sa_handler;
	k.restorer = (void *)old->sa_restorer;
	memcpy(&k.mask, &old->sa_mask, sizeof(k.mask));
	syscall(SYS_rt_sigaction, sig, &k, NULL, sizeof(k.mask));
}

AT_HOT void shim_signals_init(void)
{
	struct sigaction sa, old;
	sigset_t fatal, omask;

	/* Only where nothing (an inherited SIG_IGN, a handler set by an
	 * earlier constructor, a sanitizer) is in place. One call per signal
	 * instead of a look and then a set (18 system calls fewer in every
	 * process): ours goes in, and what was there goes back. The signals
	 * wait meanwhile, so none meets the swap. */
	ours(&sa);
	sigemptyset(&fatal);
	for (int sig = 1; sig < 32; sig++)
		if (FATAL_MASK & SIGBIT(sig))
			sigaddset(&fatal, sig);
	pthread_sigmask(SIG_BLOCK, &fatal, &omask);
	for (int sig = 1; sig < 32; sig++) {
		if (!(FATAL_MASK & SIGBIT(sig)) || REAL(sigaction)(sig, &sa, &old) != 0)
			continue;
		if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL)
			restore(sig, &old);
	}
	pthread_sigmask(SIG_SETMASK, &omask, NULL);
	signals_on = 1;
}

/* Keeps our handler invisible: where it is installed, the program reads
 * SIG_DFL; when the program asks for SIG_DFL, it gets ours again (which
 * behaves as SIG_DFL, plus agent_complete); any other handler simply
 * replaces ours. In a vfork child (its own copy of the dispositions, about
 * to exec, which resets them anyway) everything passes through. */
AT_HOT SHIM_EXPORT int sigaction(int sig, const struct sigaction *restrict act,
				 struct sigaction *restrict oldact)
{
	struct sigaction old, mine;
	int r;

	/* The vfork-child test (getpid, a system call) only where its answer
	 * changes something: curl sets SIGPIPE to SIG_IGN some 15 times. */
	if (!watched(sig))
		return REAL(sigaction)(sig, act, oldact);
	if (act && !(act->sa_flags & SA_SIGINFO) && act->sa_handler == SIG_DFL) {
		if (shim_in_vfork_child())
			return REAL(sigaction)(sig, act, oldact);
		ours(&mine);
		act = &mine;
	}
	r = REAL(sigaction)(sig, act, &old);
	if (r == 0 && oldact) {
		if (is_ours(&old) && !shim_in_vfork_child())
			as_default(&old);
		*oldact = old;
	}
	return r;
}

AT_HOT SHIM_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
	struct sigaction sa, old;

	if (!watched(sig) || (handler == SIG_DFL && shim_in_vfork_child()))
		return REAL(signal)(sig, handler);
	if (handler == SIG_DFL) {
		ours(&sa);
		if (REAL(sigaction)(sig, &sa, &old) != 0)
			return SIG_ERR;
		return is_ours(&old) ? SIG_DFL : old.sa_handler;
	}
	sighandler_t prev = REAL(signal)(sig, handler);

	if (prev == (sighandler_t)(void (*)(void))on_fatal && !shim_in_vfork_child())
		return SIG_DFL;
	return prev;
}
