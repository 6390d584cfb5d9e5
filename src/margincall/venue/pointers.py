"""Raw pointers and borrowed array views for compiled code.

numba reference-counts every array passed between compiled functions, with atomic
instructions. A view rebuilt from the raw data pointer with ``carray`` has the same numba type
but no reference count; it is only valid while the array it came from is alive, i.e. inside the
kernel call that made it.
"""

from __future__ import annotations

from numba import carray, njit, types
from numba.extending import intrinsic

no_refcount = njit(cache=True, _nrt=False)  # type: ignore[call-overload]  # (not in the stubs)
"""Compile a hot helper without numba's reference counting (``_nrt=False``).

numba increfs and decrefs every array bound to a variable (each array of a tuple argument, the
arguments of an inlined body too) with one out-of-line runtime call each, even for borrowed
views; a helper taking the account or index tuple paid dozens per call. Only for helpers that
read and write arrays but never create, keep or return one (they return numbers or nothing).
"""


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


@intrinsic
def prefetch(typingctx, arr, index):
    """Ask the CPU to start loading ``arr[index]`` into cache (no effect on results)."""
    sig = types.void(arr, index)

    def codegen(context, builder, signature, args):
        import llvmlite.ir as ir
        from numba.core import cgutils

        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, signature.args[0], ary, [args[1]])
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(1), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen
