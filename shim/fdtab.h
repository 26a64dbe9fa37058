/* SPDX-License-Identifier: MIT */
/* fdtab.h -- what the shim knows about each file descriptor.
 *
 * One byte of kind per fd, indexed directly, so the hot read()/write() hooks
 * decide "not ours" with a single relaxed load and no lock. Sockets carry a
 * refcounted object shared by dup'ed fds. fds >= FDTAB_MAX are not tracked
 * (documented limit). close, dup, dup2, dup3, fcntl(F_DUPFD*), close_range
 * keep the table right; fork keeps it (the child's fds are the same).
 */
#pragma once

#include <stdatomic.h>
#include <stdint.h>

#define FDTAB_MAX 65536

enum fd_kind {
	FD_NONE = 0,
	FD_TCP, /* AF_INET/AF_INET6 SOCK_STREAM */
	FD_UDP, /* AF_INET/AF_INET6 SOCK_DGRAM */
	FD_URANDOM, /* /dev/urandom or /dev/random opened for reading */
};

/* A refcounted object attached to an fd; the owner embeds it first. */
struct fd_obj {
	atomic_int refs;
	void (*release)(struct fd_obj *o); /* called when refs drops to 0 */
};

extern _Atomic uint8_t fdtab_kind_[FDTAB_MAX];

static inline enum fd_kind fdtab_kind(int fd)
{
	if ((unsigned)fd >= FDTAB_MAX)
		return FD_NONE;
	return (enum fd_kind)atomic_load_explicit(&fdtab_kind_[fd], memory_order_relaxed);
}

static inline int fdtab_is_sock(int fd)
{
	enum fd_kind k = fdtab_kind(fd);
	return k == FD_TCP || k == FD_UDP;
}

/* Sets fd's kind and object (obj may be NULL; the table takes one reference). */
void fdtab_set(int fd, enum fd_kind kind, struct fd_obj *obj);
/* @return the object with a new reference (release with fdtab_put), or NULL. */
struct fd_obj *fdtab_get(int fd);
void fdtab_put(struct fd_obj *o); /* accepts NULL */
/* Forgets fd (drops the table's reference). */
void fdtab_clear(int fd);
/* newfd becomes a copy of oldfd's entry (after a successful dup). */
void fdtab_dup(int oldfd, int newfd);
