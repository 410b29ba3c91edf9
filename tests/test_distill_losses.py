"""The student's losses on hand-computed cases (Proto-KD in both modes), their gradients, and D-Geo's ramp."""

import math

import numpy as np
import pytest
import torch

from neuroaffect.distill import (
    ARMS, DistillLoss, FERStudent, ProtoKD, class_weights, cosine_ramp, dgeo_loss, kd_loss, weighted_cross_entropy,
)
from neuroaffect.distill.losses import DEFAULT_TARGET_TEMPERATURE, PROTO_MODES, votes_va
from neuroaffect.labels import FER_CLASSES, fer_va_anchors, grid_centres, grid_edges
from neuroaffect.prototypes.io import load_grid, write_grid_files

LN2 = math.log(2.0)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _grid(tmp_path, n=3, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.standard_normal((n, n, dim))
    p /= np.linalg.norm(p, axis=-1, keepdims=True)
    arrays = {"prototypes": p.astype(np.float32), "centres": grid_centres(n), "edges": grid_edges(n),
              "counts": np.ones((1, n, n), np.int64), "filled": np.zeros((n, n), np.uint8)}
    write_grid_files(tmp_path / "grid", arrays, {"dim": dim, "sources": ["sim"]})
    return load_grid(tmp_path / "grid")


def test_class_weights_inverse_frequency_mean_one():
    w = class_weights(np.array([0, 0, 0, 1]), n_classes=3)
    # n = (3, 1, 0): 1/n = (1/3, 1) over the present classes, mean 2/3 -> (0.5, 1.5); absent class 0
    np.testing.assert_allclose(w, [0.5, 1.5, 0.0], rtol=1e-6)
    w8 = class_weights(np.repeat(np.arange(8), np.arange(1, 9)))
    assert w8.mean() == pytest.approx(1.0) and np.all(np.diff(w8) < 0)
    with pytest.raises(ValueError, match="'labels' parameter"):
        class_weights(np.array([0, 9]))


def test_weighted_cross_entropy_by_hand():
    eps = 0.2
    w = torch.tensor([1.0, 3.0])
    logits = torch.tensor([[[0.0, 0.0], [math.log(3.0), 0.0]]])  # p = (.5, .5) and (.75, .25)
    y = torch.tensor([[0, 1]])
    l1 = (1 - eps) * 1.0 * LN2 + eps / 2 * (1.0 + 3.0) * LN2
    l2 = (1 - eps) * 3.0 * -math.log(0.25) + eps / 2 * (1.0 * -math.log(0.75) + 3.0 * -math.log(0.25))
    got = weighted_cross_entropy(logits, y, w, eps)
    assert got.shape == (1,)
    assert float(got) == pytest.approx((l1 + l2) / (1.0 + 3.0), rel=1e-6)
    ref = torch.nn.CrossEntropyLoss(weight=w, label_smoothing=eps)(logits[0], y[0])
    assert float(got) == pytest.approx(float(ref), rel=1e-6)
    masked = weighted_cross_entropy(logits, y, w, eps, mask=torch.tensor([[True, False]]))
    assert float(masked) == pytest.approx(l1, rel=1e-6)
    # unweighted, no smoothing: the plain mean negative log-likelihood
    assert float(weighted_cross_entropy(logits, y)) == pytest.approx((LN2 - math.log(0.25)) / 2, rel=1e-6)


def test_kd_loss_by_hand():
    z = torch.zeros(1, 2, 8)
    p = torch.zeros(1, 2, 8)
    p[0, 0, 3] = 1.0  # KL(onehot || uniform) = log 8
    p[0, 1] = 1.0 / 8  # KL(uniform || uniform) = 0
    got = kd_loss(z, p, temperature=5.0)
    assert float(got) == pytest.approx(25.0 * math.log(8.0) / 2, rel=1e-6)
    assert float(kd_loss(z, p, 5.0, mask=torch.tensor([[False, True]]))) == pytest.approx(0.0, abs=1e-7)
    # the temperature divides the logits: T = 2, z = (2 ln 3, 0) -> q = (.75, .25)
    z2 = torch.tensor([[[2 * math.log(3.0), 0.0]]])
    p2 = torch.tensor([[[0.5, 0.5]]])
    kl = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)
    assert float(kd_loss(z2, p2, 2.0)) == pytest.approx(4.0 * kl, rel=1e-6)
    # the targets are tempered too: p = (.8, .2) at T = 2 is (2/3, 1/3); z = (2 ln 2, 0) gives z / T with
    # softmax (2/3, 1/3), so the loss is 0 (the older student-only form gave 4 KL((.8, .2) || (2/3, 1/3)) > 0)
    z3 = torch.tensor([[[2 * math.log(2.0), 0.0]]])
    assert float(kd_loss(z3, torch.tensor([[[0.8, 0.2]]]), 2.0)) == pytest.approx(0.0, abs=1e-6)
    # at T = 1: KL(p || softmax(z)) = cross-entropy to the votes minus their entropy
    p4, z4 = torch.tensor([[[0.7, 0.3]]]), torch.tensor([[[0.5, -0.25]]])
    q4 = torch.softmax(z4, -1)
    ce = -(p4 * q4.log()).sum() + (p4 * p4.log()).sum()
    assert float(kd_loss(z4, p4, 1.0)) == pytest.approx(float(ce), rel=1e-6)


