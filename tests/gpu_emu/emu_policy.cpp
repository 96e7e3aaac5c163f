// src/zoopt/_gpu/policy.cu compiled for the host, with one export per kernel.
#include "cuda_emu.h"
#include "policy.cu"

ZO_EMU_EXPORT(zo_race_weights_f32)
ZO_EMU_EXPORT(zo_race_weights_f64)
ZO_EMU_EXPORT(zo_gumbel_argmax)
ZO_EMU_EXPORT(zo_categorical_score_f32)
ZO_EMU_EXPORT(zo_categorical_score_f64)
ZO_EMU_EXPORT(zo_row_score_f32)
ZO_EMU_EXPORT(zo_row_score_f64)
