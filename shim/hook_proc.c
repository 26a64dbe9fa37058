/* SPDX-License-Identifier: MIT */
/* hook_proc.c -- not written yet. */