@pytest.mark.slow
def test_kd_optimum_is_the_votes_at_every_temperature():
    # the case: votes 0.7 / 0.3; with the student alone tempered at T = 5 the optimum was 0.986 / 0.014
    p = torch.tensor([[[0.7, 0.3]]])
    for t in (1.0, 5.0):
        z = torch.zeros(1, 1, 2, requires_grad=True)
        opt = torch.optim.LBFGS([z], lr=1.0, max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-14)

        def closure():
            opt.zero_grad()
            loss = kd_loss(z, p, t)
            loss.backward()
            return loss

        opt.step(closure)
        np.testing.assert_allclose(torch.softmax(z.detach(), -1)[0, 0].numpy(), [0.7, 0.3], atol=1e-4)
        assert float(kd_loss(p.log(), p, t)) == pytest.approx(0.0, abs=1e-5)  # float32, times T^2


def test_proto_kd_by_hand():
    protos = np.array([[1.0, 0.0], [0.0, 1.0]])
    centres = np.array([[0.0, 0.0], [1.0, 0.0]])
    anchors = np.array([[0.0, 0.0], [1.0, 0.0]])
    pk = ProtoKD(protos, centres, anchors, target_temperature=1.0, student_temperature=0.5)
    t0 = np.array([1.0, math.exp(-1.0)]) / (1.0 + math.exp(-1.0))  # class 0: exp(-d^2 / 1) over the bins
    np.testing.assert_allclose(pk.targets()[0], t0, rtol=1e-6)
    e = torch.tensor([[[2.0, 0.0]]])  # cos = (1, 0); not unit norm: cosine ignores the scale
    q = np.array([math.exp(2.0), 1.0]) / (math.exp(2.0) + 1.0)  # softmax((1, 0) / 0.5)
    kl = float((t0 * np.log(t0 / q)).sum())
    assert float(pk(e, torch.tensor([[0]]))) == pytest.approx(kl, rel=1e-6)
    h = pk.target_entropy()
    assert h.shape == (2,) and np.all((h > 0) & (h <= 1))
    assert ProtoKD(protos, centres, anchors, target_temperature=1e4).target_entropy() == pytest.approx([1, 1], abs=1e-6)


