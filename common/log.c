/* SPDX-License-Identifier: MIT */
/* log.c -- not written yet. */
