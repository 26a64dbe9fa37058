/* SPDX-License-Identifier: MIT */
/* show.c -- not written yet. */
