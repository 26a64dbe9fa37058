/* SPDX-License-Identifier: MIT */
/* init.c -- not written yet. */
