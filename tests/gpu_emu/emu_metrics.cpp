// src/zoopt/_gpu/metrics.cu compiled for the host, with one export per kernel.
#include "cuda_emu.h"
#include "metrics.cu"

ZO_EMU_EXPORT(zo_class_counts_i32)
ZO_EMU_EXPORT(zo_class_counts_i64)
ZO_EMU_EXPORT(zo_confusion_i32)
ZO_EMU_EXPORT(zo_confusion_i64)
ZO_EMU_EXPORT(zo_class_sums_i32)
ZO_EMU_EXPORT(zo_class_sums_i64)
ZO_EMU_EXPORT(zo_confusion_sums_i32_f64)
ZO_EMU_EXPORT(zo_confusion_sums_i32_i64)
ZO_EMU_EXPORT(zo_confusion_sums_i64_f64)
ZO_EMU_EXPORT(zo_confusion_sums_i64_i64)
