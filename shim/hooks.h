/* SPDX-License-Identifier: MIT */
/* hooks.h -- calls between hook files: random-device reads and fd classification.
 *
 * hook_fs.c classifies the fds it opens; hook_random.c records what is read
 * from /dev/urandom and /dev/random. The read hooks (read, readv, __read_chk
 * in hook_netio.c) own the read path, so they hand the bytes over here.
 */
#pragma once

#include <sys/types.h>

/* Records bytes read from a random device as a `random` event (source
 * "/dev/urandom" or "/dev/random"). Call it from a read hook after the real
 * call, when fdtab_kind(fd) == FD_URANDOM:
 *
 *	ssize_t r = REAL(read)(fd, buf, n);
 *	if (__builtin_expect(fdtab_kind(fd) == FD_URANDOM, 0))
 *		rec_urandom_read(fd, buf, r);
 *
 * n is the real call's result: the byte count, or -1 with errno set (the
 * event then carries the errno name). For readv, call it once per iovec
 * that received bytes, in order, with that segment's count (the last one
 * possibly partial), or once with a gathered copy. The caller need not hold
 * the guard: this takes it itself (and does nothing if the thread is already
 * inside the shim or the shim is not recording). errno is preserved. */
void rec_urandom_read(int fd, const void *buf, ssize_t n);

/* Called by hook_fs.c after every successful open(2)-family call: when path
 * names /dev/urandom or /dev/random and flags allow reading, marks fd as
 * FD_URANDOM. @return 1 if fd was classified, else 0. */
int random_note_open(int fd, const char *path, int flags);