def test_proto_kd_targets_follow_the_fer_anchors(tmp_path):
    g = _grid(tmp_path, n=5)
    pk = ProtoKD(g.as_array(), g.bin_centres(), target_temperature=0.1)
    nearest = np.argmax(pk.targets(), axis=1)
    # every class's most likely bin is the bin nearest its anchor
    d2 = ((fer_va_anchors()[:, None] - g.bin_centres()[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(nearest, d2.argmin(1))
    assert nearest[FER_CLASSES.index("neutral")] == 12  # the centre bin of a 5 x 5 grid
    # the published T_p = 5 makes the target nearly uniform (docs/distillation.md)
    assert ProtoKD(g.as_array(), g.bin_centres(), target_temperature=5.0).target_entropy().min() > 0.99


def test_dgeo_by_hand():
    hap, neu = FER_CLASSES.index("happiness"), FER_CLASSES.index("neutral")
    e = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]])
    y = torch.tensor([[hap, hap, neu]])
    # happiness: mean (.5, .5), variance .5 -> hinge .5 - .25; margin to neutral's mean (1, 0): 1 - sqrt(.5)
    got = dgeo_loss(e, y, cap=0.25, margin=1.0)
    assert float(got) == pytest.approx(0.25 + (1.0 - math.sqrt(0.5)), rel=1e-6)
    # within the cap and beyond the margin: zero
    assert float(dgeo_loss(e, y, cap=0.5, margin=0.5)) == pytest.approx(0.0, abs=1e-7)
    # no high-valence class in the batch: zero; masked samples do not count
    assert float(dgeo_loss(e, torch.tensor([[neu, neu, neu]]))) == 0.0
    # masking the second happy sample: one happy sample left (no variance term), its mean (1, 0) sits on
    # neutral's, so only the margin hinge remains, at its full value
    keep = torch.tensor([[True, False, True]])
    assert float(dgeo_loss(e, y, keep, cap=0.25, margin=1.0)) == pytest.approx(1.0, rel=1e-6)
    assert float(dgeo_loss(e, y, keep, cap=0.25, margin=0.5)) == pytest.approx(0.5, rel=1e-6)


def test_dgeo_variance_term_averages_over_classes_with_two_samples_or_more():
    """A high-valence class with one sample has no variance: it neither adds to the variance
    term nor dilutes the other classes' average."""
    hap, sur, neu = (FER_CLASSES.index(c) for c in ("happiness", "surprise", "neutral"))
    e = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [0.0, -1.0], [-1.0, 0.0]]])
    # happiness (1, 0) and (0, 1): variance .5, hinge .25; surprise alone; neutral far from both means
    y = torch.tensor([[hap, hap, sur, neu]])
    got = dgeo_loss(e, y, cap=0.25, margin=0.0)
    assert float(got) == pytest.approx(0.25, rel=1e-6)


def test_masked_losses_equal_the_losses_of_the_kept_samples(tmp_path):
    """A mask removes samples: the mean runs over the kept ones only, for every masked loss."""
    torch.manual_seed(0)
    M, b, C = 2, 6, len(FER_CLASSES)
    logits = torch.randn(M, b, C)
    soft = torch.softmax(torch.randn(M, b, C), -1)
    labels = torch.randint(0, C, (M, b))
    emb = torch.randn(M, b, 8)
    keep = torch.tensor([[True, False, True, True, False, True], [False, True, True, True, True, True]])
    g = _grid(tmp_path)
    pk = ProtoKD(g.as_array(), g.bin_centres())
    for m in range(M):
        k = keep[m]
        for loss, args in ((kd_loss, (logits, soft)), (weighted_cross_entropy, (logits, labels)),
                           (pk, (emb, labels))):
            masked = loss(*args, mask=keep)[m]
            alone = loss(*(a[m:m + 1, k] for a in args))[0]
            assert float(masked) == pytest.approx(float(alone), rel=1e-5), (loss, m)


def test_cosine_ramp():
    assert cosine_ramp(0.0) == 0.0 and cosine_ramp(0.2) == 0.0
    assert cosine_ramp(0.3) == pytest.approx(0.5 * (1 - math.cos(math.pi / 4)))
    assert cosine_ramp(0.4) == pytest.approx(0.5)
    assert cosine_ramp(0.6) == 1.0 and cosine_ramp(1.0) == 1.0


def _outputs(seed=0, b=12, dim=8, requires_grad=True):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(1, b, 8, generator=g).requires_grad_(requires_grad)
    emb = torch.randn(1, b, dim, generator=g).requires_grad_(requires_grad)
    y = torch.tensor([[1, 1, 2, 2, 0, 3, 4, 5, 6, 7, 1, 2]])[:, :b]
    votes = torch.softmax(torch.randn(1, b, 8, generator=g), -1)
    return logits, emb, y, votes


