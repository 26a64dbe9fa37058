/* SPDX-License-Identifier: MIT */
/* trace.c -- not written yet. */
