# AAN on 300VW (68 points, video frames): the paper's recipe (Sec. 4.2); train on the 50
# training videos, test on categories 1 / 2 / 3 (one run reports each). Normalisation: the
# paper does not say; inter-ocular (outer eye corners), the 300VW challenge's choice.
# Paper: 5.03 / 4.82 / 7.98. Frames: every annotated frame (the 300VW protocol); MMPose's json
# leaves out its broken_frames.npy (2,127 frames, 1,349 in category 3): `aan convert 300vw
# --exclude-broken-frames PATH` does the same; the two give numbers that are not comparable.
#   aan convert 300vw RAW data/300vw && mim train mmpose mm_configs/aan_300vw.py
_base_ = ['./_base_/aan_recipe.py']

num_joints = 68
model = dict(head=dict(num_joints=num_joints))

dataset_type = 'AANFace300VWDataset'  # MMPose's Face300VWDataset; no data: says how to get it
data_root = 'data/300vw/'
train_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root,
    ann_file='annotations/face_landmarks_300vw_train.json'))
val_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root,
    ann_file='annotations/face_landmarks_300vw_test.json'))  # categories 1-3 together
test_dataloader = val_dataloader

val_evaluator = dict(type='FaceAlignmentMetric', norm_mode='inter_ocular', subsets='300vw')
test_evaluator = val_evaluator
