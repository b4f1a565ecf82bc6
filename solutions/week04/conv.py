"""Week 4: convolution and max-pooling, forward and backward, by hand.

You write the layers that `F.conv2d` and `F.max_pool2d` give you for free,
then use a fixed convolution (the Sobel filter) to find edges in images.

Conventions (the same in every function):
- Images are `[N, C, H, W]`: batch, channels, height, width.
- `stride` and `padding` take an int or an `(h, w)` pair; `_pair` turns either
  into a pair.
- Results have the input's dtype and device. Never modify an input in place.
- Banned here (the point is to write them): `F.conv2d`, `torch.conv2d`,
  `nn.Conv2d`, `F.unfold`, `nn.Unfold`, `F.max_pool2d`, `nn.MaxPool2d`,
  `torch.nn.grad`, and autograd (`.backward()`, `torch.autograd`,
  `torch.func`) in the backward functions. Every other way to the same torch
  operators counts too (`torch.convolution`, `torch.ops.aten...`,
  `F.conv_transpose2d`, `F.fold`, `nn.Conv3d`): the grader sees the operator,
  whatever the spelling. Your own helper functions and classes (a `Conv`
  class with a `backward` method) are yours to use. Code that reaches into
  the grader or torch's internals (`sys.modules`, `torch._C`, `getattr` with a
  name built at run time) is held for a teacher to review.

A useful trick for all of them: for a kernel offset (i, j), the input pixels
that meet kernel entry (i, j) over all output positions form one strided
slice of the (padded) input,

    x_pad[:, :, i : i + stride_h * (H_out - 1) + 1 : stride_h,
                j : j + stride_w * (W_out - 1) + 1 : stride_w]      # [N, C, H_out, W_out]

so a loop over the KH * KW kernel offsets, each doing one batched product,
is short and fast enough.
"""

import torch
import torch.nn.functional as F


def _pair(v):
    """An int or an (h, w) pair, as a tuple of two ints."""
    if isinstance(v, (tuple, list)):
        h, w = v
        return int(h), int(w)
    return int(v), int(v)


def conv2d_forward(x, w, b, stride=1, padding=0):
    """Forward pass of a 2-D convolution layer (cross-correlation, like F.conv2d).

    Inputs:
    - x: input images, shape [N, C, H, W]
    - w: filters, shape [F, C, KH, KW]
    - b: biases, shape [F]
    - stride: int or (sh, sw), the step between neighbouring output positions
    - padding: int or (ph, pw), zeros added on each side (top and bottom get
      ph rows, left and right get pw columns)

    Returns:
    - out: shape [N, F, H_out, W_out], with
        H_out = (H + 2 * ph - KH) // sh + 1
        W_out = (W + 2 * pw - KW) // sw + 1
        out[n, f, y, x] = b[f] + sum_{c, i, j} x_pad[n, c, y * sh + i, x * sw + j] * w[f, c, i, j]

    The kernel is not flipped: this is cross-correlation, as in every deep
    learning library.
    """
    # BEGIN SOLUTION
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    N, C, H, W = x.shape
    num_filters, _, KH, KW = w.shape
    H_out = (H + 2 * ph - KH) // sh + 1
    W_out = (W + 2 * pw - KW) // sw + 1

    x_pad = F.pad(x, (pw, pw, ph, ph))  # [N, C, H + 2ph, W + 2pw]
    out = b.reshape(1, num_filters, 1, 1).expand(N, num_filters, H_out, W_out).clone()
    for i in range(KH):
        for j in range(KW):
            patch = x_pad[:, :, i : i + sh * (H_out - 1) + 1 : sh, j : j + sw * (W_out - 1) + 1 : sw]
            out += torch.einsum("nchw,fc->nfhw", patch, w[:, :, i, j])  # [N, F, H_out, W_out]
    return out
    # END SOLUTION


def conv2d_backward(dout, x, w, b, stride=1, padding=0):
    """Backward pass of conv2d_forward.

    Inputs:
    - dout: upstream gradient dL/dout, shape [N, F, H_out, W_out]
    - x, w, b, stride, padding: the arguments of the forward pass
      (x [N, C, H, W], w [F, C, KH, KW], b [F])

    Returns a tuple (dx, dw, db):
    - dx: dL/dx, shape [N, C, H, W]
    - dw: dL/dw, shape [F, C, KH, KW]
    - db: dL/db, shape [F]

    With x_pad the padded input and patch_ij = the slice of x_pad that meets
    kernel entry (i, j) (see the module docstring):
        db[f]          = sum_{n, y, x} dout[n, f, y, x]
        dw[f, c, i, j] = sum_{n, y, x} dout[n, f, y, x] * patch_ij[n, c, y, x]
        dx_pad[n, c, y * sh + i, x * sw + j] += sum_f dout[n, f, y, x] * w[f, c, i, j]
    and dx is dx_pad without its padding border. Autograd is banned here.
    """
    # BEGIN SOLUTION
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    N, C, H, W = x.shape
    _, _, KH, KW = w.shape
    _, _, H_out, W_out = dout.shape

    x_pad = F.pad(x, (pw, pw, ph, ph))
    dx_pad = torch.zeros_like(x_pad)
    dw = torch.zeros_like(w)
    db = dout.sum(dim=(0, 2, 3))  # [F]
    for i in range(KH):
        for j in range(KW):
            rows = slice(i, i + sh * (H_out - 1) + 1, sh)
            cols = slice(j, j + sw * (W_out - 1) + 1, sw)
            patch = x_pad[:, :, rows, cols]  # [N, C, H_out, W_out]
            dw[:, :, i, j] = torch.einsum("nfhw,nchw->fc", dout, patch)
            dx_pad[:, :, rows, cols] += torch.einsum("nfhw,fc->nchw", dout, w[:, :, i, j])
    dx = dx_pad[:, :, ph : ph + H, pw : pw + W].contiguous()
    return dx, dw, db
    # END SOLUTION


