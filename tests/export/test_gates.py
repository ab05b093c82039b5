"""The tensor gates on a detector's outputs: objects compared one to one whatever order near-equal scores give them,
and masks by the share of pixels that moved."""

import torch

from foveal.export.gates import MASK_SHARE, tensor_gates


class Fixed(torch.nn.Module):
    """A one-image 'detector' answering fixed boxes, labels, scores and masks."""

    one_image, detections, masks_at = True, True, 3

    def __init__(self, boxes, labels, scores, masks) -> None:
        super().__init__()
        self.out = (torch.tensor(boxes), torch.tensor(labels), torch.tensor(scores), masks)

    def forward(self, x):
        return self.out


def masks_of(*boxes):
    m = torch.zeros(len(boxes), 1, 40, 40)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        m[i, 0, y0:y1, x0:x1] = 0.9
    return m


BOXES = [[1.0, 1.0, 8.0, 8.0], [10.0, 10.0, 18.0, 18.0]]
EAGER = Fixed(BOXES, [1, 2], [0.5000, 0.4999], masks_of((1, 1, 8, 8), (10, 10, 18, 18)))
ONE = {"batch 1": torch.zeros(1, 3, 20, 20)}


def test_objects_of_near_equal_scores_in_the_other_order_pass():
    swapped = Fixed(BOXES[::-1], [2, 1], [0.49995, 0.49994], masks_of((10, 10, 18, 18), (1, 1, 8, 8)))
    gates = tensor_gates(EAGER, swapped, ONE, int8=False)
    assert all(g.passed for g in gates), [g.line() for g in gates]


def test_a_box_that_moved_fails():
    moved = Fixed([[1.0, 1.0, 8.0, 8.0], [10.0, 10.0, 18.5, 18.0]], [1, 2], [0.5, 0.4999],
                  masks_of((1, 1, 8, 8), (10, 10, 18, 18)))
    outputs, masks = tensor_gates(EAGER, moved, ONE, int8=False)
    assert not outputs.passed and masks.passed


def test_masks_pass_a_border_pixel_and_noise_about_one_half_and_fail_a_shifted_mask():
    border = masks_of((1, 1, 8, 8), (10, 10, 18, 18))
    border[1, 0, 10, 18] = 0.9  # one pixel of 3,200
    assert all(g.passed for g in tensor_gates(EAGER, Fixed(BOXES, [1, 2], [0.5, 0.4999], border), ONE, int8=False))
    halves = torch.full((2, 1, 40, 40), 0.5)  # an untrained mask head: noise flips the 0.5 threshold everywhere
    untrained = Fixed(BOXES, [1, 2], [0.5, 0.4999], halves)
    noise = 1e-5 * torch.randn(2, 1, 40, 40, generator=torch.Generator().manual_seed(0))
    noisy = Fixed(BOXES, [1, 2], [0.5, 0.4999], halves + noise)
    assert all(g.passed for g in tensor_gates(untrained, noisy, ONE, int8=False))
    shifted = Fixed(BOXES, [1, 2], [0.5, 0.4999], masks_of((1, 1, 8, 8), (12, 10, 20, 18)))
    outputs, masks = tensor_gates(EAGER, shifted, ONE, int8=False)
    assert outputs.passed and not masks.passed and masks.value > MASK_SHARE


def test_the_mask_of_a_box_under_a_pixel_wide_is_left_out():
    thin = Fixed([[30.0, 1.0, 30.1, 30.0]], [1], [0.5], masks_of((30, 1, 31, 20)))
    longer = Fixed([[30.0, 1.0, 30.1, 30.0]], [1], [0.5], masks_of((30, 1, 31, 39)))
    assert all(g.passed for g in tensor_gates(thin, longer, ONE, int8=False))
    wide = Fixed([[30.0, 1.0, 32.0, 30.0]], [1], [0.5], masks_of((30, 1, 31, 20)))
    assert not tensor_gates(wide, Fixed([[30.0, 1.0, 32.0, 30.0]], [1], [0.5], masks_of((30, 1, 31, 39))), ONE,
                            int8=False)[1].passed
