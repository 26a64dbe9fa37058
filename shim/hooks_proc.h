/* SPDX-License-Identifier: MIT */
/* hooks_proc.h -- what hook_proc.c and hook_signal.c offer the core: fatal-signal capture and vfork bookkeeping.
 *
 * Fatal signals: shim_signals_init() (called once from init, when recording)
 * puts a handler on every fatal signal whose disposition is still SIG_DFL,
 * so a process killed by SIGTERM/SIGSEGV/... ends its stream with an
 * agent_complete naming the signal and then dies by that same signal. The
 * sigaction()/signal() hooks keep this invisible: where our handler sits,
 * the program reads SIG_DFL.
 *
 * vfork: vfork is not hooked (a hook returning twice through one stack frame
 * would corrupt the parent). A vfork child is recognised at exec, where it
 * takes its logical pid and leaves a note for the parent thread; the parent
 * emits the process_spawn {op "vfork"} from the note at its next call into a
 * process hook (fork, exec, spawn, system, wait*, exit), or wherever the core
 * calls shim_proc_pending().
 */
#pragma once

/* Installs the fatal-signal handlers. Call once, after shim_proc is set. */
void shim_signals_init(void);

/* Emits the process_spawn events that this thread's vfork children left
 * behind. Cheap when there are none (one relaxed load). Takes the guard
 * itself; does nothing when the thread is already inside the shim. */
void shim_proc_pending(void);

/* 1 when the caller runs in a child that shares the parent's memory (a
 * vfork child, or a raw clone(CLONE_VM)) and has not exec'd yet: such a
 * child must not change shim state (fd table, buffers), which is the
 * parent's. Costs one getpid system call: use it only on rare paths, e.g.
 * before clearing a classified fd on close. */
int shim_in_vfork_child(void);
