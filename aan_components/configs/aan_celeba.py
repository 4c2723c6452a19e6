# AAN on CelebA (5 points, in-the-wild images): the paper's recipe (Sec. 4.2); train = the
# official train + val partitions, test = the test partition; NME normalised by the distance
# of the eye centres (points 0 and 1). Paper: NME 2.99.
#   aan convert celeba RAW data/celeba && mim train mmpose mm_configs/aan_celeba.py
_base_ = ['./_base_/aan_recipe.py']

num_joints = 5
model = dict(head=dict(num_joints=num_joints))

dataset_type = 'CelebADataset'
data_root = 'data/celeba/'
train_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root,
    ann_file='annotations/face_landmarks_celeba_train.json'))
val_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root,
    ann_file='annotations/face_landmarks_celeba_test.json'))
test_dataloader = val_dataloader

# CelebA's points are the eye centres themselves: inter-ocular = inter-pupil here.
val_evaluator = dict(type='FaceAlignmentMetric', norm_mode='inter_ocular', norm_indices=(0, 1))
test_evaluator = val_evaluator
