"""week06's ban: torchvision.transforms (center_crop, hflip, normalize) is charged to the function
that reaches it, and only to it, whichever way it is spelled."""

from __future__ import annotations

from support import ROOT, by_function, grade_folders, make_submission
from week06_support import reference_source
from grader.course import Course

WEEK = Course(ROOT).week("week06")


def test_torchvision_transforms_are_banned_per_function(tmp_path):
    source = reference_source(WEEK)
    old = "    return images[..., top:top + h, left:left + w].clone()\n"
    assert source.count(old) == 1
    crop = source.replace(old, "    import torchvision.transforms.functional as TF\n"
                               "    return TF.center_crop(images, [h, w])\n")
    old = "    return images.flip(-1)\n"
    flip = source.replace(old, "    from torchvision.transforms import functional\n"
                               "    return functional.hflip(images)\n")
    results = grade_folders(WEEK, {"crop": make_submission(tmp_path, "crop", crop, "transfer"),
                                   "flip": make_submission(tmp_path, "flip", flip, "transfer")}, seed=0)
    for name, function in (("crop", "center_crop"), ("flip", "hflip")):
        scores = by_function(results[name])
        assert scores[function][0] == 0.0, scores
        assert all(got == top for f, (got, top) in scores.items() if f != function), scores
        assert any(t["status"] == "banned" for t in results[name]["tests"] if t["function"] == function)
