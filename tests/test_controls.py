import pytest
import torch

from m2pt import build_model, cross_modal_layers, reparameterize
from m2pt.controls import control_weights, is_control, resolve_aux, resolve_aux_list


@pytest.fixture
def aux():
    return build_model("audio").state_dict()


def matrices(weights):
    return {k: v for k, v in weights.items() if k.startswith("blocks.") and v.dim() == 2}


@pytest.mark.parametrize("kind", ["random", "norm_matched", "shuffled"])
def test_controls_keep_the_shapes_of_every_block_matrix(aux, kind):
    control = control_weights(kind, aux, seed=0)
    assert {k: v.shape for k, v in control.items()} == {k: v.shape for k, v in matrices(aux).items()}
    assert all(not torch.equal(control[k], aux[k]) for k in control)


def test_norm_matched_has_the_auxiliary_norm_of_every_matrix(aux):
    control = control_weights("norm_matched", aux, seed=0)
    for key, value in control.items():
        torch.testing.assert_close(value.norm(), aux[key].norm(), rtol=1e-5, atol=0)
    random = control_weights("random", aux, seed=0)
    torch.testing.assert_close(control["blocks.0.mlp.fc1.weight"] / random["blocks.0.mlp.fc1.weight"].norm(),
                               random["blocks.0.mlp.fc1.weight"] / random["blocks.0.mlp.fc1.weight"].norm() *
                               (aux["blocks.0.mlp.fc1.weight"].norm() / random["blocks.0.mlp.fc1.weight"].norm()))  # fmt: skip


def test_shuffled_keeps_the_multiset_of_entries(aux):
    control = control_weights("shuffled", aux, seed=0)
    for key, value in control.items():
        assert torch.equal(value.flatten().sort().values, aux[key].flatten().sort().values)


def test_random_control_matches_timm_initialisation_scale(aux):
    control = control_weights("random", aux, seed=0)
    stds = torch.stack([v.std() for v in control.values()])
    assert torch.allclose(stds, torch.full_like(stds, 0.02), rtol=0.1)


def test_controls_are_seeded_and_leave_the_global_generator_alone(aux):
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    a = control_weights("shuffled", aux, seed=1)
    assert torch.equal(torch.rand(3), expected)
    b = control_weights("shuffled", aux, seed=1)
    c = control_weights("shuffled", aux, seed=2)
    assert all(torch.equal(a[k], b[k]) for k in a) and not torch.equal(
        a["blocks.0.attn.qkv.weight"], c["blocks.0.attn.qkv.weight"]
    )


def test_specs_resolve_anywhere_an_aux_checkpoint_is(tmp_path, aux):
    from m2pt import save_checkpoint

    path = save_checkpoint(tmp_path / "aux.safetensors", aux, {"modality": "audio"})
    target = build_model("image").state_dict()
    assert resolve_aux(str(path), target, 0).layout == "m2pt"
    assert resolve_aux("random", target, 0).layout == "control:random"
    shuffled = resolve_aux(f"shuffled:{path}", target, 0)
    assert shuffled.layout == "control:shuffled" and "aux.safetensors" in shuffled.source
    assert [is_control(s) for s in ("random", f"norm_matched:{path}", str(path), "random.safetensors")] == [
        True,
        True,
        False,
        False,
    ]
    two = resolve_aux_list([f"shuffled:{path}", f"shuffled:{path}"], target, seed=0)
    assert not torch.equal(two[0]["blocks.0.attn.qkv.weight"], two[1]["blocks.0.attn.qkv.weight"])
    model = reparameterize(build_model("image"), two)
    assert all(layer.lambdas.shape == (2,) for layer in cross_modal_layers(model).values())


def test_unknown_control(aux):
    with pytest.raises(ValueError, match="unknown control 'noise'"):
        control_weights("noise", aux, 0)
