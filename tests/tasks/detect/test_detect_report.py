"""A detection run's curves: the loss, the validation mAP and the loss components, no empty panel."""


def test_curves_show_map_and_the_loss_components(tiny_runs, panels_with_lines):
    assert panels_with_lines(tiny_runs["detect"] / "curves.png", 3) == [True, True, True]
