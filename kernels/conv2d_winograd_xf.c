/*
 * conv2d_winograd_xf.c - the Winograd transforms for the baseline ISA (any x86-64 CPU).
 */
#define FRK__WINO_XF_TABLE frk__wino_xf_base
#include "conv2d_winograd_xf.h"
