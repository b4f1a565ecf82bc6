"""week03's autograd ban on real submissions: every way to make torch compute a gradient
(`.backward()`, `torch.autograd.grad`, `torch.func`, the engine reached from a class of the
student's own) costs the function that does it, by name or by engine use; a student's own
`backward` methods never count as `Tensor.backward`."""

from __future__ import annotations

import pytest

from support import ROOT, by_function, grade_folders, make_submission
from grader.banned import scan
from grader.course import Course

WEEK = Course(ROOT).week("week03")
BANS = {f: WEEK.banned_for(f) for f in WEEK.functions}
REFERENCE = "".join(line for line in WEEK.solution_file.read_text().splitlines(True) if "SOLUTION" not in line)


def replace_def(source: str, name: str, new: str) -> str:
    """source with the top-level function `name` renamed out of the way and `new` put before it."""
    head = f"def {name}("
    assert source.count(head) == 1
    return source.replace(head, new.strip("\n") + f"\n\n\ndef _old_{name}(")


OWN_LAYERS = '''
class Affine:
    """A layer of my own: forward keeps its cache, backward is the chain rule by hand."""

    def forward(self, x, w, b):
        self.cache = (x, w, b)
        return x.reshape(x.shape[0], -1) @ w + b

    def backward(self, dout):
        x, w, b = self.cache
        return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(0)


def affine_backward(dout, cache):
    layer = Affine()
    layer.forward(*cache)
    return layer.backward(dout)
'''

OWN_BACKWARD_CALLS_AUTOGRAD = '''
class Affine:
    def backward(self, dout, cache):
        x, w, b = (t.detach().clone().requires_grad_(True) for t in cache)
        out = x.reshape(x.shape[0], -1) @ w + b
        out.backward(dout)          # looks like my own backward to a reader; the engine runs
        return x.grad, w.grad, b.grad


def affine_backward(dout, cache):
    return Affine().backward(dout, cache)
'''

TENSOR_BACKWARD = '''
def relu_backward(dout, cache):
    x = cache.detach().clone().requires_grad_(True)
    x.clamp(min=0).backward(dout)
    return x.grad
'''

AUTOGRAD_GRAD_ALIAS = '''
def sigmoid_backward(dout, cache):
    from torch import autograd as ag
    x = cache.detach().clone().requires_grad_(True)
    (dx,) = ag.grad(torch.sigmoid(x), x, grad_outputs=dout)
    return dx
'''

TORCH_FUNC_VJP = '''
def sigmoid_backward(dout, cache):
    from torch.func import vjp
    _, pullback = vjp(torch.sigmoid, cache)
    return pullback(dout)[0]
'''

TORCH_FUNC_GRAD = '''
def numerical_gradient(f, x, h=1e-5):
    import torch.func
    return torch.func.grad(lambda z: torch.as_tensor(f(z)))(x.clone())
'''

NET_BY_AUTOGRAD = '''
def two_layer_net(params, X, y=None, reg=0.0):
    p = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    scores = (X @ p["W1"] + p["b1"]).clamp(min=0) @ p["W2"] + p["b2"]
    if y is None:
        return scores.detach()
    loss = torch.nn.functional.cross_entropy(scores, y) + reg * ((p["W1"] ** 2).sum() + (p["W2"] ** 2).sum())
    loss.backward()
    return loss.detach(), {k: v.grad for k, v in p.items()}
'''

ENGINE_DIRECTLY = '''
def affine_backward(dout, cache):
    from torch.autograd import Variable
    x, w, b = (t.detach().clone().requires_grad_(True) for t in cache)
    out = x.reshape(x.shape[0], -1) @ w + b
    Variable._execution_engine.run_backward((out,), (dout,), False, False, (x, w, b), True, True)
    return tuple(t.grad for t in (x, w, b))
'''

