/* SPDX-License-Identifier: MIT */
/* steps.c -- not written yet. */
