/* SPDX-License-Identifier: MIT */
/* hook_random.c -- not written yet. */
