# Helpers shared by the kernels (header-only: cdef inline, see STYLE.md).
from libc.stdlib cimport calloc, free


cdef inline int *_flag() except NULL:
    """A zeroed int that threads set to 1 when a buffer allocation fails."""
    cdef int *flag = <int *> calloc(1, sizeof(int))
    if flag == NULL:
        raise MemoryError()
    return flag


cdef inline int _check_flag(int *flag) except -1:
    """Free the flag; raise MemoryError if a thread set it."""
    cdef int bad = flag[0]
    free(flag)
    if bad:
        raise MemoryError("zoopt: a kernel could not allocate its buffer")
    return 0
