#!/usr/bin/env python3
"""(Re)create autograder_data/samples/week07/: a sample class for week07 (`architectures.py`).

    python autograder_data/samples/make_week07_samples.py

Deterministic (running it twice gives the same bytes); standard library only.

- correct (au070001-au070005): plain loops and nn.functional; compact code with nn.ReLU
  modules and a math.floor; helper functions of the student's own (a conv-bn builder, a
  receptive field computed backwards from the output); a notebook; a zip.
- wrong (au070006-au070010): one function broken the way students do (no dilation, the strides
  ignored, every parameter counted, the ReLU before the addition, no groups).
- partial (au070011): two functions still raise NotImplementedError.
- broken (au070012-au070014): a syntax error, a missing class, an endless loop.
"""

from __future__ import annotations

from pathlib import Path

from samplekit import Entry, notebook_cells_from_module, replace_text, src, stub, write_class

HERE = Path(__file__).resolve().parent
WEEK = "week07"
FUNCTIONS = ["conv_output_size", "receptive_field", "count_parameters", "BasicBlock", "DepthwiseSeparableConv"]
ALL = list(FUNCTIONS)

# au070001: loops and nn.functional, every step written out.
LOOPS = src('''
    """Week 07, step by step."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F


    def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
        span = dilation * (kernel_size - 1) + 1
        positions = 0
        start = 0
        while start + span <= size + 2 * padding:
            positions += 1
            start += stride
        return positions


    def receptive_field(layers):
        r = 1
        for i in range(len(layers)):
            jump = 1
            for j in range(i):
                jump = jump * layers[j][1]
            r = r + (layers[i][0] - 1) * jump
        return r


    def count_parameters(model, trainable_only=True):
        total = 0
        for p in model.parameters():
            if trainable_only and not p.requires_grad:
                continue
            n = 1
            for d in p.shape:
                n *= d
            total += n
        return total


    class BasicBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(out_channels)
            self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(out_channels)
            if stride == 1 and in_channels == out_channels:
                self.shortcut = nn.Sequential()
            else:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                    nn.BatchNorm2d(out_channels),
                )

        def forward(self, x):
            out = self.conv1(x)
            out = self.bn1(out)
            out = F.relu(out)
            out = self.conv2(out)
            out = self.bn2(out)
            out = out + self.shortcut(x)
            out = F.relu(out)
            return out


    class DepthwiseSeparableConv(nn.Module):
        def __init__(self, in_channels, out_channels, kernel_size=3, stride=1):
            super().__init__()
            self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, stride=stride,
                                       padding=kernel_size // 2, groups=in_channels, bias=False)
            self.pointwise = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)

        def forward(self, x):
            y = self.depthwise(x)
            y = self.pointwise(y)
            return y
''')

# au070002: compact, nn.ReLU modules, math.floor.
COMPACT = src('''
    """Week 07, compact."""
    import math

    from torch import nn


    def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
        return math.floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1)


    def receptive_field(layers):
        r, j = 1, 1
        for k, s in layers:
            r, j = r + (k - 1) * j, j * s
        return r


    def count_parameters(model, trainable_only=True):
        return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


    class BasicBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(out_channels)
            self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(out_channels)
            self.relu = nn.ReLU(inplace=True)
            project = stride != 1 or in_channels != out_channels
            self.shortcut = nn.Sequential(*([nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                             nn.BatchNorm2d(out_channels)] if project else []))

        def forward(self, x):
            return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + self.shortcut(x))


    class DepthwiseSeparableConv(nn.Module):
        def __init__(self, in_channels, out_channels, kernel_size=3, stride=1):
            super().__init__()
            self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, stride, kernel_size // 2,
                                       groups=in_channels, bias=False)
            self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)

        def forward(self, x):
            return self.pointwise(self.depthwise(x))
''')

# au070003: helper functions of the student's own.
HELPERS = src('''
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


    class DepthwiseSeparableConv(nn.Module):
        def __init__(self, in_channels, out_channels, kernel_size=3, stride=1):
            super().__init__()
            self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, stride=stride,
                                       padding=kernel_size // 2, groups=in_channels, bias=False)
            self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)

        def forward(self, x):
            return self.pointwise(self.depthwise(x))
''')


