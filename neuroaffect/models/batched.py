"""Many copies of one model trained side by side: stacked parameters and ``torch.vmap``.

A hyper-parameter or cross-validation sweep can run ``n_models`` copies of the
same architecture as one batched computation:

.. code-block:: python

    models = [create_model("rbtransformer", n_chans=32, n_bands=4, n_outputs=2) for _ in range(3)]
    params, buffers, base = stack_models(models)
    call = lambda p, b, xx: functional_call(base, (p, b), (xx,))
    logits = torch.vmap(call, randomness="different")(params, buffers, x)  # x: (3, batch, 32, 4) -> (3, batch, 2)

For training, differentiate a loss of ``functional_call(base, (p, b), (x,))``
with ``torch.func.grad`` inside ``torch.vmap(..., randomness="different")``, or
let autograd flow into ``params`` (leaf tensors) and step an optimiser on them.

Every registered token model supports this: their forward passes use no
in-place updates of parameters, no ``.item()`` and no data-dependent control
flow, and the graph models evaluate their torch-geometric layers with dense
algebra (see :class:`~neuroaffect.models.DGCNN`). Dropout needs
``randomness="different"`` (independent masks per copy, the right choice for
training) or ``"same"``; vmap's default ``"error"`` refuses any random op, so it
only works in ``eval()`` mode.
"""

from __future__ import annotations

import copy

from torch.func import stack_module_state

__all__ = ["stack_models"]


def stack_models(models):
    """Stack the parameters and buffers of identically built models.

    Parameters
    ----------
    models : sequence of torch.nn.Module, length n_models
        Same class and constructor arguments (different initialisations).

    Returns
    -------
    params : dict of str -> Tensor, each of shape (n_models, *param_shape)
        Leaf tensors that require grad: hand them to an optimiser.
    buffers : dict of str -> Tensor, each of shape (n_models, *buffer_shape)
    base : torch.nn.Module
        A parameter-free skeleton (on the ``meta`` device) to call with
        :func:`torch.func.functional_call`.
    """
    models = list(models)
    if not models:
        raise ValueError("Invalid value for the 'models' parameter: expected at least one model, but got none.")
    kinds = {type(m) for m in models}
    if len(kinds) != 1:
        raise ValueError(
            "Invalid value for the 'models' parameter: expected models of one class, but got "
            f"{sorted(k.__name__ for k in kinds)} instead."
        )
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")
    return params, buffers, base