def test_distill_loss_arms_and_weights(tmp_path):
    g = _grid(tmp_path)
    logits, emb, y, votes = _outputs()
    out = {"logits": logits, "embedding": emb}
    cw = np.linspace(0.5, 1.5, 8).astype(np.float32)
    res = {}
    for arm in ARMS:
        loss = DistillLoss(g, arm, class_weights=cw, n_epochs=10)
        loss.epoch = 10
        res[arm] = loss(out, (y, votes))
        assert set(res[arm]) >= {"loss", *ARMS[arm]} and all(v.shape == (1,) for v in res[arm].values())
    r = res["B3"]
    ce = weighted_cross_entropy(logits, y, torch.as_tensor(cw), 0.055)
    kd = kd_loss(logits, votes, 1.0)  # DistillLoss's KD temperature (1: the votes' own cross-entropy)
    assert torch.allclose(r["ce"], ce) and torch.allclose(r["kd"], kd)
    assert torch.allclose(res["B0"]["loss"], ce)
    assert torch.allclose(res["B1"]["loss"], ce + 0.30 * kd)
    assert torch.allclose(res["B2"]["loss"], ce + 0.30 * kd + 0.12 * r["proto"])
    assert torch.allclose(r["loss"], ce + 0.30 * kd + 0.12 * r["proto"] + 0.012 * r["geo"])
    assert float(r["geo_weight"]) == 1.0 and float(r["geo"].detach()) > 0
    w = DistillLoss(g, "B3", weights={"geo": 1.0}, n_epochs=10)
    w.epoch = 10
    assert w.weights == {"kd": 0.30, "proto": 0.12, "geo": 1.0}
    with pytest.raises(ValueError, match="needs the prototype grid"):
        DistillLoss(None, "B2")
    with pytest.raises(ValueError, match="'arm' parameter"):
        DistillLoss(g, "B4")
    with pytest.raises(ValueError, match="unknown term"):
        DistillLoss(g, "B3", weights={"mse": 1.0})
    assert DistillLoss(None, "B0")(out, y)["loss"].shape == (1,)  # labels alone suffice for CE
    with pytest.raises(ValueError, match="labels alone"):
        DistillLoss(None, "B1")(out, y)


def test_dgeo_is_exactly_zero_before_its_ramp(tmp_path):
    g = _grid(tmp_path)
    b2, b3 = DistillLoss(g, "B2", n_epochs=100), DistillLoss(g, "B3", n_epochs=100)
    grads = {}
    for epoch in (0, 19, 20, 40, 60):
        b3.epoch = epoch
        for name, loss in (("B2", b2), ("B3", b3)):
            logits, emb, y, votes = _outputs()
            r = loss({"logits": logits, "embedding": emb}, (y, votes))
            r["loss"].sum().backward()
            grads[name] = (r["loss"].detach(), logits.grad.clone(), emb.grad.clone(), r)
        r3 = grads["B3"][3]
        assert float(r3["geo"].detach()) > 0  # the term itself is not zero...
        if epoch <= 20:  # ...but before the ramp (epoch 20 of 100 is its start) it adds nothing at all
            assert float(r3["geo_weight"]) == 0.0
            for a, b in zip(grads["B2"][:3], grads["B3"][:3]):
                assert torch.equal(a, b)
        else:
            assert float(r3["geo_weight"]) == pytest.approx(cosine_ramp(epoch / 100))
            assert not torch.equal(grads["B2"][2], grads["B3"][2])
    # the engine tells the loss the epoch it is about to train
    b3.set_epoch(60, 100)
    assert b3.epoch == 60 and b3.geo_weight() == 1.0


