"""A segmentation run's curves: the loss, the validation mIoU and the pixel accuracy, no empty panel."""


def test_curves_show_miou_and_pixel_accuracy(tiny_runs, panels_with_lines):
    assert panels_with_lines(tiny_runs["segment"] / "curves.png", 3) == [True, True, True]
