/* SPDX-License-Identifier: MIT */
/* hook_thread.c -- not written yet. */
