# AAN on AFLW (19 points, the 21 minus the ears): the paper's recipe (Sec. 4.2) and protocol
# (20,000 train / 4,386 test, NME normalised by the face box size). Paper: NME 1.73.
#   aan convert aflw RAW data/aflw && mim train mmpose mm_configs/aan_aflw.py
_base_ = ['./_base_/aan_recipe.py']

num_joints = 19
model = dict(head=dict(num_joints=num_joints))

dataset_type = 'AANAFLWDataset'  # MMPose's AFLWDataset; no data: says how to get it
data_root = 'data/aflw/'
train_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root,
    ann_file='annotations/face_landmarks_aflw_train.json'))
val_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root,
    ann_file='annotations/face_landmarks_aflw_test.json'))  # full test set, 4,386 faces
test_dataloader = val_dataloader

# box size: the json's box_size (our converter: sqrt(w * h) of AFLWinfo's box; MMPose's released
# json: scale x 200). AFLWDataset reads it in test mode and the test pipeline packs it
# (PackPoseInputs meta_keys, _base_/aan_recipe.py); the metric refuses a sample without it
# rather than use MMPose's square box (the longer side). Per-image NME over the labelled
# points (AFLW has missing points; MMPose's NME would pool points over images instead).
val_evaluator = dict(type='FaceAlignmentMetric', norm_mode='box_size')
test_evaluator = val_evaluator
