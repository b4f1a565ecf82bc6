import torch


def to_pair(v):
    if type(v) is int:
        return (v, v)
    return tuple(v)


def pad_input(x, ph, pw):
    N, C, H, W = x.shape
    out = torch.zeros(N, C, H + 2 * ph, W + 2 * pw, dtype=x.dtype, device=x.device)
    out[:, :, ph:ph + H, pw:pw + W] = x
    return out


def conv2d_forward(x, w, b, stride=1, padding=0):
    sh, sw = to_pair(stride)
    ph, pw = to_pair(padding)
    N, C, H, W = x.shape
    num_f, _, kh, kw = w.shape
    out_h = (H + 2 * ph - kh) // sh + 1
    out_w = (W + 2 * pw - kw) // sw + 1
    xp = pad_input(x, ph, pw)
    out = torch.zeros(N, num_f, out_h, out_w, dtype=x.dtype, device=x.device)
    for r in range(out_h):
        for c in range(out_w):
            patch = xp[:, :, r * sh:r * sh + kh, c * sw:c * sw + kw]     # [N, C, kh, kw]
            # multiply every filter with the patch and add everything up
            out[:, :, r, c] = (patch[:, None] * w[None]).sum(dim=(2, 3, 4)) + b
    return out


def conv2d_backward(dout, x, w, b, stride=1, padding=0):
    ph, pw = to_pair(padding)
    N, C, H, W = x.shape
    num_f, _, kh, kw = w.shape
    out_h, out_w = dout.shape[2], dout.shape[3]
    xp = pad_input(x, ph, pw)
    dxp = torch.zeros_like(xp)
    dw = torch.zeros_like(w)
    for n in range(N):
        for r in range(out_h):
            for c in range(out_w):
                patch = xp[n, :, r:r + kh, c:c + kw]                          # [C, kh, kw]
                g = dout[n, :, r, c]                                         # [F]
                dw += g[:, None, None, None] * patch[None]
                dxp[n, :, r:r + kh, c:c + kw] += (g[:, None, None, None] * w).sum(dim=0)
    db = dout.sum(dim=(0, 2, 3))
    dx = dxp[:, :, ph:ph + H, pw:pw + W].clone()
    return dx, dw, db


def maxpool2d_forward(x, kernel_size=2, stride=None):
    kh, kw = to_pair(kernel_size)
    if stride is None:
        stride = kernel_size
    sh, sw = to_pair(stride)
    N, C, H, W = x.shape
    out_h = (H - kh) // sh + 1
    out_w = (W - kw) // sw + 1
    out = torch.zeros(N, C, out_h, out_w, dtype=x.dtype, device=x.device)
    for r in range(out_h):
        for c in range(out_w):
            out[:, :, r, c] = x[:, :, r * sh:r * sh + kh, c * sw:c * sw + kw].amax(dim=(2, 3))
    return out


def maxpool2d_backward(dout, x, kernel_size=2, stride=None):
    kh, kw = to_pair(kernel_size)
    if stride is None:
        stride = kernel_size
    sh, sw = to_pair(stride)
    N, C, out_h, out_w = dout.shape
    dx = torch.zeros_like(x)
    for r in range(out_h):
        for c in range(out_w):
            win = x[:, :, r * sh:r * sh + kh, c * sw:c * sw + kw].reshape(N, C, -1)
            idx = win.argmax(dim=2)          # index of the first max in each window
            onehot = torch.zeros_like(win)
            onehot.scatter_(2, idx[..., None], 1.0)
            dx[:, :, r * sh:r * sh + kh, c * sw:c * sw + kw] += (onehot * dout[:, :, r, c, None]).reshape(N, C, kh, kw)
    return dx


def sobel(images):
    kx = torch.tensor([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]], dtype=images.dtype, device=images.device)
    ky = kx.t()
    N, _, H, W = images.shape
    p = pad_input(images, 1, 1)
    gx = torch.zeros_like(images)
    gy = torch.zeros_like(images)
    for r in range(H):
        for c in range(W):
            patch = p[:, 0, r:r + 3, c:c + 3]      # [N, 3, 3]
            gx[:, 0, r, c] = (patch * kx).sum(dim=(1, 2))
            gy[:, 0, r, c] = (patch * ky).sum(dim=(1, 2))
    return gx, gy


def gradient_magnitude(gx, gy):
    return torch.sqrt(gx ** 2 + gy ** 2)
