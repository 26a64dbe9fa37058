/* SPDX-License-Identifier: MIT */
/* hook_fs.c -- not written yet. */
