"""Week 07: ConvNet architectures: output sizes, receptive fields, parameter
counts, a ResNet basic block and a MobileNet depthwise separable convolution.

Conventions:
- Sizes are Python ints; a size that would be smaller than 1 is not tested.
- The two classes are graded by loading the reference's state_dict into yours
  with `strict=True`: the submodule names, their order of layers and every
  parameter's shape must be exactly as described (no extra parameters or
  buffers, no biases on the convolutions).
"""

import torch
from torch import nn
import torch.nn.functional as F


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    """The output length of a convolution along one spatial axis, like nn.Conv2d.

    Inputs:
    - size: int, the input length (H or W)
    - kernel_size, stride, padding, dilation: ints, as in nn.Conv2d
      (padding is added on both sides)

    Returns:
    - int: floor((size + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1
    """
    # BEGIN SOLUTION
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
    # END SOLUTION


def receptive_field(layers):
    """The receptive field of one output unit of a chain of convolutions.

    Inputs:
    - layers: a list of (kernel_size, stride) int pairs, first layer first
      (no dilation; padding does not change the receptive field). An empty
      list is the identity.

    Returns:
    - int: how many input pixels along one axis one output unit depends on:
      r = 1 + sum_l (k_l - 1) * (s_1 * ... * s_{l-1})
    """
    # BEGIN SOLUTION
    r, jump = 1, 1
    for k, s in layers:
        r += (k - 1) * jump
        jump *= s
    return r
    # END SOLUTION


def count_parameters(model, trainable_only=True):
    """The number of scalar parameters of a model.

    Inputs:
    - model: an nn.Module
    - trainable_only: if True, only parameters with requires_grad=True count

    Returns:
    - int: the sum of p.numel(); a parameter shared by two submodules counts
      once (model.parameters() already yields it once). Buffers (BatchNorm
      running statistics) are not parameters.
    """
    # BEGIN SOLUTION
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
    # END SOLUTION


class BasicBlock(nn.Module):
    """The ResNet basic block (He et al., 2016), for ResNet-18/34.

    Submodules, with exactly these names:
    - conv1: nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
    - bn1: nn.BatchNorm2d(out_channels)
    - conv2: nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
    - bn2: nn.BatchNorm2d(out_channels)
    - shortcut: nn.Sequential(); empty (the identity) when stride == 1 and
      in_channels == out_channels, else
      nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                    nn.BatchNorm2d(out_channels))

    forward(x [N, in_channels, H, W]) -> [N, out_channels, H', W'] with
    H' = (H - 1) // stride + 1 (the same for W):
        out = relu(bn1(conv1(x)))
        out = bn2(conv2(out)) + shortcut(x)
        return relu(out)
    """

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        # BEGIN SOLUTION
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels))
        # END SOLUTION

    def forward(self, x):
        # BEGIN SOLUTION
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out)) + self.shortcut(x)
        return F.relu(out)
        # END SOLUTION


class DepthwiseSeparableConv(nn.Module):
    """A depthwise separable convolution (MobileNet), without normalisation or activation.

    Submodules, with exactly these names:
    - depthwise: nn.Conv2d(in_channels, in_channels, kernel_size, stride=stride,
      padding=kernel_size // 2, groups=in_channels, bias=False)
    - pointwise: nn.Conv2d(in_channels, out_channels, 1, bias=False)

    forward(x [N, in_channels, H, W]) -> pointwise(depthwise(x)),
    [N, out_channels, H', W'] with H' = conv_output_size(H, kernel_size, stride, kernel_size // 2).
    """

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1):
        super().__init__()
        # BEGIN SOLUTION
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, stride=stride,
                                   padding=kernel_size // 2, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        # END SOLUTION

    def forward(self, x):
        # BEGIN SOLUTION
        return self.pointwise(self.depthwise(x))
        # END SOLUTION
