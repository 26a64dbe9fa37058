/* SPDX-License-Identifier: MIT */
/* error.c -- not written yet. */
