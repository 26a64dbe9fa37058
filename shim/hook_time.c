/* SPDX-License-Identifier: MIT */
/* hook_time.c -- not written yet. */
