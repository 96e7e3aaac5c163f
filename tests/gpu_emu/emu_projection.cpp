// src/zoopt/_gpu/projection.cu compiled for the host, with one export per kernel.
#include "cuda_emu.h"
#include "projection.cu"

#define ZO_EMU_DTYPES(op) ZO_EMU_EXPORT(op##_f32) ZO_EMU_EXPORT(op##_f64)

ZO_EMU_EXPORT(zo_fwht_stage_i64)
ZO_EMU_DTYPES(zo_fwht_stage)
ZO_EMU_DTYPES(zo_srht_load)
ZO_EMU_DTYPES(zo_srht_gather)
ZO_EMU_DTYPES(zo_srht_scatter)
ZO_EMU_DTYPES(zo_srht_unload)
ZO_EMU_DTYPES(zo_sparse_rows)
ZO_EMU_EXPORT(zo_sparse_count)
ZO_EMU_EXPORT(zo_sparse_fill)