def test_gradients_reach_every_part_and_the_student(tmp_path):
    g = _grid(tmp_path)
    loss = DistillLoss(g, "B3", n_epochs=10)
    loss.epoch = 10
    for part, on in (("ce", "logits"), ("kd", "logits"), ("proto", "embedding"), ("geo", "embedding")):
        logits, emb, y, votes = _outputs()
        r = loss({"logits": logits, "embedding": emb}, (y, votes))
        r[part].sum().backward()
        grad = (logits if on == "logits" else emb).grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, part
    torch.manual_seed(0)
    student = FERStudent(proj_dim=8, in_size=8)
    x = torch.rand(12, 1, 8, 8)
    out = {k: v[None] for k, v in student.forward_outputs(x).items()}
    _, _, y, votes = _outputs()
    loss(out, (y, votes))["loss"].sum().backward()
    for name in ("backbone.conv1.weight", "final_layer.weight", "projector.weight", "backbone.layer4.1.conv2.weight"):
        p = dict(student.named_parameters())[name]
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_repr_is_stable_and_score_counts_hits(tmp_path):
    g = _grid(tmp_path)
    loss = DistillLoss(g, "B3", n_epochs=10)
    r0 = repr(loss)
    loss.epoch = 7
    assert repr(loss) == r0 and g.sha256 in r0  # the engine fingerprints it: no mutable state inside
    logits = torch.tensor([[[0.0, 1.0] + [0.0] * 6, [1.0] + [0.0] * 7]])
    y = torch.tensor([[1, 2]])
    assert loss.score({"logits": logits, "embedding": None}, (y, None)).tolist() == [1.0]
    assert loss.score({"logits": logits}, y, mask=torch.tensor([[False, True]])).tolist() == [0.0]


# --- Proto-KD's per-image mode (ours) beside the class-anchor mode (published) ------------------

def test_image_mode_target_and_loss_by_hand():
    """Image mode: the target is softmax_k(-||c_k - va_i||^2 / T_p) of each image's own V/A, not its class's."""
    protos = np.array([[1.0, 0.0], [0.0, 1.0]])
    centres = np.array([[0.0, 0.0], [1.0, 0.0]])
    anchors = np.array([[0.0, 0.0], [1.0, 0.0]])
    pk = ProtoKD(protos, centres, anchors, target_temperature=1.0, student_temperature=0.5, mode="image")
    # two images of class 0 (anchor (0, 0)) at va (0.5, 0) and (1, 0): d^2 = (.25, .25) and (1, 0)
    va = torch.tensor([[[0.5, 0.0], [1.0, 0.0]]])
    t1 = np.array([0.5, 0.5])
    t2 = np.array([math.exp(-1.0), 1.0]) / (1.0 + math.exp(-1.0))
    np.testing.assert_allclose(pk.targets(va[0].numpy()), [t1, t2], rtol=1e-6)
    e = torch.tensor([[[2.0, 0.0], [0.0, 3.0]]])  # cosines (1, 0) and (0, 1)
    q1 = np.array([math.exp(2.0), 1.0]) / (math.exp(2.0) + 1.0)
    q2 = q1[::-1]
    kl1, kl2 = float((t1 * np.log(t1 / q1)).sum()), float((t2 * np.log(t2 / q2)).sum())
    y = torch.tensor([[0, 0]])
    assert float(pk(e, y, va=va)) == pytest.approx((kl1 + kl2) / 2, rel=1e-6)
    # the class-anchor mode gives both images class 0's target (1, e^-1) / (1 + e^-1)
    t0 = np.array([1.0, math.exp(-1.0)]) / (1.0 + math.exp(-1.0))
    anchor = ProtoKD(protos, centres, anchors, target_temperature=1.0, student_temperature=0.5)
    kl_anchor = [float((t0 * np.log(t0 / q)).sum()) for q in (q1, q2)]
    assert float(anchor(e, y, va=va)) == pytest.approx(sum(kl_anchor) / 2, rel=1e-6)  # va is not read
    # without va: the vote-weighted anchors; votes (.5, .5) put the image at (0.5, 0) -> target (.5, .5)
    votes = torch.tensor([[[0.5, 0.5], [0.0, 2.0]]])  # rows are renormalised: the second sits at (1, 0)
    np.testing.assert_allclose(votes_va(votes, anchors).numpy(), va.numpy(), rtol=1e-6)
    assert float(pk(e, y, votes=votes)) == pytest.approx((kl1 + kl2) / 2, rel=1e-6)
    # the mask keeps the first image only
    assert float(pk(e, y, torch.tensor([[True, False]]), va=va)) == pytest.approx(kl1, rel=1e-6)
    # per-image entropies: the first target is uniform over the 2 bins
    np.testing.assert_allclose(pk.target_entropy(va[0].numpy())[0], 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="needs each image's"):
        pk(e, y)
    with pytest.raises(ValueError, match="'va' parameter"):
        pk(e, y, va=va[:, :1])
    with pytest.raises(ValueError, match="'mode' parameter. Allowed values are 'anchor', 'image'"):
        ProtoKD(protos, centres, anchors, mode="images")


