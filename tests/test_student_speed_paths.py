"""The student's channels-last layout (its faster CPU path) computes what the plain NCHW layout does."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from neuroaffect.distill import FERStudent


def _pair(small_input: bool):
    torch.manual_seed(0)
    fast = FERStudent(8, proj_dim=16, in_size=48, small_input=small_input)
    plain = FERStudent(8, proj_dim=16, in_size=48, small_input=small_input).set_memory_format(torch.contiguous_format)
    plain.load_state_dict(fast.state_dict())
    return fast, plain


def _step(model, x, y):
    model.zero_grad(set_to_none=True)
    out = model.forward_outputs(x)
    loss = F.cross_entropy(out["logits"], y) + out["embedding"].pow(3).sum()
    loss.backward()
    return out, {k: p.grad.clone() for k, p in model.named_parameters()}


def _flat(grads: dict) -> torch.Tensor:
    return torch.cat([grads[k].double().ravel() for k in sorted(grads)])


@pytest.mark.parametrize("small_input", [True, False])
@pytest.mark.slow
def test_channels_last_gives_the_plain_outputs_and_gradients(small_input):
    fast, plain = _pair(small_input)
    conv = fast.backbone.layer1[0].conv1.weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert plain.backbone.layer1[0].conv1.weight.is_contiguous()
    g = torch.Generator().manual_seed(1)
    x = torch.rand(4, 3, 48, 48, generator=g)  # colour input: reduced to grey first
    y = torch.tensor([0, 3, 5, 7])
    # eval mode (batch norm with its running statistics): outputs and every gradient as the plain layout's
    fast.eval(), plain.eval()
    out_f, grad_f = _step(fast, x, y)
    out_p, grad_p = _step(plain, x, y)
    for k in ("logits", "embedding"):
        torch.testing.assert_close(out_f[k], out_p[k], rtol=1e-4, atol=1e-5)
    assert grad_f.keys() == grad_p.keys()
    for k in grad_p:
        torch.testing.assert_close(grad_f[k], grad_p[k], rtol=1e-3, atol=1e-6, msg=k)
    # training mode: the same outputs; the gradients through batch statistics of 4 images are
    # ill-conditioned (float32 rounding grows through them in either layout), so both layouts are
    # held to a float64 copy of the plain model: within 1 % in norm over all parameters
    fast.train(), plain.train()
    ref = copy.deepcopy(plain).double()
    out_f, grad_f = _step(fast, x, y)
    out_p, grad_p = _step(plain, x, y)
    _, grad_r = _step(ref, x.double(), y)
    for k in ("logits", "embedding"):
        torch.testing.assert_close(out_f[k], out_p[k], rtol=1e-4, atol=1e-5)
    for grads in (grad_f, grad_p):
        err = (_flat(grads) - _flat(grad_r)).norm() / _flat(grad_r).norm()
        assert err < 1e-2, float(err)


def test_the_layout_is_not_part_of_the_weights(tmp_path):
    fast, _ = _pair(True)
    torch.save(fast.state_dict(), tmp_path / "w.pt")
    plain = FERStudent(8, proj_dim=16, in_size=48, small_input=True, weights=tmp_path / "w.pt")
    assert plain.backbone.layer1[0].conv1.weight.is_contiguous(memory_format=torch.channels_last)
    for k, v in fast.state_dict().items():
        assert torch.equal(plain.state_dict()[k], v), k
    with pytest.raises(ValueError, match="'memory_format' parameter: expected torch.channels_last or "
                       "torch.contiguous_format, but got torch.preserve_format"):
        plain.set_memory_format(torch.preserve_format)
