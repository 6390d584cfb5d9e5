"""Raw pointers and borrowed array views for compiled code.

numba reference-counts every array passed between compiled functions, with atomic
instructions. A view rebuilt from the raw data pointer with ``carray`` has the same numba type
but no reference count; it is only valid while the array it came from is alive, i.e. inside the
kernel call that made it.
"""

from __future__ import annotations

from numba import carray, njit, types
from numba.extending import intrinsic


@intrinsic
def data_ptr(typingctx, arr):
    """Pointer to the first element of an array."""
    ptr_type = types.CPointer(arr.dtype)
    sig = ptr_type(arr)

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        return builder.bitcast(data, context.get_value_type(ptr_type))

    return sig, codegen


@njit(cache=True)
def borrow(a):
    """A borrowed view of a C-contiguous array."""
    return carray(data_ptr(a), a.shape)  # type: ignore[call-arg]