def maxpool2d_forward(x, kernel_size=2, stride=None):
    """Forward pass of 2-D max-pooling without padding (like F.max_pool2d).

    Inputs:
    - x: input, shape [N, C, H, W]
    - kernel_size: int or (KH, KW), the window size
    - stride: int or (sh, sw); None means stride = kernel_size

    Returns:
    - out: shape [N, C, H_out, W_out], with
        H_out = (H - KH) // sh + 1,  W_out = (W - KW) // sw + 1
        out[n, c, y, x] = max_{i < KH, j < KW} x[n, c, y * sh + i, x * sw + j]
    """
    # BEGIN SOLUTION
    KH, KW = _pair(kernel_size)
    sh, sw = _pair(kernel_size if stride is None else stride)
    N, C, H, W = x.shape
    H_out = (H - KH) // sh + 1
    W_out = (W - KW) // sw + 1

    out = None
    for i in range(KH):
        for j in range(KW):
            v = x[:, :, i : i + sh * (H_out - 1) + 1 : sh, j : j + sw * (W_out - 1) + 1 : sw]
            out = v.clone() if out is None else torch.maximum(out, v)
    return out
    # END SOLUTION


def maxpool2d_backward(dout, x, kernel_size=2, stride=None):
    """Backward pass of maxpool2d_forward.

    Inputs:
    - dout: upstream gradient, shape [N, C, H_out, W_out]
    - x, kernel_size, stride: the arguments of the forward pass (x [N, C, H, W])

    Returns:
    - dx: shape [N, C, H, W]. Each window passes dout[n, c, y, x] to the
      position of its maximum and 0 elsewhere. When several entries of a
      window tie for the maximum, only the FIRST one in row-major order (the
      smallest i, then the smallest j) gets it. Windows overlap when
      stride < kernel_size; a pixel in several windows collects the sum of
      what each window sends it.
    Autograd is banned here.
    """
    # BEGIN SOLUTION
    KH, KW = _pair(kernel_size)
    sh, sw = _pair(kernel_size if stride is None else stride)
    _, _, H_out, W_out = dout.shape

    def window_slice(i, j):
        return (slice(None), slice(None), slice(i, i + sh * (H_out - 1) + 1, sh),
                slice(j, j + sw * (W_out - 1) + 1, sw))

    # the maximum of each window, [N, C, H_out, W_out]
    m = None
    for i in range(KH):
        for j in range(KW):
            v = x[window_slice(i, j)]
            m = v if m is None else torch.maximum(m, v)

    # visit the window entries in row-major order; the first that equals the max takes the gradient
    dx = torch.zeros_like(x)
    taken = torch.zeros_like(m, dtype=torch.bool)
    for i in range(KH):
        for j in range(KW):
            hit = (x[window_slice(i, j)] == m) & ~taken
            taken |= hit
            dx[window_slice(i, j)] += dout * hit
    return dx
    # END SOLUTION


def sobel(images):
    """Horizontal and vertical image gradients with the 3x3 Sobel filters.

    Inputs:
    - images: shape [N, 1, H, W]

    Returns a tuple (gx, gy), each of shape [N, 1, H, W]:
    - gx: cross-correlation of the zero-padded (1 pixel) images with
          [[-1, 0, 1],
           [-2, 0, 2],
           [-1, 0, 1]]       (large where brightness changes from left to right)
    - gy: the same with the transposed kernel
          [[-1, -2, -1],
           [ 0,  0,  0],
           [ 1,  2,  1]]     (large where brightness changes from top to bottom)
    """
    # BEGIN SOLUTION
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]],
                      dtype=images.dtype, device=images.device)
    ky = kx.T
    H, W = images.shape[-2:]
    padded = F.pad(images, (1, 1, 1, 1))
    gx = torch.zeros_like(images)
    gy = torch.zeros_like(images)
    for i in range(3):
        for j in range(3):
            shifted = padded[..., i : i + H, j : j + W]
            gx = gx + kx[i, j] * shifted
            gy = gy + ky[i, j] * shifted
    return gx, gy
    # END SOLUTION


def gradient_magnitude(gx, gy):
    """Pixel-wise gradient magnitude.

    Inputs:
    - gx, gy: gradients of the same shape, e.g. [N, 1, H, W] from sobel

    Returns:
    - magnitude: same shape, sqrt(gx ** 2 + gy ** 2)
    """
    # BEGIN SOLUTION
    return torch.sqrt(gx ** 2 + gy ** 2)
    # END SOLUTION