def build_class() -> list[Entry]:
    e = []
    e.append(Entry("au070001", "folder", "correct", [], "loops: output positions counted, strides multiplied by hand",
                   files={"architectures.py": LOOPS}))
    e.append(Entry("au070002", "folder", "correct", [], "compact: math.floor, nn.ReLU(inplace=True) modules",
                   files={"architectures.py": COMPACT}))
    e.append(Entry("au070003", "folder", "correct", [], "helpers: a conv_bn builder, the receptive field backwards",
                   files={"architectures.py": HELPERS}))
    cells = notebook_cells_from_module(COMPACT, "# Week 07: ConvNet architectures\nau070004", FUNCTIONS, [
        ("code", "block = BasicBlock(3, 8, stride=2)\nprint(count_parameters(block))"),
        ("code", "print(conv_output_size(32, 3, 2, 1), receptive_field([(3, 1)] * 3))")])
    e.append(Entry("au070004", "ipynb", "correct", [], "Colab notebook of the compact version; intake drops !pip, "
                   "the magics and the top-level checks", cells=cells))
    e.append(Entry("au070005", "zip", "correct", [], "zip made like dlgrade submit, loops",
                   files={"architectures.py": LOOPS}))
    e.append(Entry("au070006", "folder", "wrong", ["conv_output_size"], "conv_output_size ignores the dilation",
                   files={"architectures.py": replace_text(COMPACT, "- dilation * (kernel_size - 1) - 1",
                                                           "- (kernel_size - 1) - 1")}))
    e.append(Entry("au070007", "folder", "wrong", ["receptive_field"], "receptive_field ignores the strides",
                   files={"architectures.py": replace_text(COMPACT, "r, j = r + (k - 1) * j, j * s",
                                                           "r, j = r + (k - 1), j * s")}))
    e.append(Entry("au070008", "folder", "wrong", ["count_parameters"], "count_parameters ignores trainable_only",
                   files={"architectures.py": replace_text(
                       COMPACT, "for p in model.parameters() if p.requires_grad or not trainable_only)",
                       "for p in model.parameters())")}))
    e.append(Entry("au070009", "folder", "wrong", ["BasicBlock"], "BasicBlock: ReLU before the shortcut is added",
                   files={"architectures.py": replace_text(
                       LOOPS, "        out = out + self.shortcut(x)\n        out = F.relu(out)\n",
                       "        out = F.relu(out)\n        out = out + self.shortcut(x)\n")}))
    e.append(Entry("au070010", "folder", "wrong", ["DepthwiseSeparableConv"],
                   "DepthwiseSeparableConv without groups: a full convolution (layout error)",
                   files={"architectures.py": replace_text(
                       HELPERS, "padding=kernel_size // 2, groups=in_channels, bias=False)",
                       "padding=kernel_size // 2, bias=False)")}))
    e.append(Entry("au070011", "folder", "partial", ["receptive_field", "count_parameters"],
                   "receptive_field and count_parameters still raise NotImplementedError",
                   files={"architectures.py": stub(LOOPS, "receptive_field", "count_parameters")}))
    e.append(Entry("au070012", "folder", "broken", ALL, "a syntax error (a missing colon) stops the import",
                   files={"architectures.py": replace_text(COMPACT, "def receptive_field(layers):",
                                                           "def receptive_field(layers)")}))
    e.append(Entry("au070013", "folder", "broken", ["DepthwiseSeparableConv"],
                   "DepthwiseSeparableConv is missing (named DepthwiseConv)",
                   files={"architectures.py": replace_text(HELPERS, "class DepthwiseSeparableConv(nn.Module):",
                                                           "class DepthwiseConv(nn.Module):")}))
    e.append(Entry("au070014", "folder", "broken", ["conv_output_size"],
                   "conv_output_size steps the window with `start += stride - 1`: forever when stride is 1",
                   files={"architectures.py": replace_text(LOOPS, "start += stride\n", "start += stride - 1\n")}))
    return e


def main() -> None:
    write_class(HERE / WEEK, WEEK, FUNCTIONS, build_class(), "make_week07_samples.py", may_not_compile=("au070012",))


if __name__ == "__main__":
    main()
