/* SPDX-License-Identifier: MIT */
/* buf.c -- not written yet. */
