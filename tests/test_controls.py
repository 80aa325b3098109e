import pytest
import torch

from m2pt import build_model, cross_modal_layers, reparameterize
from m2pt.controls import AuxSpec, control_weights, is_control, resolve_aux, resolve_aux_list


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


def test_a_difference_at_lambda_one_gives_the_fine_tuned_blocks(tmp_path):
    """Known answer: the target starts from the base, and W + 1 · (W_ft - W_base) is W_ft."""
    from m2pt import merge, save_checkpoint

    torch.manual_seed(0)
    base, tuned = build_model("image"), build_model("image")
    base_path = save_checkpoint(tmp_path / "base.safetensors", base.state_dict(), {"modality": "image"})
    tuned_path = save_checkpoint(tmp_path / "tuned.safetensors", tuned.state_dict(), {"modality": "image"})
    spec = f"difference:{tuned_path},{base_path}"
    assert str(AuxSpec.parse(spec)) == spec and not is_control(spec)
    delta = resolve_aux(spec, base.state_dict(), seed=0)
    assert delta.layout == "difference" and delta.keys() == matrices(tuned.state_dict()).keys()
    model = reparameterize(build_model("image"), delta, lambda_init=1.0)
    model.load_state_dict(base.state_dict(), strict=False)  # the pretrained setting: W starts as the base
    for key, weight in matrices(merge(model).state_dict()).items():
        torch.testing.assert_close(weight, tuned.state_dict()[key], msg=key)


def test_a_difference_names_two_checkpoints_of_the_same_blocks(tmp_path):
    from m2pt import save_checkpoint

    with pytest.raises(ValueError, match="difference:<checkpoint>,<base>"):
        AuxSpec.parse("difference:only_one")
    assert AuxSpec.parse("difference:a,b").renamed({"a": "x.safetensors", "b": "y.safetensors"}).sources == (
        "x.safetensors",
        "y.safetensors",
    )
    image = save_checkpoint(tmp_path / "image.safetensors", build_model("image").state_dict(), {"modality": "image"})
    wide = build_model("image", embed_dim=48, num_heads=3)
    other = save_checkpoint(tmp_path / "wide.safetensors", wide.state_dict(), {"modality": "image"})
    with pytest.raises(ValueError, match="has shape"):
        resolve_aux(f"difference:{image},{other}", build_model("image").state_dict(), 0)
