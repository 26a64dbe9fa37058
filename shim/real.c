/* SPDX-License-Identifier: MIT */
/* real.c -- not written yet. */
