/* SPDX-License-Identifier: MIT */
/* proc.h -- private to hook_proc.c and hook_signal.c: whether this image tracks processes. */
#pragma once

#include "shim/shim.h"

/* 1 once this image knows who it is (recording; replay later). With mode
 * off, every hook here is a plain pass-through. */
static inline int proc_active(void)
{
	return shim_ready && shim_proc.real_pid != 0;
}
