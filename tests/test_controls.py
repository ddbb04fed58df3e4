"""Controls: the weights a run reads at every step (update merges layer mappings, replace switches the rest off)."""

from __future__ import annotations

from nstcore import Controls, StyleConfig


def test_update_merges_and_replace_switches_left_out_layers_off() -> None:
    weights = StyleConfig(weights="random").loss_weights()
    controls = Controls(weights, lr=0.02)
    controls.update(style_layers={"conv1_1": 0.5})
    merged = controls.read().variants[0].style_layers
    assert merged["conv1_1"] == 0.5 and merged["conv2_1"] == 1.0
    controls.replace(style_layers={"conv2_1": 2.0}, beta=5.0)
    state = controls.read()
    replaced = state.variants[0].style_layers
    assert replaced == {"conv1_1": 0.0, "conv2_1": 2.0, "conv3_1": 0.0, "conv4_1": 0.0, "conv5_1": 0.0}
    assert state.variants[0].beta == 5.0 and state.version == 2
