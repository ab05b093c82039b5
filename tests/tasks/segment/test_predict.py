import pytest
import torch
import torch.nn.functional as F

from foveal.tasks.segment.predict import arg_max_at


def resized_arg_max(logits: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(logits[None], size=size, mode="bilinear", align_corners=False)[0].argmax(0)


@pytest.mark.parametrize("size", [(30, 40), (17, 23), (61, 80)])
def test_the_class_map_is_the_resized_logits_arg_max_ties_included(size):
    torch.manual_seed(0)
    logits = torch.randint(0, 3, (21, 30, 40)).float()  # few values: many ties between classes
    assert torch.equal(arg_max_at(logits, size), resized_arg_max(logits, size))
    # as a channels-last network gives them (torch resizes those with another kernel, equal to ~1e-7)
    last = logits[None].contiguous(memory_format=torch.channels_last)[0]
    assert torch.equal(arg_max_at(last, size), resized_arg_max(last, size))
