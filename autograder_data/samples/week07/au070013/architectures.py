"""Week 07 with helpers."""
import torch
from torch import nn


def conv_bn(cin, cout, k, stride, padding):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=padding, bias=False), nn.BatchNorm2d(cout)


def effective_kernel(k, dilation):
    return dilation * (k - 1) + 1


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - effective_kernel(kernel_size, dilation)) // stride + 1


def receptive_field(layers):
    r = 1
    for k, s in reversed(list(layers)):
        r = (r - 1) * s + k
    return r


def count_parameters(model, trainable_only=True):
    seen = {}
    for name, p in model.named_parameters():
        if p.requires_grad or not trainable_only:
            seen[id(p)] = p.numel()
    return int(sum(seen.values()))


class BasicBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1, self.bn1 = conv_bn(in_channels, out_channels, 3, stride, 1)
        self.conv2, self.bn2 = conv_bn(out_channels, out_channels, 3, 1, 1)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(*conv_bn(in_channels, out_channels, 1, stride, 0))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class DepthwiseConv(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, stride=stride,
                                   padding=kernel_size // 2, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))
