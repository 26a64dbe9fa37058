/* SPDX-License-Identifier: MIT */
/* recorder.c -- not written yet. */