def test_votes_va_is_the_vote_weighted_anchor():
    a = fer_va_anchors()
    votes = np.zeros((3, 8))
    votes[0, 1] = 7  # all happiness -> happiness's anchor
    votes[1, [2, 6]] = 5  # surprise and fear split -> their mean
    np.testing.assert_allclose(votes_va(votes), [a[1], (a[2] + a[6]) / 2, [0.0, 0.0]], atol=1e-12)
    t = votes_va(torch.as_tensor(votes, dtype=torch.float32))
    assert t.dtype == torch.float32 and torch.allclose(t, torch.as_tensor(votes_va(votes), dtype=torch.float32))
    with pytest.raises(ValueError, match="'votes' parameter"):
        votes_va(np.ones((2, 7)))
    with pytest.raises(ValueError, match=r"expected shape \(\.\.\., 8\)"):
        votes_va(torch.ones(2, 7))


def test_default_target_temperatures_and_their_entropy(tmp_path):
    """Anchor mode keeps the published T_p = 5 (near-uniform); image mode's default 0.05 is peaked."""
    g = _grid(tmp_path, n=5)
    assert DEFAULT_TARGET_TEMPERATURE == {"anchor": 5.0, "image": 0.05} and PROTO_MODES == ("anchor", "image")
    anchor = ProtoKD(g.as_array(), g.bin_centres())
    image = ProtoKD(g.as_array(), g.bin_centres(), mode="image")
    assert (anchor.target_temperature, image.target_temperature) == (5.0, 0.05)
    rng = np.random.default_rng(0)
    cls = rng.integers(0, 8, 500)
    va = fer_va_anchors()[cls] * rng.uniform(0.5, 1.0, (500, 1)) + rng.normal(0, 0.15, (500, 2))
    h = image.target_entropy(np.clip(va, -1, 1))
    assert 0.1 < h.mean() < 0.5 and anchor.target_entropy().min() > 0.99


def test_distill_loss_proto_modes(tmp_path):
    g = _grid(tmp_path, n=5)
    logits, emb, y, votes = _outputs()
    out = {"logits": logits, "embedding": emb}
    va = torch.rand(1, 12, 2) * 2 - 1
    anchor, image = DistillLoss(g, "B2"), DistillLoss(g, "B2", proto_mode="image")
    assert (anchor.target_temperature, image.target_temperature) == (5.0, 0.05)
    assert not anchor.needs_va and image.needs_va and not DistillLoss(g, "B1", proto_mode="image").needs_va
    assert "proto_mode='anchor'" in repr(anchor) and "proto_mode='image'" in repr(image)
    # anchor mode does not read va: the same numbers with or without it
    a2, a3 = anchor(out, (y, votes)), anchor(out, (y, votes, va))
    assert all(torch.equal(a2[k], a3[k]) for k in a2)
    # image mode: va when given, else the vote-weighted anchors of the votes
    i3 = image(out, (y, votes, va))
    assert torch.allclose(i3["proto"], image.proto(emb, y, va=va))
    assert torch.allclose(i3["loss"], i3["ce"] + 0.30 * i3["kd"] + 0.12 * i3["proto"])
    i2 = image(out, (y, votes))
    assert torch.allclose(i2["proto"], image.proto(emb, y, va=votes_va(votes)))
    assert not torch.allclose(i2["proto"], i3["proto"]) and not torch.allclose(i2["proto"], a2["proto"])
    with pytest.raises(ValueError, match="'proto_mode' parameter"):
        DistillLoss(g, "B2", proto_mode="per-image")
    with pytest.raises(ValueError, match="'target_temperature' parameter"):
        DistillLoss(None, "B0", target_temperature=0.0)
