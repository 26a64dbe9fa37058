/* SPDX-License-Identifier: MIT */
/* json.c -- not written yet. */
