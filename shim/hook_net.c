/* SPDX-License-Identifier: MIT */
/* hook_net.c -- not written yet. */
