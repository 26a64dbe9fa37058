/* SPDX-License-Identifier: MIT */
/* record.c -- not written yet. */