# (name, function replaced, its new source, the function that loses its points, the status its tests get)
CASES = [
    ("own_layer_class", "affine_backward", OWN_LAYERS, None, None),
    ("own_backward_calls_autograd", "affine_backward", OWN_BACKWARD_CALLS_AUTOGRAD, "affine_backward", "banned"),
    ("tensor_backward", "relu_backward", TENSOR_BACKWARD, "relu_backward", "banned"),
    ("autograd_grad_alias", "sigmoid_backward", AUTOGRAD_GRAD_ALIAS, "sigmoid_backward", "banned"),
    ("torch_func_vjp", "sigmoid_backward", TORCH_FUNC_VJP, "sigmoid_backward", "banned"),
    ("torch_func_grad", "numerical_gradient", TORCH_FUNC_GRAD, "numerical_gradient", "banned"),
    ("net_by_autograd", "two_layer_net", NET_BY_AUTOGRAD, "two_layer_net", "banned"),
    ("engine_directly", "affine_backward", ENGINE_DIRECTLY, "affine_backward", "banned"),
]


SCORES_ONLY = "two_layer_net: scores without y,"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("w03bans")
    folders = {name: make_submission(tmp, name, replace_def(REFERENCE, fn, new), "backprop")
               for name, fn, new, _, _ in CASES}
    return grade_folders(WEEK, folders, seed=5)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_case(graded, case):
    name, _, _, loses, status = case
    result = graded[name]
    for t in result["tests"]:
        if t["function"] == loses and not (name == "net_by_autograd" and t["name"].startswith(SCORES_ONLY)):
            assert t["status"] == status and t["score"] == 0.0, (t["name"], t["status"], t["message"])
        else:   # a scores-only call of two_layer_net runs no autograd: the call-time check has nothing to see
            assert t["status"] == "passed", (t["name"], t["status"], t["message"])
    assert set(by_function(result)) == set(WEEK.functions)


def test_engine_use_is_named_in_the_feedback(graded):
    for case in ("own_backward_calls_autograd", "tensor_backward", "net_by_autograd"):
        msgs = {t["message"] for t in graded[case]["tests"] if t["status"] == "banned"}
        assert msgs and all("autograd engine computed a gradient" in m for m in msgs), (case, msgs)


def test_own_layer_classes_in_a_helper_module_keep_full_marks(tmp_path):
    """Layer classes with backward methods in layers.py, used by backprop.py: never Tensor.backward."""
    folder = tmp_path / "own_helper_module"
    folder.mkdir()
    (folder / "layers.py").write_text("import torch\n\n" + OWN_LAYERS.split("def affine_backward")[0])
    (folder / "backprop.py").write_text(replace_def(REFERENCE, "affine_backward", """
from layers import Affine


def affine_backward(dout, cache):
    layer = Affine()
    layer.forward(*cache)
    return layer.backward(dout)
"""))
    result = grade_folders(WEEK, {"own_helper_module": folder}, visibility="public")["own_helper_module"]
    assert result["score"] == result["max_score"], [t for t in result["tests"] if t["status"] != "passed"]


# ---------------------------------------------------------------- the static scan alone
def test_scan_own_backward_methods_never_banned():
    source = replace_def(REFERENCE, "affine_backward", OWN_LAYERS)
    found = scan(source, BANS)
    assert found.banned == {} and found.review == {}


def test_scan_leaves_x_backward_to_the_engine_check():
    """x.backward() is not banned by name (an own `backward` in a helper module would look the same);
    the engine check catches it when it runs (the tensor_backward case above)."""
    source = replace_def(REFERENCE, "relu_backward", TENSOR_BACKWARD)
    assert scan(source, BANS).banned == {}
    assert "torch.Tensor.backward" not in WEEK.banned_for("relu_backward")


@pytest.mark.parametrize("new, function, found", [
    (AUTOGRAD_GRAD_ALIAS, "sigmoid_backward", "torch.autograd"),      # from torch import autograd as ag
    (TORCH_FUNC_VJP, "sigmoid_backward", "torch.func"),               # from torch.func import vjp
    (TORCH_FUNC_GRAD, "numerical_gradient", "torch.func"),
    (ENGINE_DIRECTLY, "affine_backward", "torch.autograd"),           # torch.autograd.Variable
])
def test_scan_follows_aliases(new, function, found):
    """The scan names the ban entry a call falls under."""
    source = replace_def(REFERENCE, function, new)
    assert scan(source, BANS).banned == {function: [found]}


def test_scan_reference_is_clean():
    found = scan(WEEK.solution_file.read_text(), BANS)
    assert found.banned == {} and found.review == {}
