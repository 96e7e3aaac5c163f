/*
 * Host emulation of the CUDA kernel language, enough to run zoopt's .cu files
 * on the CPU with g++: the same source, compiled for the host, driven through
 * ctypes by the tests (tests/gpu_emu.py).
 *
 * A launch runs the grid sequentially, one CUDA thread after the other, with
 * threadIdx / blockIdx / blockDim / gridDim set for each; arguments arrive as
 * an array of pointers to their values, as cuLaunchKernel takes them.  The
 * kernels it runs have no barriers: __syncthreads aborts (a kernel that needs
 * one needs a threaded launch, which this header does not provide).
 *
 * What this proves: per-thread integer and IEEE arithmetic (compiled with
 * -ffp-contract=off, as -fmad=false on the device), index and bounds logic,
 * partial blocks, grid-stride loops, integer atomics, and memory errors under
 * ASan/UBSan.
 * What it cannot: flushing of subnormals, NaN payloads, the device's memory
 * model, speed.
 */
#ifndef ZOOPT_CUDA_EMU_H
#define ZOOPT_CUDA_EMU_H

#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <type_traits>
#include <utility>

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict

inline thread_local dim3 threadIdx, blockIdx, blockDim, gridDim;

[[noreturn]] inline void __syncthreads() { std::abort(); }

/* Integer atomics as on the device (the order of integer additions changes nothing). */
inline unsigned long long atomicAdd(unsigned long long *address, unsigned long long value) {
    return std::atomic_ref<unsigned long long>(*address).fetch_add(value);
}
inline unsigned atomicAdd(unsigned *address, unsigned value) {
    return std::atomic_ref<unsigned>(*address).fetch_add(value);
}
inline int atomicAdd(int *address, int value) {
    return std::atomic_ref<int>(*address).fetch_add(value);
}

namespace zo_emu {

template <class... A, std::size_t... I>
inline void call(void (*kernel)(A...), void **args, std::index_sequence<I...>) {
    kernel(*static_cast<std::remove_reference_t<A> *>(args[I])...);
}

template <class... A>
inline void launch(void (*kernel)(A...), const unsigned *grid, const unsigned *block,
                   void **args) {
    gridDim = dim3(grid[0], grid[1], grid[2]);
    blockDim = dim3(block[0], block[1], block[2]);
    for (unsigned bz = 0; bz < grid[2]; bz++)
        for (unsigned by = 0; by < grid[1]; by++)
            for (unsigned bx = 0; bx < grid[0]; bx++)
                for (unsigned tz = 0; tz < block[2]; tz++)
                    for (unsigned ty = 0; ty < block[1]; ty++)
                        for (unsigned tx = 0; tx < block[0]; tx++) {
                            blockIdx = dim3(bx, by, bz);
                            threadIdx = dim3(tx, ty, tz);
                            call(kernel, args, std::index_sequence_for<A...>{});
                        }
}

}  // namespace zo_emu

/* emu_<kernel>(grid[3], block[3], args): the kernel launched on the host. */
#define ZO_EMU_EXPORT(name)                                                     \
    extern "C" void emu_##name(const unsigned *grid, const unsigned *block,      \
                               void **args) {                                    \
        zo_emu::launch(name, grid, block, args);                                 \
    }

#endif
