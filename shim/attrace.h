/* SPDX-License-Identifier: MIT */
/* attrace.h -- the public steps API of libattrace.
 *
 * A program running under attrace may label its I/O with named steps:
 * events recorded while a step is active carry "step": NAME instead of
 * "root", and new threads inherit the creating thread's step. Programs that
 * may also run without the shim should resolve these with dlsym(RTLD_DEFAULT)
 * (or ctypes.CDLL(None) in Python) and treat absence as "not traced".
 *
 * C89-clean on purpose. All functions are thread-safe.
 */
#ifndef ATTRACE_H
#define ATTRACE_H

#ifdef __cplusplus
extern "C" {
#endif

/* Begins step `name` on the calling thread (steps nest). `kind` is
 * "observation", "tool_call" or NULL; a kind emits an event of that type.
 * Returns 0, or -1 if the shim is not recording. */
int attrace_step_begin(const char *name, const char *kind) __attribute__((nonnull(1)));
/* Ends the innermost step of the calling thread, restoring the outer one.
 * `result_json` (a JSON value, or NULL) is stored on the step's end event.
 * Returns 0, or -1 if no step is active. */
int attrace_step_end(const char *result_json);
/* 1 when the calling process is recording, 2 when replaying, 0 otherwise. */
int attrace_mode(void);

#ifdef __cplusplus
}
#endif

#endif
