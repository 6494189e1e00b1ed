"""A duck-typed stand-in for torch.Tensor, enough for ptxfmha/_checks.py: dtype (str()
"torch.<name>"), device (.type, .index), dim(), shape, stride(), is_contiguous(), data_ptr().
Addresses are plain integers: the C library validates them without touching memory."""


class Dtype:
    def __init__(self, name):
        self.name = name

    def __str__(self):
        return f"torch.{self.name}"


class Device:
    def __init__(self, type_="cuda", index=0):
        self.type, self.index = type_, index

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"


def contiguous_strides(shape):
    strides, acc = [], 1
    for n in reversed(shape):
        strides.append(acc)
        acc *= n
    return tuple(reversed(strides))


class T:
    def __init__(self, shape, ptr=0x10000000, strides=None, dtype="bfloat16", device=None):
        self.shape = tuple(shape)
        self._strides = tuple(strides) if strides is not None else contiguous_strides(self.shape)
        self._ptr = ptr
        self.dtype = Dtype(dtype)
        self.device = device or Device()

    def dim(self):
        return len(self.shape)

    def stride(self, i=None):
        return self._strides if i is None else self._strides[i]

    def is_contiguous(self):
        return self._strides == contiguous_strides(self.shape)

    def data_ptr(self):
        return self._ptr


def bf16_bytes(shape):
    n = 1
    for s in shape:
        n *= s
    return 2 * n
