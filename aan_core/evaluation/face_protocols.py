"""The paper's test splits of 300W and 300VW, in one place: the converters write them and
``FaceAlignmentMetric`` reports them (docs/reproducing.md, "Dataset protocols")."""

from __future__ import annotations

__all__ = ["FACE300VW_CATEGORIES", "FACE300W_PROTOCOL", "FACE300W_SOURCES",
           "FACE300W_SOURCE_FACES", "FACE300W_SPLIT_SOURCES", "face300vw_split",
           "subset_patterns"]

# 300W, the one table of its protocol (Sec. 4.1): source folder -> (the part it belongs to,
# its faces in the 300-W release). The paper trains on the train folders (3,148 faces) and
# tests on common (554), challenging (135) and full (common + challenging, 689).
FACE300W_PROTOCOL = {
    "afw": ("train", 337), "helen/trainset": ("train", 2000), "lfpw/trainset": ("train", 811),
    "helen/testset": ("common", 330), "lfpw/testset": ("common", 224),
    "ibug": ("challenging", 135),
}
# views of it: folder -> part, folder -> faces, split -> the folders it is made of
FACE300W_SOURCES = {folder: part for folder, (part, _) in FACE300W_PROTOCOL.items()}
FACE300W_SOURCE_FACES = {folder: faces for folder, (_, faces) in FACE300W_PROTOCOL.items()}
FACE300W_SPLIT_SOURCES = {
    split: tuple(f for f, part in FACE300W_SOURCES.items() if part in parts)
    for split, parts in (("train", {"train"}), ("common", {"common"}),
                         ("challenging", {"challenging"}), ("full", {"common", "challenging"}))}

# 300VW test videos by category; every other video is a training video
FACE300VW_CATEGORIES = {
    "category1": ["114", "124", "125", "126", "150", "158", "401", "402", "505", "506", "507",
                  "508", "509", "510", "511", "514", "515", "518", "519", "520", "521", "522",
                  "524", "525", "537", "538", "540", "541", "546", "547", "548"],
    "category2": ["203", "208", "211", "212", "213", "214", "218", "224", "403", "404", "405",
                  "406", "407", "408", "409", "412", "550", "551", "553"],
    "category3": ["410", "411", "516", "517", "526", "528", "529", "530", "531", "533", "557",
                  "558", "559", "562"],
}
_CATEGORY_OF_VIDEO = {v: c for c, videos in FACE300VW_CATEGORIES.items() for v in videos}


def face300vw_split(video: str) -> str:
    """``'category1'``-``'category3'`` for a test video, ``'train'`` otherwise."""
    return _CATEGORY_OF_VIDEO.get(video, "train")


def subset_patterns(dataset: str) -> dict[str, str]:
    """Regexes, searched in image paths, of the test subsets of ``'300w'`` (common,
    challenging: by source folder) or ``'300vw'`` (category1-3: ``<video>/[imgs/]<frame>``,
    the converter's layout and MMPose's)."""
    if dataset == "300w":
        groups = {"common": [], "challenging": []}
        for folder, part in FACE300W_SOURCES.items():
            if part in groups:
                groups[part].append(folder)
        return {part: rf"(?:^|/)(?:{'|'.join(folders)})/[^/]+$"
                for part, folders in groups.items()}
    if dataset == "300vw":
        return {c: rf"(?:^|/)(?:{'|'.join(videos)})/(?:imgs/)?[^/]+$"
                for c, videos in FACE300VW_CATEGORIES.items()}
    raise KeyError(dataset)
