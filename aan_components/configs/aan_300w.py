# AAN on 300W (68 points): the paper's recipe (Sec. 4.2).
#   mim train mmpose mm_configs/aan_300w.py
# Data: `aan convert 300w RAW data/300w` (docs/reproducing.md); MMPose's released 300W
# files work too (ann_file face_landmarks_300w_train.json / _valid.json: the same full set).
# Model, loss, schedule and data handling: _base_/aan_recipe.py.
_base_ = ['./_base_/aan_recipe.py']

num_joints = 68
model = dict(head=dict(num_joints=num_joints))

dataset_type = 'AANFace300WDataset'  # MMPose's Face300WDataset; no data: says how to get it
data_root = 'data/300w/'

train_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root,
    ann_file='annotations/face_landmarks_300w_train.json'))
val_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root,
    # full set (common + challenging, 689); the metric reports each subset too
    ann_file='annotations/face_landmarks_300w_full.json'))
test_dataloader = val_dataloader

# Per-image NME, CED, AUC/FR@0.08/0.1 on full / common / challenging from one run, with both
# normalisations (the paper's 4.38 / 9.44 / 5.39 sit near the inter-pupil scale of later
# papers: docs/reproducing.md):
# inter-ocular = outer eye corners 36/45 ("NME"), inter-pupil = eye
# centres ("inter_pupil/NME").
val_evaluator = [
    dict(type='FaceAlignmentMetric', norm_mode='inter_ocular', subsets='300w'),
    dict(type='FaceAlignmentMetric', norm_mode='inter_pupil', subsets='300w',
         prefix='inter_pupil'),
]
test_evaluator = val_evaluator
