// src/zoopt/_gpu/streams.cu compiled for the host, with one export per kernel.
#include "cuda_emu.h"
#include "streams.cu"

#define ZO_EMU_DTYPES(op) ZO_EMU_EXPORT(op##_f32) ZO_EMU_EXPORT(op##_f64)

ZO_EMU_EXPORT(zo_philox)
ZO_EMU_DTYPES(zo_fill)
ZO_EMU_DTYPES(zo_perturb)
ZO_EMU_DTYPES(zo_accumulate)
ZO_EMU_DTYPES(zo_fill_span)
ZO_EMU_DTYPES(zo_shift_span)
ZO_EMU_DTYPES(zo_unshift_span)
ZO_EMU_DTYPES(zo_shift_lowrank)
ZO_EMU_DTYPES(zo_unshift_lowrank)
ZO_EMU_DTYPES(zo_sq_norms)
ZO_EMU_DTYPES(zo_inv_norms)
