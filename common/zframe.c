/* SPDX-License-Identifier: MIT */
/* zframe.c -- not written yet. */
